/* `parley kb sync`; see cli_kb_sync.h. */
#include "bot/cli_kb_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "bot/auth_token.h"
#include "bot/cli_admin.h"
#include "bot/kb_s3_plan.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/aws_request.h"
#include "connectors/aws_sigv4.h"
#include "connectors/http_client.h"
#include "connectors/s3_address.h"
#include "connectors/s3_list.h"
#include "knowledge/kb_chunk.h"
#include "sessions/kb_store.h"

#define PROG        "parley kb sync"
#define LIST_MAX    (16u << 20) /* bytes of one listing page (1000 keys of 1 KiB, escaped) */
#define PAGES_MAX   100000      /* pages of one listing: 100 million keys */
#define S3_TIMEOUT  60000L
#define API_TIMEOUT 60000L

struct sync {
    const struct cli_kb_sync_opts *o;
    char bucket[64];
    char prefix[1025];
    char region[PL_SIGV4_MAX_SCOPE_PART + 1];
    struct s3_address addr; /* where requests go, for the current region */
    /* Credentials copied out of the credentials source (never printed). */
    char *key_id, *secret_key, *token;
    CURL *curl;
};

/* ---- credentials and region ---- */

struct wait_done {
    bool done;
};

static void on_creds_ready(void *ud)
{
    ((struct wait_done *)ud)->done = true;
}

/* The credentials the server would find (environment, profile, container endpoint, instance
 * metadata), from a credentials source run on a loop of our own until it has them. */
static int load_credentials(struct sync *s, char *profile_region, size_t prlen)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct http_client *hc = NULL;
    struct aws_credentials *ac = NULL;
    char why[256] = "";
    int rc = http_client_create(&loop, &hc);
    if (rc == PL_OK) {
        struct aws_credentials_options o = {.loop = &loop, .http = hc};
        rc = aws_credentials_create(&o, &ac, why, sizeof(why));
    }
    struct pl_sigv4_creds c = {0};
    const char *detail = NULL;
    if (rc == PL_OK) {
        rc = aws_credentials_get(ac, &c, &detail);
        if (rc == PL_EBUSY) {
            struct wait_done w = {false};
            aws_credentials_wait(ac, on_creds_ready, &w);
            while (!w.done && uv_run(&loop, UV_RUN_ONCE))
                ;
            rc = aws_credentials_get(ac, &c, &detail);
        }
        if (rc != PL_OK)
            snprintf(why, sizeof(why), "%s: %s", aws_credentials_source_name(ac),
                     detail ? detail : "no credentials");
    }
    if (rc == PL_OK) {
        s->key_id = pl_strdup(c.access_key_id);
        s->secret_key = pl_strdup(c.secret_access_key);
        s->token = c.session_token && *c.session_token ? pl_strdup(c.session_token) : NULL;
        printf("AWS credentials from the %s\n", aws_credentials_source_name(ac));
        const char *pr = aws_credentials_profile_region(ac);
        snprintf(profile_region, prlen, "%s", pr ? pr : "");
    } else {
        fprintf(stderr,
                PROG ": no AWS credentials: %s\n" PROG
                     ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with "
                     "~/.aws/credentials, or run where a container or instance role applies\n",
                why[0] ? why : "none found");
    }
    aws_credentials_destroy(ac);
    http_client_destroy(hc);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- addressing ---- */

/* Address the bucket in the current region (connectors/s3_address.h). */
static int set_address(struct sync *s)
{
    if (s3_address_set(&s->addr, s->bucket, s->region, s->o->endpoint) == PL_OK)
        return PL_OK;
    fprintf(stderr, PROG ": --endpoint expects http(s)://HOST[:PORT][/PATH]\n");
    return PL_EINVAL;
}

/* ---- S3 requests ---- */

struct s3_reply {
    long status;
    struct pl_buf body;
    char etag[KB_STORE_ETAG_MAX + 1];
    char bucket_region[64];
    char curl_error[CURL_ERROR_SIZE];
    bool too_big; /* the body passed its bound: the transfer was stopped */
};

