/* `parley kb`; see cli_kb.h. Blocking by design (files read whole, libcurl's easy interface):
 * this is a client tool, not the server. */
#include "bot/cli_kb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/cli_admin.h"
#include "bot/cli_kb_sync.h"
#include "bot/kb_setup.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_eval.h"
#include "knowledge/kb_index.h"
#include "sessions/kb_store.h"

#define DEFAULT_DIR  "data/kb"
#define EVAL_RANKED  20 /* passages asked for a question: enough distinct documents for rank 3+ */
#define SEARCH_K_MAX 50

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: parley kb eval FILE.json [--kb DIR | --url URL [--jwt-secret S]]\n"
           "       parley kb search \"QUESTION\" [--k N] [--kb DIR | --url URL [--jwt-secret S]]\n"
           "       parley kb ingest PATH... [--url URL] [--jwt-secret S]\n"
           "       parley kb sync s3://BUCKET[/PREFIX] [--url URL] [--jwt-secret S]\n"
           "                      [--region R] [--endpoint URL] [--dry-run]\n\n"
           "eval    builds an index from DIR (default data/kb) in this process, runs each\n"
           "        question of FILE ({\"questions\": [{\"q\", \"expect\": [names]}]}) and prints\n"
           "        recall@1, recall@3, MRR and the questions whose expected documents are\n"
           "        not all in the first 3. With --url the rankings are a server's GET\n"
           "        /v1/kb/search (hybrid when it has --embeddings; the modes are counted).\n"
           "search  prints the best passages (default 5) with their scores, from an index of\n"
           "        DIR built here, or from a server's GET /v1/kb/search with --url (a token\n"
           "        minted from the server's secret, --jwt-secret or env PARLEY_JWT_SECRET).\n"
           "ingest  stores each file (.md .txt .html; a folder: its such files, not its\n"
           "        sub-folders) on the server (POST /v1/kb/documents, named by the file name),\n"
           "        naming each file it could not read or the server refused; a line per 10\n"
           "        files for more than 10. --url: default env PARLEY_URL, else\n"
           "        http://127.0.0.1:8080.\n"
           "sync    copies the bucket's .md .txt .html objects under PREFIX onto the server:\n"
           "        only objects whose ETag changed are fetched, copies whose object is gone\n"
           "        are deleted, documents not from this bucket and prefix are never touched.\n"
           "        Names: the key after the prefix's folder, '/' as '-', other characters\n"
           "        outside A-Za-z0-9._- as '_'; a taken name is skipped, never overwritten.\n"
           "        AWS credentials as the server finds them (AWS_ACCESS_KEY_ID..., AWS_PROFILE,\n"
           "        container or instance role); region --region, AWS_REGION,\n"
           "        AWS_DEFAULT_REGION or the profile's (a wrong one is corrected once).\n"
           "        --endpoint: an S3-compatible server, path-style (MinIO, a VPC endpoint).\n"
           "        --dry-run lists what it would do. See docs/knowledge.md.\n"
           "Exit status: 0 done, 1 a file, the folder or a request failed, 2 usage.\n");
}

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct kb_index *load_index(const char *dir)
{
    struct kb_index *ix = kb_index_new(NULL);
    size_t docs = 0, chunks = 0;
    char err[600];
    if (kb_setup_load_dir(ix, dir, &docs, &chunks, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parley kb: %s\n", err);
        kb_index_free(ix);
        return NULL;
    }
    fprintf(stderr, "parley kb: %s: %zu documents, %zu chunks\n", dir, docs, chunks);
    return ix;
}

/* One question's distinct documents as the index ranks them, best first, into `ranked`. */
static size_t rank_documents(struct kb_index *ix, const char *q, const char **ranked, size_t cap)
{
    struct kb_hit hits[EVAL_RANKED];
    size_t n = kb_index_search(ix, q, strlen(q), hits, EVAL_RANKED), out = 0;
    for (size_t i = 0; i < n && out < cap; i++) {
        bool seen = false;
        for (size_t j = 0; j < out && !seen; j++)
            seen = !strcmp(ranked[j], hits[i].doc);
        if (!seen)
            ranked[out++] = hits[i].doc;
    }
    return out;
}

static json_t *remote_search(const char *url, const char *secret, const char *q, size_t k);

/* A server's ranking for `q` (GET /v1/kb/search): distinct documents (new strings) into
 * `ranked`; counts the search's "mode" in `hybrid` or `bm25`. */
static size_t rank_remote(const char *url, const char *secret, const char *q, const char **ranked,
                          size_t cap, size_t *hybrid, size_t *bm25)
{
    json_t *j = remote_search(url, secret, q, EVAL_RANKED);
    const char *mode = json_string_value(json_object_get(j, "mode"));
    if (mode && !strcmp(mode, "hybrid"))
        (*hybrid)++;
    else if (j)
        (*bm25)++;
    json_t *hits = json_object_get(j, "hits");
    size_t out = 0;
    for (size_t i = 0; i < json_array_size(hits) && out < cap; i++) {
        const char *doc = json_string_value(json_object_get(json_array_get(hits, i), "doc"));
        bool seen = !doc;
        for (size_t k = 0; k < out && !seen; k++)
            seen = !strcmp(ranked[k], doc);
        if (!seen)
            ranked[out++] = pl_strdup(doc);
    }
    json_decref(j);
    return out;
}

/* With `url`: the server's rankings (its hybrid search when it has embeddings); otherwise an
 * index of `dir` built here (BM25). */
static int cmd_eval(const char *file, const char *dir, const char *url, const char *secret)
{
    json_error_t jerr;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    json_t *qs = json_object_get(root, "questions");
    if (!json_is_array(qs)) {
        if (!root)
            fprintf(stderr, "parley kb eval: %s: %s (line %d)\n", file, jerr.text, jerr.line);
        else
            fprintf(stderr, "parley kb eval: %s: no \"questions\" array\n", file);
        json_decref(root);
        return 1;
    }
    if (url && !cli_secret_ok("parley kb", secret)) {
        json_decref(root);
        return 2;
    }
    struct kb_index *ix = url ? NULL : load_index(dir);
    if (!url && !ix) {
        json_decref(root);
        return 1;
    }
    if (url)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t n = json_array_size(qs), bad = 0, misses = 0, hybrid = 0, bm25 = 0;
    struct kb_eval_case *cases = pl_calloc(n ? n : 1, sizeof(*cases));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *q = json_array_get(qs, i), *ex = json_object_get(q, "expect");
        const char *text = json_string_value(json_object_get(q, "q"));
        if (!text || !json_is_array(ex)) {
            fprintf(stderr, "parley kb eval: %s: question %zu needs \"q\" and \"expect\"\n", file,
                    i + 1);
            bad++;
            continue;
        }
        const char **expected = pl_calloc(json_array_size(ex) + 1, sizeof(*expected));
        size_t ne = 0;
        for (size_t j = 0; j < json_array_size(ex); j++)
            if (json_string_value(json_array_get(ex, j)))
                expected[ne++] = json_string_value(json_array_get(ex, j));
        /* The ranked names are borrowed from the index, which is not changed until the end. */
        const char **ranked = pl_calloc(EVAL_RANKED, sizeof(*ranked));
        cases[i] = (struct kb_eval_case){
            .question = text,
            .expected = expected,
            .n_expected = ne,
            .ranked = ranked,
            .n_ranked = url ? rank_remote(url, secret, text, ranked, EVAL_RANKED, &hybrid, &bm25)
                            : rank_documents(ix, text, ranked, EVAL_RANKED)};
        struct kb_eval_score s;
        if (kb_eval_case_score(&cases[i], &s) && s.recall_at_3 < 1.0) {
            if (!misses++)
                printf("Misses (expected documents not all in the first 3):\n");
            printf("  q%zu \"%s\"\n     expected:", i + 1, text);
            for (size_t j = 0; j < ne; j++)
                printf(" %s", expected[j]);
            printf("\n     ranked:  ");
            for (size_t j = 0; j < cases[i].n_ranked && j < 3; j++)
                printf(" %s", ranked[j]);
            printf("%s  (rr %.3f)\n", cases[i].n_ranked ? "" : " (nothing)", s.rr);
        }
    }
    if (bad) {
        rc = 1;
    } else {
        struct kb_eval_result r;
        kb_eval_compute(cases, n, &r);
        printf("questions %zu (skipped %zu, without an expected document)\n"
               "recall@1  %.4f\nrecall@3  %.4f\nMRR       %.4f\nmisses@3  %zu\n",
               r.questions, r.skipped, r.recall_at_1, r.recall_at_3, r.mrr, misses);
        if (url)
            printf("searched  %s: %zu hybrid, %zu bm25 only\n", url, hybrid, bm25);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; url && j < cases[i].n_ranked; j++)
            pl_free((void *)cases[i].ranked[j]);
        pl_free((void *)cases[i].expected);
        pl_free((void *)cases[i].ranked);
    }
    if (url)
        curl_global_cleanup();
    pl_free(cases);
    kb_index_free(ix);
    json_decref(root);
    return rc;
}

