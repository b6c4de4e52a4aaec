/* fake_s3: a test double of Amazon S3 for `parley kb sync` (tests/fakes/README.md "fake_s3"):
 * one bucket served from a directory (each file an object, its path under the directory the key),
 * path-style addressing, ListObjectsV2 with paging (a small page size can be set so that paging
 * is exercised), GetObject with quoted MD5 ETags, PutObject and DeleteObject for tests that put
 * objects. Every request's SigV4 signature is checked with the server's own signer
 * (connectors/aws_sigv4.c) against the test keys; refusals and faults answer with S3's XML
 * errors: 403 SignatureDoesNotMatch / InvalidAccessKeyId / AccessDenied, 404 NoSuchBucket /
 * NoSuchKey, 301 PermanentRedirect (with x-amz-bucket-region) or 400
 * AuthorizationHeaderMalformed (with <Region>) for a request signed for another region. One JSON
 * line per request in the log. The directory is read on every request, so a test changes the
 * bucket by changing files. Connections are kept alive (fake_http.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_sigv4.h"
#include "tests/fakes/fake_http.h"
#include "tests/fakes/sigv4_verify.h"

#define MAX_SKEW_S (15 * 60) /* S3's RequestTimeTooSkewed bound */
#define BODY_MAX   (64u << 20)
#define EMPTY_SHA  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MALFORMED_SCOPE                                                                            \
    "The authorization header is malformed; the Credential is mal-formed; expecting "              \
    "\"<YOUR-AKID>/YYYYMMDD/REGION/s3/aws4_request\"."

static struct {
    const char *host;
    int port;
    const char *dir;
    const char *bucket;
    const char *region;
    const char *deny_bucket;
    const char *key_id, *secret, *token;
    long page_size;
    int wrong_region_status;
    FILE *log;
    unsigned long n;
} opt = {"127.0.0.1",
         0,
         NULL,
         "docs",
         "us-east-1",
         NULL,
         "AKIDEXAMPLE",
         "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         NULL,
         1000,
         301,
         NULL,
         0};

static struct fake_http http;
static uv_signal_t sig_term, sig_int;

/* An answer being built: status, extra headers, body. */
struct answer {
    int status;
    struct pl_buf headers;
    struct pl_buf body;
    const char *content_type;
    const char *op; /* for the log: list, get, put, delete, error */
    char code[64];  /* the error code sent, for the log */
    bool head_only; /* HEAD: no body */
};

static void xml_escape(struct pl_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            pl_buf_append_str(b, "&amp;");
        else if (c == '<')
            pl_buf_append_str(b, "&lt;");
        else if (c == '>')
            pl_buf_append_str(b, "&gt;");
        else if (c == '"')
            pl_buf_append_str(b, "&quot;");
        else if (c == '\'')
            pl_buf_append_str(b, "&apos;");
        else if (c < 0x20)
            pl_buf_printf(b, "&#x%X;", c);
        else
            pl_buf_append(b, s, 1);
    }
}