static size_t on_s3_body(char *p, size_t size, size_t n, void *ud)
{
    struct s3_reply *r = ud;
    if (pl_buf_append(&r->body, p, size * n) != PL_OK) {
        r->too_big = true;
        return 0; /* curl stops the transfer */
    }
    return size * n;
}

static size_t on_s3_header(char *p, size_t size, size_t n, void *ud)
{
    struct s3_reply *r = ud;
    size_t len = size * n;
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } want[] = {{"etag:", r->etag, sizeof(r->etag)},
                {"x-amz-bucket-region:", r->bucket_region, sizeof(r->bucket_region)}};
    for (size_t i = 0; i < 2; i++) {
        size_t nl = strlen(want[i].name);
        if (len > nl && !strncasecmp(p, want[i].name, nl)) {
            const char *v = p + nl;
            size_t vl = len - nl;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            if (vl < want[i].cap) {
                memcpy(want[i].dst, v, vl);
                want[i].dst[vl] = '\0';
            }
        }
    }
    return len;
}

/* GET `path?query` (both as sent) signed for S3; PL_OK with the reply (any status), PL_EIO
 * when no answer came (r->curl_error says why), PL_ETOOBIG when its body passed `max`. */
static int s3_get(struct sync *s, const char *path, const char *query, size_t max,
                  struct s3_reply *r)
{
    memset(r, 0, sizeof(*r));
    pl_buf_init(&r->body, max);
    struct pl_sigv4_header hs[] = {{"host", s->addr.host}};
    struct pl_sigv4_request req = {.method = "GET",
                                   .path = path,
                                   .query = query,
                                   .headers = hs,
                                   .n_headers = 1,
                                   .payload = "",
                                   .payload_len = 0,
                                   .region = s->region,
                                   .service = "s3",
                                   .time = time(NULL),
                                   .flags = PL_SIGV4_S3_PATH | PL_SIGV4_CONTENT_SHA256};
    struct pl_sigv4_creds creds = {s->key_id, s->secret_key, s->token};
    struct aws_request_headers lines;
    int rc = aws_request_headers_sign(&lines, &req, &creds);
    if (rc != PL_OK) {
        aws_request_headers_cleanup(&lines);
        snprintf(r->curl_error, sizeof(r->curl_error), "the request cannot be signed (%s)",
                 rc == PL_ETOOBIG ? "too long" : "bad input");
        return PL_EIO;
    }
    struct pl_buf url;
    pl_buf_init(&url, 64 * 1024);
    pl_buf_printf(&url, "%s%s%s%s", s->addr.base, path, query && *query ? "?" : "",
                  query ? query : "");
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < lines.n; i++)
        h = curl_slist_append(h, lines.lines[i]);
    CURL *k = s->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url.data);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_s3_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_s3_header);
    curl_easy_setopt(k, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, r->curl_error);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, S3_TIMEOUT);
    CURLcode cc = curl_easy_perform(k);
    if (cc == CURLE_OK)
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &r->status);
    else if (!r->curl_error[0])
        snprintf(r->curl_error, sizeof(r->curl_error), "%s", curl_easy_strerror(cc));
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h);
    pl_buf_cleanup(&url);
    aws_request_headers_cleanup(&lines);
    if (r->too_big)
        return PL_ETOOBIG;
    return cc == CURLE_OK ? PL_OK : PL_EIO;
}

/* What to do about an S3 error code, for the operator. */
static const char *error_hint(const char *code)
{
    static const struct {
        const char *code, *hint;
    } hints[] = {
        {"NoSuchBucket", "no bucket has that name: check the spelling (bucket names are global)"},
        {"AccessDenied",
         "these credentials may not read it: allow s3:ListBucket on the bucket (for the prefix) "
         "and s3:GetObject on the prefix's objects (docs/knowledge.md, \"Syncing from S3\")"},
        {"AllAccessDisabled", "all access to this bucket is disabled: ask its owner"},
        {"InvalidAccessKeyId",
         "AWS does not know this access key id: check AWS_ACCESS_KEY_ID or the profile"},
        {"SignatureDoesNotMatch",
         "the secret access key does not match the key id: check AWS_SECRET_ACCESS_KEY or the "
         "profile"},
        {"ExpiredToken", "the session token has expired: get new temporary credentials"},
        {"InvalidToken", "the session token is not valid: check AWS_SESSION_TOKEN"},
        {"RequestTimeTooSkewed", "this machine's clock is off: synchronise it (NTP)"},
        {"NoSuchKey", "the object went away during the sync: the next sync deletes its copy"},
        {"SlowDown", "S3 is throttling: run the sync again later"},
    };
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (!strcmp(code, hints[i].code))
            return hints[i].hint;
    return NULL;
}