static void print_hit(size_t rank, double score, const char *doc, const char *heading,
                      const char *text)
{
    printf("%zu. %.4f  %s%s%s\n", rank, score, doc, heading && *heading ? "  " : "",
           heading ? heading : "");
    /* The passage on one line, at most 300 bytes, not cut inside a character. */
    size_t len = strlen(text), cut = len > 300 ? 300 : len;
    while (cut < len && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    printf("   ");
    for (size_t i = 0; i < cut; i++)
        putchar(text[i] == '\n' ? ' ' : text[i]);
    printf("%s\n", cut < len ? " ..." : "");
}

static int search_local(const char *dir, const char *q, size_t k)
{
    struct kb_index *ix = load_index(dir);
    if (!ix)
        return 1;
    struct kb_hit hits[SEARCH_K_MAX];
    size_t n = kb_index_search(ix, q, strlen(q), hits, k);
    for (size_t i = 0; i < n; i++)
        print_hit(i + 1, hits[i].score, hits[i].doc, hits[i].heading, hits[i].text);
    if (!n)
        printf("no passage found\n");
    kb_index_free(ix);
    return 0;
}

/* GET URL/v1/kb/search for `q` (a token minted from `secret`): the reply's JSON (new), or NULL
 * with the failure printed. */
static json_t *remote_search(const char *url, const char *secret, const char *q, size_t k)
{
    CURL *c = curl_easy_init();
    char *esc = curl_easy_escape(c, q, 0);
    struct pl_buf full;
    pl_buf_init(&full, 64 * 1024);
    pl_buf_printf(&full, "%s/v1/kb/search?k=%zu&q=%s", url, k, esc);
    curl_free(esc);
    char *token = cli_admin_token(secret);
    char auth[AUTH_TOKEN_MAX_LEN + 32];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    struct pl_buf body;
    pl_buf_init(&body, 16 * 1024 * 1024);
    curl_easy_setopt(c, CURLOPT_URL, full.data);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_curl_to_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    long status = 0;
    json_t *out = NULL;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "parley kb: %s: %s\n", url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        json_t *j = json_loadb(body.data, body.len, 0, NULL);
        if (status == 200 && json_is_array(json_object_get(j, "hits"))) {
            out = j;
        } else {
            json_t *e = json_object_get(j, "error");
            fprintf(stderr, "parley kb: HTTP %ld %s%s%s\n", status,
                    json_is_object(e) ? json_string_value(json_object_get(e, "code")) : "",
                    json_is_object(e) ? ": " : "",
                    json_is_object(e) ? json_string_value(json_object_get(e, "message")) : "");
            json_decref(j);
        }
    }
    curl_slist_free_all(h);
    pl_free(token);
    pl_buf_cleanup(&body);
    pl_buf_cleanup(&full);
    curl_easy_cleanup(c);
    return out;
}