static void s3_error(struct answer *a, int status, const char *code, const char *extra,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void s3_error(struct answer *a, int status, const char *code, const char *extra,
                     const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->status = status;
    a->content_type = "application/xml";
    a->op = "error";
    snprintf(a->code, sizeof(a->code), "%s", code);
    pl_buf_reset(&a->body);
    pl_buf_printf(&a->body,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                  "<Message>",
                  code);
    xml_escape(&a->body, msg);
    pl_buf_printf(&a->body,
                  "</Message>%s<RequestId>FAKE%08lu</RequestId><HostId>fake-s3</HostId>"
                  "</Error>",
                  extra ? extra : "", opt.n);
}

/* ---- authentication (PROTOCOLS.md 3, 6E) ---- */

static const char *request_header(void *r, const char *name)
{
    return fake_http_header_value(r, name);
}

/* Checks the signature (sigv4_verify.h); false with the error answered. Wrong-region requests
 * are answered with the redirect S3 gives once the bucket is known. */
static bool check_auth(const struct fake_http_req *r, const char *bucket, struct answer *a)
{
    struct sigv4_auth sa;
    struct sigv4_failure f;
    if (!sigv4_auth_parse(fake_http_header_value(r, "authorization"), &sa, &f)) {
        if (f.kind == SIGV4_NO_AUTH || f.kind == SIGV4_NOT_SIGV4)
            s3_error(a, 403, "AccessDenied", NULL, "Access Denied (no AWS4-HMAC-SHA256 signature)");
        else if (f.kind == SIGV4_MALFORMED)
            s3_error(a, 400, "AuthorizationHeaderMalformed", NULL,
                     "The authorization header is malformed; it needs Credential, SignedHeaders "
                     "and Signature.");
        else
            s3_error(a, 400, "AuthorizationHeaderMalformed", NULL, "%s", MALFORMED_SCOPE);
        return false;
    }
    if (strcmp(sa.service, "s3") != 0) {
        s3_error(a, 400, "AuthorizationHeaderMalformed", NULL, "%s", MALFORMED_SCOPE);
        return false;
    }
    if (bucket && strcmp(bucket, opt.bucket) != 0 &&
        (!opt.deny_bucket || strcmp(bucket, opt.deny_bucket) != 0)) {
        s3_error(a, 404, "NoSuchBucket", NULL, "The specified bucket does not exist");
        return false;
    }
    if (strcmp(sa.region, opt.region) != 0) {
        if (opt.wrong_region_status == 400) {
            char extra[128];
            snprintf(extra, sizeof(extra), "<Region>%s</Region>", opt.region);
            s3_error(a, 400, "AuthorizationHeaderMalformed", extra,
                     "The authorization header is malformed; the region '%s' is wrong; "
                     "expecting '%s'",
                     sa.region, opt.region);
        } else {
            char extra[512];
            snprintf(extra, sizeof(extra),
                     "<Endpoint>%s.s3.%s.amazonaws.com</Endpoint><Bucket>%s"
                     "</Bucket>",
                     bucket ? bucket : opt.bucket, opt.region, bucket ? bucket : opt.bucket);
            s3_error(a, 301, "PermanentRedirect", extra,
                     "The bucket you are attempting to access must be addressed using the "
                     "specified endpoint. Please send all future requests to this endpoint.");
            pl_buf_printf(&a->headers, "x-amz-bucket-region: %s\r\n", opt.region);
        }
        return false;
    }
    const struct sigv4_verify_request req = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .header = request_header,
        .header_ud = (void *)r,
        .body = r->body,
        .body_len = r->body_len,
        .s3 = true,
        .access_key_id = opt.key_id,
        .secret_access_key = opt.secret,
        .session_token = opt.token,
        .region = opt.region,
        .service = "s3",
        .max_skew_s = MAX_SKEW_S,
    };
    if (!sigv4_auth_check(&req, &sa, &f)) {
        switch (f.kind) {
        case SIGV4_UNKNOWN_KEY:
            s3_error(a, 403, "InvalidAccessKeyId", NULL,
                     "The AWS Access Key Id you provided does not exist in our records.");
            break;
        case SIGV4_BAD_DATE:
        case SIGV4_DATE_SCOPE:
            s3_error(a, 403, "AccessDenied", NULL, "x-amz-date is missing or not the scope's date");
            break;
        case SIGV4_SKEWED:
            s3_error(a, 403, "RequestTimeTooSkewed", NULL,
                     "The difference between the request time and the current time is too "
                     "large.");
            break;
        case SIGV4_NO_PAYLOAD_HASH:
            s3_error(a, 400, "InvalidRequest", NULL,
                     "Missing required header for this request: x-amz-content-sha256");
            break;
        case SIGV4_BAD_TOKEN:
            s3_error(a, 400, "InvalidToken", NULL, "The provided token is malformed or invalid.");
            break;
        case SIGV4_PAYLOAD_HASH:
            s3_error(a, 400, "XAmzContentSHA256Mismatch", NULL,
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
            break;
        case SIGV4_MISMATCH:
            s3_error(a, 403, "SignatureDoesNotMatch", NULL,
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your key and signing method.");
            fprintf(stderr, "REQUEST CHECK FAILED: %s %s: signature does not match\n", r->method,
                    r->target);
            break;
        default: /* a header unsigned or missing; service and region are checked above */
            s3_error(a, 403, "SignatureDoesNotMatch", NULL, "%s", f.message);
            break;
        }
        return false;
    }
    if (opt.deny_bucket && bucket && !strcmp(bucket, opt.deny_bucket)) {
        s3_error(a, 403, "AccessDenied", NULL, "Access Denied");
        return false;
    }
    return true;
}

/* ---- the bucket on disk ---- */

struct object {
    char *key;
    char etag[40]; /* hex MD5 */
    long long size;
    time_t mtime;
};

static int cmp_objects(const void *a, const void *b)
{
    return strcmp(((const struct object *)a)->key, ((const struct object *)b)->key);
}

static bool md5_file(const char *path, char hex[33], long long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_md5(), NULL);
    char buf[65536];
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(c, buf, n);
        *size += (long long)n;
    }
    fclose(f);
    unsigned char md[16];
    unsigned len = 0;
    EVP_DigestFinal_ex(c, md, &len);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}