/* One line for a failed S3 answer: status, code, message, and what to do. */
static void describe(const struct s3_reply *r, char *out, size_t outlen)
{
    struct s3_error e;
    if (s3_error_parse(r->body.data, r->body.len, &e) == PL_OK) {
        const char *hint = error_hint(e.code);
        snprintf(out, outlen, "HTTP %ld %s: %s%s%s", r->status, e.code,
                 e.message[0] ? e.message : "(no message)", hint ? "; " : "", hint ? hint : "");
    } else {
        snprintf(out, outlen, "HTTP %ld (no S3 error in the answer)", r->status);
    }
}

/* The region S3 says the bucket is in, from a wrong-region answer: true with it in `out`. */
static bool redirect_region(const struct s3_reply *r, char *out, size_t outlen)
{
    out[0] = '\0';
    struct s3_error e;
    bool parsed = s3_error_parse(r->body.data, r->body.len, &e) == PL_OK;
    bool moved = r->status == 301 || r->status == 307 ||
                 (parsed && (!strcmp(e.code, "AuthorizationHeaderMalformed") ||
                             !strcmp(e.code, "PermanentRedirect") ||
                             !strcmp(e.code, "IllegalLocationConstraintException")));
    if (!moved)
        return false;
    if (r->bucket_region[0])
        snprintf(out, outlen, "%s", r->bucket_region);
    else if (parsed && e.region[0])
        snprintf(out, outlen, "%s", e.region);
    return out[0] != '\0';
}

/* ---- the listing ---- */

struct listing {
    struct s3_list_page *pages;
    size_t n_pages;
    struct kb_s3_object *objects;
    size_t n;
};

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n_pages; i++)
        s3_list_page_cleanup(&l->pages[i]);
    pl_free(l->pages);
    pl_free(l->objects);
}