static int search_remote(const char *url, const char *secret, const char *q, size_t k)
{
    if (!cli_secret_ok("parley kb", secret))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *j = remote_search(url, secret, q, k);
    json_t *hits = json_object_get(j, "hits");
    for (size_t i = 0; i < json_array_size(hits); i++) {
        json_t *x = json_array_get(hits, i);
        const char *text = json_string_value(json_object_get(x, "text"));
        print_hit(i + 1, json_number_value(json_object_get(x, "score")),
                  json_string_value(json_object_get(x, "doc")),
                  json_string_value(json_object_get(x, "heading")), text ? text : "");
    }
    if (j && !json_array_size(hits))
        printf("no passage found\n");
    int rc = j ? 0 : 1;
    json_decref(j);
    curl_global_cleanup();
    return rc;
}

/* ---- ingest ---- */

struct ingest {
    const char *url;
    char *token;
    CURL *curl;
    size_t stored, created, failed, total;
};

static bool has_kind(const char *name)
{
    enum kb_kind k;
    return kb_kind_from_name(name, &k);
}

/* The files of `dir` that are documents (.md .txt .html ...; not sub-folders), in name order,
 * appended to `paths`. */
static int list_dir(const char *dir, char ***paths, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t first = *n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_kind(e->d_name))
            continue;
        struct pl_buf p;
        pl_buf_init(&p, 8192);
        pl_buf_printf(&p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (p.data && stat(p.data, &st) == 0 && S_ISREG(st.st_mode)) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *paths = pl_realloc(*paths, *cap * sizeof(**paths));
            }
            (*paths)[(*n)++] = pl_strdup(p.data);
        }
        pl_buf_cleanup(&p);
    }
    closedir(d);
    qsort(*paths + first, *n - first, sizeof(**paths), cmp_paths);
    return 0;
}