static void walk_dir(const char *dir, const char *rel, struct object **objs, size_t *n, size_t *cap)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char r2[4096], full[8192];
        snprintf(r2, sizeof(r2), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", dir, r2);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_dir(dir, r2, objs, n, cap);
        } else if (S_ISREG(st.st_mode)) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *objs = pl_realloc(*objs, *cap * sizeof(**objs));
            }
            struct object *o = &(*objs)[*n];
            if (!md5_file(full, o->etag, &o->size))
                continue;
            o->key = pl_strdup(r2);
            o->mtime = st.st_mtime;
            (*n)++;
        }
    }
    closedir(d);
}

static void objects_free(struct object *objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_free(objs[i].key);
    pl_free(objs);
}

/* A key that maps onto a file under the directory (no "..", no empty or dot segments). */
static bool key_safe(const char *key)
{
    if (!*key || key[0] == '/')
        return false;
    for (const char *seg = key; seg;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
            return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

/* ---- percent-decoding, query ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode `len` bytes into a new string ("+" stays "+": S3 reads it as a space only in a query,
 * and the SDKs encode spaces as %20); NULL on a bad escape or NUL. */
static char *pct_decode(const char *s, size_t len, bool plus_space)
{
    char *out = pl_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= len) {
                pl_free(out);
                return NULL;
            }
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                pl_free(out);
                return NULL;
            }
            out[n++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[n++] = plus_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[n] = '\0';
    return out;
}

/* The decoded value of query parameter `name` (new string), or NULL. */
static char *query_param(const char *query, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && !strncmp(p, name, nl) && (len == nl || p[nl] == '='))
            return len == nl ? pl_strdup("") : pct_decode(p + nl + 1, len - nl - 1, true);
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* Standard base64 (with + / =), so continuation tokens need encoding in a query. */
static void b64(const unsigned char *in, size_t len, struct pl_buf *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char q[4] = {t[(v >> 18) & 63], t[(v >> 12) & 63], i + 1 < len ? t[(v >> 6) & 63] : '=',
                     i + 2 < len ? t[v & 63] : '='};
        pl_buf_append(out, q, 4);
    }
}

static char *unb64(const char *s)
{
    size_t len = strlen(s);
    char *out = pl_malloc(len + 1);
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        if (s[i] == '=')
            break;
        const char *p = strchr(t, s[i]);
        if (!p || !s[i]) {
            pl_free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)(p - t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((v >> bits) & 0xFF);
        }
    }
    out[n] = '\0';
    return out;
}

/* ---- operations ---- */