static int list_bucket(struct sync *s, struct listing *l)
{
    char *token = NULL;
    bool retried = false;
    int rc = PL_OK;
    memset(l, 0, sizeof(*l));
    for (;;) {
        struct pl_buf q, path;
        pl_buf_init(&q, 64 * 1024);
        pl_buf_init(&path, 16 * 1024);
        s3_list_query(s->prefix, token, &q);
        s3_address_path(&s->addr, NULL, &path);
        struct s3_reply r;
        rc = s3_get(s, path.data, q.data, LIST_MAX, &r);
        pl_buf_cleanup(&q);
        pl_buf_cleanup(&path);
        char why[1024], where[64];
        if (rc == PL_ETOOBIG) {
            fprintf(stderr, PROG ": a page of the listing passed 16 MiB\n");
        } else if (rc != PL_OK) {
            fprintf(stderr, PROG ": cannot reach %s: %s\n", s->addr.base, r.curl_error);
        } else if (r.status != 200 && !retried && l->n_pages == 0 &&
                   redirect_region(&r, where, sizeof(where)) && s3_region_valid(where) &&
                   strcmp(where, s->region) != 0) {
            printf("s3://%s is in %s, not %s: retrying there (pass --region %s to skip this)\n",
                   s->bucket, where, s->region, where);
            snprintf(s->region, sizeof(s->region), "%s", where);
            retried = true;
            pl_buf_cleanup(&r.body);
            if (set_address(s) != PL_OK)
                return PL_EINVAL;
            continue;
        } else if (r.status != 200) {
            describe(&r, why, sizeof(why));
            fprintf(stderr, PROG ": listing s3://%s/%s failed: %s\n", s->bucket, s->prefix, why);
            rc = PL_EUPSTREAM;
        } else {
            if (l->n_pages == PAGES_MAX) {
                rc = PL_ETOOBIG;
                fprintf(stderr, PROG ": more than %d pages of keys\n", PAGES_MAX);
            } else {
                l->pages = pl_realloc(l->pages, (l->n_pages + 1) * sizeof(*l->pages));
                rc = s3_list_parse(r.body.data, r.body.len, &l->pages[l->n_pages]);
                if (rc != PL_OK)
                    fprintf(stderr, PROG ": listing s3://%s/%s: the answer is not a listing\n",
                            s->bucket, s->prefix);
                else
                    l->n_pages++;
            }
        }
        pl_buf_cleanup(&r.body);
        if (rc != PL_OK)
            break;
        const struct s3_list_page *pg = &l->pages[l->n_pages - 1];
        if (!pg->is_truncated)
            break;
        token = pg->next_token;
    }
    if (rc != PL_OK)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < l->n_pages; i++)
        total += l->pages[i].n;
    l->objects = pl_calloc(total ? total : 1, sizeof(*l->objects));
    for (size_t i = 0; i < l->n_pages; i++)
        for (size_t j = 0; j < l->pages[i].n; j++) {
            const struct s3_object *o = &l->pages[i].objects[j];
            l->objects[l->n++] = (struct kb_s3_object){o->key, o->etag, o->size};
        }
    return PL_OK;
}

/* ---- the server ---- */

struct api_reply {
    long status;
    struct pl_buf body;
};

static int api_call(struct sync *s, const char *method, const char *path_query, const char *body,
                    size_t len, struct api_reply *r)
{
    memset(r, 0, sizeof(*r));
    pl_buf_init(&r->body, 64u << 20);
    struct pl_buf url;
    pl_buf_init(&url, 64 * 1024);
    pl_buf_printf(&url, "%s%s", s->o->url, path_query);
    char *token = cli_admin_token(s->o->secret); /* fresh: a long sync outlives one */
    char auth[AUTH_TOKEN_MAX_LEN + 32];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: text/plain; charset=utf-8");
    CURL *k = s->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url.data);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, cli_curl_to_buf);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, API_TIMEOUT);
    CURLcode cc = curl_easy_perform(k);
    if (cc == CURLE_OK)
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    pl_free(token);
    pl_buf_cleanup(&url);
    return cc == CURLE_OK ? PL_OK : PL_EIO;
}

/* The server's refusal as one line. */
static void api_error(const struct api_reply *r, char *out, size_t outlen)
{
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e))
        snprintf(out, outlen, "the server answered %ld %s: %s", r->status,
                 json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
    else
        snprintf(out, outlen, "the server answered HTTP %ld", r->status);
    json_decref(j);
}

/* The server's documents with their origins, into `docs` (strings owned by `*root`). */
static int server_documents(struct sync *s, json_t **root, struct kb_s3_doc **docs, size_t *n)
{
    struct api_reply r;
    char why[600];
    *root = NULL;
    if (api_call(s, "GET", "/v1/kb/documents", NULL, 0, &r) != PL_OK) {
        fprintf(stderr, PROG ": cannot reach the server at %s\n", s->o->url);
        pl_buf_cleanup(&r.body);
        return PL_EIO;
    }
    json_t *j = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    json_t *arr = json_object_get(j, "documents");
    if (!json_is_array(arr)) {
        api_error(&r, why, sizeof(why));
        fprintf(stderr, PROG ": listing the server's documents: %s\n", why);
        json_decref(j);
        pl_buf_cleanup(&r.body);
        return PL_EUPSTREAM;
    }
    pl_buf_cleanup(&r.body);
    *n = 0;
    *docs = pl_calloc(json_array_size(arr) + 1, sizeof(**docs));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *d = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name)
            continue;
        (*docs)[(*n)++] = (struct kb_s3_doc){name, json_string_value(json_object_get(d, "source")),
                                             json_string_value(json_object_get(d, "etag"))};
    }
    *root = j;
    return PL_OK;
}