static bool ingest_one(struct ingest *in, const char *path)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    if (!kb_store_name_valid(name)) {
        printf("%s: failed: \"%s\" is not a document name (1 to 128 of A-Z a-z 0-9 . - _, not "
               "starting with \".\")\n",
               path, name);
        return false;
    }
    if (!has_kind(name)) {
        printf("%s: failed: not a .md, .txt or .html file\n", path);
        return false;
    }
    struct pl_buf text;
    pl_buf_init(&text, KB_DOC_MAX_BYTES);
    FILE *f = fopen(path, "rb");
    int rc = f ? PL_OK : PL_EIO;
    char chunk[65536];
    size_t got;
    while (rc == PL_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = pl_buf_append(&text, chunk, got);
    if (f && ferror(f) && rc == PL_OK)
        rc = PL_EIO;
    if (f)
        fclose(f);
    if (rc != PL_OK) {
        printf("%s: failed: %s\n", path, rc == PL_ETOOBIG ? "larger than 4 MiB" : "cannot be read");
        pl_buf_cleanup(&text);
        return false;
    }
    char *esc = curl_easy_escape(in->curl, name, 0);
    struct pl_buf url, body;
    pl_buf_init(&url, 64 * 1024);
    pl_buf_printf(&url, "%s/v1/kb/documents?name=%s", in->url, esc);
    curl_free(esc);
    pl_buf_init(&body, 1024 * 1024);
    char auth[AUTH_TOKEN_MAX_LEN + 32];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", in->token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: text/plain; charset=utf-8");
    CURL *k = in->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url.data);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_POST, 1L);
    curl_easy_setopt(k, CURLOPT_POSTFIELDS, text.data ? text.data : "");
    curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)text.len);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, cli_curl_to_buf);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, 60000L);
    long status = 0;
    bool ok = false;
    CURLcode cc = curl_easy_perform(k);
    if (cc != CURLE_OK) {
        printf("%s: failed: %s: %s\n", path, in->url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 || status == 201) {
            ok = true;
            in->created += status == 201;
        } else {
            json_t *j = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
            json_t *e = json_object_get(j, "error");
            if (json_is_object(e))
                printf("%s: failed: %ld %s: %s\n", path, status,
                       json_string_value(json_object_get(e, "code")),
                       json_string_value(json_object_get(e, "message")));
            else
                printf("%s: failed: HTTP %ld\n", path, status);
            json_decref(j);
        }
    }
    curl_slist_free_all(h);
    pl_buf_cleanup(&url);
    pl_buf_cleanup(&body);
    pl_buf_cleanup(&text);
    return ok;
}

static int cmd_ingest(const char *const *args, size_t nargs, const char *url, const char *secret)
{
    if (!cli_secret_ok("parley kb", secret))
        return 2;
    char **paths = NULL;
    size_t n = 0, cap = 0, unreadable = 0;
    for (size_t i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (list_dir(args[i], &paths, &n, &cap) != 0) {
                printf("%s: failed: the folder cannot be read\n", args[i]);
                unreadable++;
            }
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            paths = pl_realloc(paths, cap * sizeof(*paths));
        }
        paths[n++] = pl_strdup(args[i]);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ingest in = {.url = url, .token = cli_admin_token(secret), .curl = curl_easy_init()};
    in.total = n;
    for (size_t i = 0; i < n; i++) {
        if (ingest_one(&in, paths[i]))
            in.stored++;
        else
            in.failed++;
        if (n > 10 && ((i + 1) % 10 == 0 || i + 1 == n))
            printf("parley kb ingest: %zu of %zu files sent\n", i + 1, n);
        pl_free(paths[i]);
    }
    printf("%zu of %zu document%s stored (%zu new, %zu replaced), %zu failed\n", in.stored, n,
           n == 1 ? "" : "s", in.created, in.stored - in.created, in.failed + unreadable);
    curl_easy_cleanup(in.curl);
    pl_free(in.token);
    pl_free(paths);
    curl_global_cleanup();
    return in.failed || unreadable ? 1 : 0;
}