static void list_objects(const struct fake_http_req *r, struct answer *a)
{
    char *lt = query_param(r->query, "list-type");
    bool v2 = lt && !strcmp(lt, "2");
    pl_free(lt);
    if (!v2) {
        s3_error(a, 400, "InvalidArgument", NULL,
                 "fake_s3 serves ListObjectsV2 (list-type=2) only");
        return;
    }
    char *prefix = query_param(r->query, "prefix"),
         *token = query_param(r->query, "continuation-token"),
         *max = query_param(r->query, "max-keys"), *after = query_param(r->query, "start-after"),
         *enc = query_param(r->query, "encoding-type");
    long page = opt.page_size;
    if (max) {
        char *end;
        long m = strtol(max, &end, 10);
        if (*end || m < 0) {
            s3_error(a, 400, "InvalidArgument", NULL, "max-keys must be a non-negative integer");
            goto done;
        }
        if (m < page)
            page = m;
    }
    char *from = NULL; /* keys after this one */
    if (token) {
        from = unb64(token);
        if (!from || strncmp(from, "k:", 2) != 0) {
            s3_error(a, 400, "InvalidArgument", NULL,
                     "The continuation token provided is incorrect");
            pl_free(from);
            goto done;
        }
    }
    bool url = enc && !strcmp(enc, "url");
    struct object *objs = NULL;
    size_t n = 0, cap = 0;
    walk_dir(opt.dir, "", &objs, &n, &cap);
    qsort(objs, n, sizeof(*objs), cmp_objects);
    struct pl_buf items;
    pl_buf_init(&items, BODY_MAX);
    long count = 0;
    bool truncated = false;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct object *o = &objs[i];
        if (prefix && strncmp(o->key, prefix, strlen(prefix)) != 0)
            continue;
        if (from && strcmp(o->key, from + 2) <= 0)
            continue;
        if (!from && after && strcmp(o->key, after) <= 0)
            continue;
        if (count == page) {
            truncated = true;
            break;
        }
        char when[40];
        struct tm tm;
        gmtime_r(&o->mtime, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        pl_buf_append_str(&items, "<Contents><Key>");
        if (url) {
            struct pl_buf e;
            pl_buf_init(&e, 64 * 1024);
            pl_buf_append(&e, "", 0);
            pl_sigv4_uri_encode(&e, o->key, strlen(o->key), true);
            pl_buf_append_str(&items, e.data);
            pl_buf_cleanup(&e);
        } else {
            xml_escape(&items, o->key);
        }
        pl_buf_printf(&items,
                      "</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                      "<Size>%lld</Size><StorageClass>STANDARD</StorageClass></Contents>",
                      when, o->etag, o->size);
        last = o->key;
        count++;
    }
    a->status = 200;
    a->content_type = "application/xml";
    a->op = "list";
    pl_buf_printf(&a->body,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                  "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>%s</Name><Prefix>",
                  opt.bucket);
    xml_escape(&a->body, prefix ? prefix : "");
    pl_buf_append_str(&a->body, "</Prefix>");
    if (token) {
        pl_buf_append_str(&a->body, "<ContinuationToken>");
        xml_escape(&a->body, token);
        pl_buf_append_str(&a->body, "</ContinuationToken>");
    }
    pl_buf_printf(&a->body,
                  "<KeyCount>%ld</KeyCount><MaxKeys>%ld</MaxKeys>%s<IsTruncated>%s"
                  "</IsTruncated>",
                  count, page, url ? "<EncodingType>url</EncodingType>" : "",
                  truncated ? "true" : "false");
    if (truncated) {
        struct pl_buf t, raw;
        pl_buf_init(&t, 64 * 1024);
        pl_buf_init(&raw, 64 * 1024);
        pl_buf_printf(&raw, "k:%s", last ? last : "");
        b64((const unsigned char *)raw.data, raw.len, &t);
        pl_buf_append(&t, "", 0);
        pl_buf_append_str(&a->body, "<NextContinuationToken>");
        xml_escape(&a->body, t.data);
        pl_buf_append_str(&a->body, "</NextContinuationToken>");
        pl_buf_cleanup(&t);
        pl_buf_cleanup(&raw);
    }
    pl_buf_append(&a->body, items.data ? items.data : "", items.len);
    pl_buf_append_str(&a->body, "</ListBucketResult>");
    pl_buf_cleanup(&items);
    objects_free(objs, n);
    pl_free(from);
done:
    pl_free(prefix);
    pl_free(token);
    pl_free(max);
    pl_free(after);
    pl_free(enc);
}