/* GET the object and store it; false with `why` on failure. */
static bool copy_object(struct sync *s, const struct kb_s3_object *o, const char *name, char *why,
                        size_t whylen)
{
    struct pl_buf path;
    pl_buf_init(&path, 16 * 1024);
    s3_address_path(&s->addr, o->key, &path);
    struct s3_reply r;
    int rc = s3_get(s, path.data, NULL, KB_DOC_MAX_BYTES, &r);
    pl_buf_cleanup(&path);
    bool ok = false;
    if (rc == PL_ETOOBIG) {
        snprintf(why, whylen, "larger than 4 MiB");
    } else if (rc != PL_OK) {
        snprintf(why, whylen, "cannot reach S3: %s", r.curl_error);
    } else if (r.status != 200) {
        describe(&r, why, whylen);
    } else {
        /* The ETag of what was fetched, which may be newer than the listing's. */
        const char *etag = r.etag[0] && kb_store_origin_valid("s3://x", r.etag) ? r.etag : o->etag;
        char source[KB_STORE_SOURCE_MAX + 64];
        kb_s3_source(s->bucket, o->key, source, sizeof(source));
        struct pl_buf pq;
        pl_buf_init(&pq, 64 * 1024);
        char *e_name = curl_easy_escape(s->curl, name, 0),
             *e_source = curl_easy_escape(s->curl, source, 0),
             *e_etag = curl_easy_escape(s->curl, etag, 0);
        pl_buf_printf(&pq, "/v1/kb/documents?name=%s&source=%s&etag=%s", e_name, e_source, e_etag);
        curl_free(e_name);
        curl_free(e_source);
        curl_free(e_etag);
        struct api_reply a;
        if (api_call(s, "POST", pq.data, r.body.data ? r.body.data : "", r.body.len, &a) != PL_OK)
            snprintf(why, whylen, "cannot reach the server at %s", s->o->url);
        else if (a.status != 200 && a.status != 201)
            api_error(&a, why, whylen);
        else
            ok = true;
        pl_buf_cleanup(&a.body);
        pl_buf_cleanup(&pq);
    }
    pl_buf_cleanup(&r.body);
    return ok;
}

static bool delete_document(struct sync *s, const char *name, char *why, size_t whylen)
{
    char path[64 + 3 * KB_STORE_NAME_MAX];
    snprintf(path, sizeof(path), "/v1/kb/documents/%s", name); /* names need no escaping */
    struct api_reply a;
    bool ok = false;
    if (api_call(s, "DELETE", path, NULL, 0, &a) != PL_OK)
        snprintf(why, whylen, "cannot reach the server at %s", s->o->url);
    else if (a.status != 200 && a.status != 404) /* 404: already gone, as wanted */
        api_error(&a, why, whylen);
    else
        ok = true;
    pl_buf_cleanup(&a.body);
    return ok;
}

/* ---- the command ---- */