int cli_kb_main(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : NULL;
    if (!verb || !strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        usage(verb ? stdout : stderr);
        return verb ? 0 : 2;
    }
    const char *dir = NULL, *url = NULL, *secret = getenv("PARLEY_JWT_SECRET"), *arg = NULL;
    const char *region = NULL, *endpoint = NULL;
    bool dry_run = false;
    const char **args = pl_calloc((size_t)argc, sizeof(*args));
    size_t nargs = 0;
    long k = 5;
    int rc = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            pl_free(args);
            return 0;
        }
        if (!strcmp(a, "--dry-run")) {
            dry_run = true;
            continue;
        }
        if (!strcmp(a, "--kb") || !strcmp(a, "--url") || !strcmp(a, "--jwt-secret") ||
            !strcmp(a, "--k") || !strcmp(a, "--region") || !strcmp(a, "--endpoint")) {
            if (i + 1 == argc) {
                fprintf(stderr, "parley kb: %s needs a value\n", a);
                pl_free(args);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--kb"))
                dir = v;
            else if (!strcmp(a, "--url"))
                url = v;
            else if (!strcmp(a, "--jwt-secret"))
                secret = v;
            else if (!strcmp(a, "--region"))
                region = v;
            else if (!strcmp(a, "--endpoint"))
                endpoint = v;
            else {
                char *end;
                k = strtol(v, &end, 10);
                if (*end || k < 1 || k > SEARCH_K_MAX) {
                    fprintf(stderr, "parley kb: --k expects 1 to %d\n", SEARCH_K_MAX);
                    pl_free(args);
                    return 2;
                }
            }
        } else {
            args[nargs++] = a;
        }
    }
    arg = nargs == 1 ? args[0] : NULL;
    if (!strcmp(verb, "eval")) {
        if (!arg || (dir && url))
            fprintf(stderr, "parley kb eval: FILE.json [--kb DIR | --url URL]\n");
        else
            rc = cmd_eval(arg, dir ? dir : DEFAULT_DIR, url, secret);
    } else if (!strcmp(verb, "search")) {
        if (!arg || (dir && url))
            fprintf(stderr, "parley kb search: \"QUESTION\" [--kb DIR | --url URL]\n");
        else
            rc = url ? search_remote(url, secret, arg, (size_t)k)
                     : search_local(dir ? dir : DEFAULT_DIR, arg, (size_t)k);
    } else if (!strcmp(verb, "ingest")) {
        const char *env_url = getenv("PARLEY_URL");
        if (!nargs || dir)
            fprintf(stderr, "parley kb ingest: PATH... (files or folders) [--url URL]\n");
        else
            rc = cmd_ingest(args, nargs,
                            url                   ? url
                            : env_url && *env_url ? env_url
                                                  : "http://127.0.0.1:8080",
                            secret);
    } else if (!strcmp(verb, "sync")) {
        const char *env_url = getenv("PARLEY_URL");
        struct cli_kb_sync_opts so = {.url = url                   ? url
                                             : env_url && *env_url ? env_url
                                                                   : "http://127.0.0.1:8080",
                                      .secret = secret,
                                      .region = region,
                                      .endpoint = endpoint,
                                      .dry_run = dry_run};
        if (!arg || dir)
            fprintf(stderr, "parley kb sync: s3://BUCKET[/PREFIX] [--url URL] [--region R] "
                            "[--endpoint URL] [--dry-run]\n");
        else
            rc = cli_kb_sync(arg, &so);
    } else {
        fprintf(stderr, "parley kb: unknown command \"%s\" (eval, search, ingest or sync)\n", verb);
    }
    pl_free(args);
    return rc;
}