static void get_object(const char *key, struct answer *a, bool head)
{
    char path[8192], hex[33];
    long long size;
    snprintf(path, sizeof(path), "%s/%s", opt.dir, key);
    struct stat st;
    if (!key_safe(key) || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        !md5_file(path, hex, &size)) {
        char extra[600];
        struct pl_buf k;
        pl_buf_init(&k, 64 * 1024);
        xml_escape(&k, key);
        snprintf(extra, sizeof(extra), "<Key>%s</Key>", k.data ? k.data : "");
        pl_buf_cleanup(&k);
        s3_error(a, 404, "NoSuchKey", extra, "The specified key does not exist.");
        return;
    }
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        pl_buf_append(&a->body, buf, n);
    if (f)
        fclose(f);
    char when[64];
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    a->status = 200;
    a->op = "get";
    a->content_type = "application/octet-stream";
    a->head_only = head;
    pl_buf_printf(&a->headers, "ETag: \"%s\"\r\nLast-Modified: %s\r\n", hex, when);
}

static int mkdirs_for(const char *path)
{
    char tmp[8192];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + strlen(opt.dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static void put_object(const struct fake_http_req *r, const char *key, struct answer *a)
{
    char path[8192], hex[33];
    long long size;
    snprintf(path, sizeof(path), "%s/%s", opt.dir, key);
    FILE *f = key_safe(key) && mkdirs_for(path) == 0 ? fopen(path, "wb") : NULL;
    if (!f || fwrite(r->body ? r->body : "", 1, r->body_len, f) != r->body_len) {
        if (f)
            fclose(f);
        s3_error(a, 400, "InvalidArgument", NULL, "fake_s3 cannot store this key");
        return;
    }
    fclose(f);
    md5_file(path, hex, &size);
    a->status = 200;
    a->op = "put";
    pl_buf_printf(&a->headers, "ETag: \"%s\"\r\n", hex);
}

static void delete_object(const char *key, struct answer *a)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", opt.dir, key);
    if (key_safe(key))
        unlink(path);
    a->status = 204;
    a->op = "delete";
}

/* ---- dispatch ---- */

static void handle(const struct fake_http_req *r, struct answer *a)
{
    /* Path style: /BUCKET[/KEY]. */
    const char *p = r->path + 1;
    const char *slash = strchr(p, '/');
    char *bucket = pl_strndup(p, slash ? (size_t)(slash - p) : strlen(p));
    char *key = slash && slash[1] ? pct_decode(slash + 1, strlen(slash + 1), false) : NULL;
    bool bad_key = slash && slash[1] && !key;
    if (!*bucket) {
        s3_error(a, 400, "InvalidRequest", NULL, "fake_s3 serves path-style requests: /BUCKET/KEY");
    } else if (bad_key) {
        s3_error(a, 400, "InvalidURI", NULL, "Couldn't parse the specified URI.");
    } else if (!check_auth(r, bucket, a)) {
        /* answered */
    } else if (!key && !strcmp(r->method, "GET")) {
        list_objects(r, a);
    } else if (key && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))) {
        get_object(key, a, !strcmp(r->method, "HEAD"));
    } else if (key && !strcmp(r->method, "PUT")) {
        put_object(r, key, a);
    } else if (key && !strcmp(r->method, "DELETE")) {
        delete_object(key, a);
    } else {
        s3_error(a, 405, "MethodNotAllowed", NULL,
                 "The specified method is not allowed against this resource.");
    }
    /* The log: one JSON line per request. */
    if (opt.log) {
        struct pl_buf l;
        pl_buf_init(&l, BODY_MAX);
        pl_buf_printf(&l, "{\"n\":%lu,\"method\":", opt.n);
        pl_buf_append_json_string(&l, r->method);
        pl_buf_append_str(&l, ",\"path\":");
        pl_buf_append_json_string(&l, r->path);
        pl_buf_append_str(&l, ",\"query\":");
        pl_buf_append_json_string(&l, r->query ? r->query : "");
        pl_buf_append_str(&l, ",\"bucket\":");
        pl_buf_append_json_string(&l, bucket);
        if (key) {
            pl_buf_append_str(&l, ",\"key\":");
            pl_buf_append_json_string(&l, key);
        }
        pl_buf_printf(&l, ",\"op\":\"%s\",\"status\":%d", a->op ? a->op : "error", a->status);
        if (a->code[0])
            pl_buf_printf(&l, ",\"code\":\"%s\"", a->code);
        pl_buf_append_str(&l, "}\n");
        fwrite(l.data, 1, l.len, opt.log);
        fflush(opt.log);
        pl_buf_cleanup(&l);
    }
    pl_free(bucket);
    pl_free(key);
}