static int run(struct sync *s)
{
    struct listing l;
    if (list_bucket(s, &l) != PL_OK) {
        listing_free(&l);
        return 1;
    }
    printf("s3://%s/%s: %zu object%s listed in %zu page%s\n", s->bucket, s->prefix, l.n,
           l.n == 1 ? "" : "s", l.n_pages, l.n_pages == 1 ? "" : "s");
    json_t *root = NULL;
    struct kb_s3_doc *docs = NULL;
    size_t n_docs = 0;
    if (server_documents(s, &root, &docs, &n_docs) != PL_OK) {
        listing_free(&l);
        return 1;
    }
    struct kb_s3_plan p;
    kb_s3_plan_make(s->bucket, s->prefix, l.objects, l.n, docs, n_docs, &p);
    size_t added = 0, updated = 0, deleted = 0, failed = 0;
    char why[1200];
    const char *verb = s->o->dry_run ? "would " : "";
    for (size_t i = 0; i < p.n; i++) {
        const struct kb_s3_item *it = &p.items[i];
        const struct kb_s3_object *o = &l.objects[it->object];
        if (it->action == KB_S3_SKIP) {
            printf("skipped  %s: %s\n", o->key, it->reason);
            continue;
        }
        if (it->action == KB_S3_UNCHANGED)
            continue;
        bool add = it->action == KB_S3_ADD;
        if (s->o->dry_run || copy_object(s, o, it->name, why, sizeof(why))) {
            printf("%s%s %s  (%s)\n", verb, add ? "add" : "update", it->name, o->key);
            added += add;
            updated += !add;
        } else {
            printf("failed   %s: %s\n", o->key, why);
            failed++;
        }
        fflush(stdout);
    }
    for (size_t i = 0; i < p.n_deletes; i++) {
        if (s->o->dry_run || delete_document(s, p.deletes[i], why, sizeof(why))) {
            printf("%sdelete %s  (its object is gone)\n", verb, p.deletes[i]);
            deleted++;
        } else {
            printf("failed   %s: %s\n", p.deletes[i], why);
            failed++;
        }
    }
    printf("%s%zu added, %zu updated, %zu unchanged, %zu deleted, %zu skipped, %zu failed\n",
           s->o->dry_run ? "dry run: " : "", added, updated, p.unchanged, deleted, p.skips, failed);
    kb_s3_plan_cleanup(&p);
    pl_free(docs);
    json_decref(root);
    listing_free(&l);
    return failed ? 1 : 0;
}

int cli_kb_sync(const char *s3url, const struct cli_kb_sync_opts *o)
{
    struct sync s = {.o = o};
    if (strncmp(s3url, "s3://", 5) != 0) {
        fprintf(stderr, PROG ": expects s3://BUCKET[/PREFIX], not \"%s\"\n", s3url);
        return 2;
    }
    const char *b = s3url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl >= sizeof(s.bucket) || (slash && strlen(slash + 1) >= sizeof(s.prefix))) {
        fprintf(stderr, PROG ": the bucket name or prefix is too long\n");
        return 2;
    }
    memcpy(s.bucket, b, bl);
    snprintf(s.prefix, sizeof(s.prefix), "%s", slash ? slash + 1 : "");
    if (!s3_bucket_valid(s.bucket)) {
        fprintf(stderr, PROG ": \"%s\" is not a bucket name (3 to 63 of a-z 0-9 . -)\n", s.bucket);
        return 2;
    }
    if (!cli_secret_ok(PROG, o->secret))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pl_log_setup(PL_LOG_WARN, PL_LOG_TEXT); /* the credentials source's notes: warnings only */
    char profile_region[128] = "";
    int rc = 1;
    if (load_credentials(&s, profile_region, sizeof(profile_region)) == PL_OK) {
        const char *region = o->region                    ? o->region
                             : env_nonempty("AWS_REGION") ? env_nonempty("AWS_REGION")
                             : env_nonempty("AWS_DEFAULT_REGION")
                                 ? env_nonempty("AWS_DEFAULT_REGION")
                             : profile_region[0] ? profile_region
                                                 : NULL;
        if (!region) {
            region = "us-east-1";
            printf("no region set (--region, AWS_REGION, AWS_DEFAULT_REGION, the profile): "
                   "trying us-east-1\n");
        }
        if (!s3_region_valid(region)) {
            fprintf(stderr, PROG ": \"%s\" is not a region (eu-west-2)\n", region);
            rc = 2;
        } else {
            snprintf(s.region, sizeof(s.region), "%.*s", PL_SIGV4_MAX_SCOPE_PART, region);
            s.curl = curl_easy_init();
            if (set_address(&s) == PL_OK)
                rc = run(&s);
            else
                rc = 2;
            curl_easy_cleanup(s.curl);
        }
    }
    pl_free(s.key_id);
    if (s.secret_key) {
        memset(s.secret_key, 0, strlen(s.secret_key));
        pl_free(s.secret_key);
    }
    pl_free(s.token);
    curl_global_cleanup();
    return rc;
}