/* ---- HTTP/1.1, kept alive ---- */

static void send_answer(struct fake_http_req *req, struct answer *a)
{
    struct pl_buf out;
    pl_buf_init(&out, BODY_MAX + 65536);
    pl_buf_printf(&out,
                  "HTTP/1.1 %d %s\r\nx-amz-request-id: FAKE%08lu\r\nServer: AmazonS3\r\n"
                  "Content-Length: %zu\r\n%s%s%s",
                  a->status, fake_http_reason(a->status), opt.n, a->body.len,
                  a->content_type ? "Content-Type: " : "", a->content_type ? a->content_type : "",
                  a->content_type ? "\r\n" : "");
    pl_buf_append(&out, a->headers.data ? a->headers.data : "", a->headers.len);
    pl_buf_append_str(&out, "\r\n");
    if (!a->head_only)
        pl_buf_append(&out, a->body.data ? a->body.data : "", a->body.len);
    fake_http_send(req, out.data, out.len, 0);
    pl_buf_cleanup(&out);
}

static void on_request(void *ud, struct fake_http_req *req)
{
    (void)ud;
    opt.n++;
    struct answer a = {0};
    pl_buf_init(&a.headers, 64 * 1024);
    pl_buf_init(&a.body, BODY_MAX);
    if (req->path[0] != '/')
        s3_error(&a, 400, "InvalidRequest", NULL, "bad request line");
    else
        handle(req, &a);
    send_answer(req, &a);
    pl_buf_cleanup(&a.headers);
    pl_buf_cleanup(&a.body);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    fake_http_stop(&http);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_s3 --dir DIR [--port N] [--host H] [--bucket NAME] [--region R]\n"
                    "               [--page-size N] [--log FILE] [--ready-file FILE]\n"
                    "               [--aws-access-key-id ID] [--aws-secret-access-key S]\n"
                    "               [--aws-session-token T] [--deny-bucket NAME]\n"
                    "               [--wrong-region-status 301|400]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *ready = NULL, *log_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--dir"))
            opt.dir = v;
        else if (!strcmp(a, "--port"))
            opt.port = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--bucket"))
            opt.bucket = v;
        else if (!strcmp(a, "--region"))
            opt.region = v;
        else if (!strcmp(a, "--page-size"))
            opt.page_size = strtol(v, NULL, 10);
        else if (!strcmp(a, "--log"))
            log_path = v;
        else if (!strcmp(a, "--ready-file"))
            ready = v;
        else if (!strcmp(a, "--aws-access-key-id"))
            opt.key_id = v;
        else if (!strcmp(a, "--aws-secret-access-key"))
            opt.secret = v;
        else if (!strcmp(a, "--aws-session-token"))
            opt.token = v;
        else if (!strcmp(a, "--deny-bucket"))
            opt.deny_bucket = v;
        else if (!strcmp(a, "--wrong-region-status"))
            opt.wrong_region_status = (int)strtol(v, NULL, 10);
        else
            return usage();
    }
    if (!opt.dir || opt.page_size < 1 ||
        (opt.wrong_region_status != 301 && opt.wrong_region_status != 400))
        return usage();
    if (log_path && !(opt.log = fopen(log_path, "a"))) {
        fprintf(stderr, "fake_s3: cannot open %s\n", log_path);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    const struct fake_http_options where = {
        .host = opt.host, .port = opt.port, .keep_alive = true, .request_max = BODY_MAX + 65536};
    if (fake_http_listen(&http, loop, &where, on_request, NULL) != 0) {
        fprintf(stderr, "fake_s3: cannot listen on %s:%d\n", opt.host, opt.port);
        return 1;
    }
    int port = http.port;
    if (ready)
        fake_http_write_ready(ready, port);
    fprintf(stderr, "fake_s3 listening on %s:%d, bucket %s in %s from %s\n", opt.host, port,
            opt.bucket, opt.region, opt.dir);
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (opt.log)
        fclose(opt.log);
    fprintf(stderr, "fake_s3: served %lu requests\n", opt.n);
    return 0;
}
