/* AWS SigV4 header signing; see aws_sigv4.h. */
#include "connectors/aws_sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/alloc.h"
#include "common/err.h"

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* RFC 9110 token characters (header names, methods). */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void to_hex(char *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hex_lower[src[i] >> 4];
        dst[2 * i + 1] = hex_lower[src[i] & 15];
    }
    dst[2 * n] = '\0';
}

int pl_sigv4_uri_encode(struct pl_buf *out, const char *s, size_t len, bool keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = pl_buf_append(out, &s[i], 1);
        } else {
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
            rc = pl_buf_append(out, esc, 3);
        }
        if (rc)
            return rc;
    }
    return PL_OK;
}

/* ---- canonical URI ---- */

struct segment {
    const char *p;
    size_t len;
};

int pl_sigv4_canonical_uri(struct pl_buf *out, const char *path, unsigned flags)
{
    size_t len = strlen(path);
    if (len > PL_SIGV4_MAX_PATH)
        return PL_ETOOBIG;
    if (len == 0 || path[0] != '/')
        return PL_EINVAL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f || path[i] == '?' || path[i] == '#')
            return PL_EINVAL; /* would end the path or corrupt the request line */
    if (flags & PL_SIGV4_S3_PATH)
        return pl_buf_append(out, path, len);

    /* Drop empty and "." segments, let ".." remove the one before (RFC 3986 5.2.4, as the
     * SDKs do it), then encode what is left once more. */
    static _Thread_local struct segment segs[PL_SIGV4_MAX_PATH / 2 + 1];
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t seg_len = j - i;
        if (seg_len == 0 || (seg_len == 1 && path[i] == '.')) {
            /* nothing */
        } else if (seg_len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (n)
                n--;
        } else {
            segs[n].p = path + i;
            segs[n].len = seg_len;
            n++;
        }
        i = j + 1;
    }
    int rc = pl_buf_append(out, "/", 1);
    for (size_t k = 0; k < n && !rc; k++) {
        if (k)
            rc = pl_buf_append(out, "/", 1);
        if (!rc)
            rc = pl_sigv4_uri_encode(out, segs[k].p, segs[k].len, false);
    }
    if (!rc && n && path[len - 1] == '/')
        rc = pl_buf_append(out, "/", 1);
    return rc;
}

/* ---- canonical query ---- */

struct query_param {
    struct pl_buf name, value; /* encoded */
};

/* Decode `len` bytes of percent-encoding from `s` and encode them canonically into `out`.
 * '+' stays a literal plus: SigV4 does not read queries as forms. */
static int reencode(struct pl_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return PL_EINVAL;
            int h = hex_value((unsigned char)s[i + 1]);
            int l = hex_value((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return PL_EINVAL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        int rc = pl_sigv4_uri_encode(out, &c, 1, false);
        if (rc)
            return rc;
    }
    return PL_OK;
}

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->name.data, y->name.data);
    return c ? c : strcmp(x->value.data, y->value.data);
}

int pl_sigv4_canonical_query(struct pl_buf *out, const char *query)
{
    if (!query || !*query)
        return PL_OK;
    size_t len = strlen(query);
    if (len > PL_SIGV4_MAX_QUERY)
        return PL_ETOOBIG;
    struct query_param params[PL_SIGV4_MAX_QUERY_PARAMS];
    size_t n = 0;
    int rc = PL_OK;
    for (size_t i = 0; i <= len && !rc;) {
        size_t j = i;
        while (j < len && query[j] != '&')
            j++;
        if (j > i) {
            if (n == PL_SIGV4_MAX_QUERY_PARAMS) {
                rc = PL_ETOOBIG;
                break;
            }
            const char *eq = memchr(query + i, '=', j - i);
            size_t name_len = eq ? (size_t)(eq - (query + i)) : j - i;
            struct query_param *p = &params[n++];
            pl_buf_init(&p->name, 3 * PL_SIGV4_MAX_QUERY);
            pl_buf_init(&p->value, 3 * PL_SIGV4_MAX_QUERY);
            /* Empty strings still need storage for strcmp. */
            rc = pl_buf_append(&p->name, "", 0);
            if (!rc)
                rc = pl_buf_append(&p->value, "", 0);
            if (!rc)
                rc = reencode(&p->name, query + i, name_len);
            if (!rc && eq)
                rc = reencode(&p->value, eq + 1, (size_t)(query + j - eq - 1));
        }
        i = j + 1;
    }
    if (!rc) {
        qsort(params, n, sizeof params[0], compare_params);
        for (size_t k = 0; k < n && !rc; k++) {
            if (k)
                rc = pl_buf_append(out, "&", 1);
            if (!rc)
                rc = pl_buf_append(out, params[k].name.data, params[k].name.len);
            if (!rc)
                rc = pl_buf_append(out, "=", 1);
            if (!rc)
                rc = pl_buf_append(out, params[k].value.data, params[k].value.len);
        }
    }
    for (size_t k = 0; k < n; k++) {
        pl_buf_cleanup(&params[k].name);
        pl_buf_cleanup(&params[k].value);
    }
    return rc;
}

/* ---- canonical headers ---- */

/* Hop-by-hop and mutable headers a proxy may change: never signed (the union of the lists
 * of smithy's signer and botocore). */
static bool is_unsignable(const char *lower)
{
    static const char *const names[] = {
        "authorization", "cache-control",     "connection", "expect",     "from",
        "keep-alive",    "max-forwards",      "pragma",     "referer",    "te",
        "trailer",       "transfer-encoding", "upgrade",    "user-agent", "x-amzn-trace-id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(lower, names[i]) == 0)
            return true;
    return strncmp(lower, "proxy-", 6) == 0 || strncmp(lower, "sec-", 4) == 0;
}

struct canon_header {
    char name[PL_SIGV4_MAX_HEADER_NAME + 1]; /* lower-case */
    size_t index;                            /* position given: duplicates keep their order */
    const char *value;
};

static int compare_headers(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The value trimmed, inner runs of blanks as one space. */
static int append_trimmed(struct pl_buf *out, const char *v)
{
    bool pending_space = false, started = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending_space = started;
            continue;
        }
        if (pending_space && pl_buf_append(out, " ", 1))
            return PL_ETOOBIG;
        pending_space = false;
        started = true;
        if (pl_buf_append(out, v, 1))
            return PL_ETOOBIG;
    }
    return PL_OK;
}

static int check_header(const struct pl_sigv4_header *h)
{
    size_t name_len = strlen(h->name);
    if (name_len == 0)
        return PL_EINVAL;
    if (name_len > PL_SIGV4_MAX_HEADER_NAME)
        return PL_ETOOBIG;
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)h->name[i]))
            return PL_EINVAL;
    size_t value_len = 0;
    for (const char *v = h->value; *v; v++, value_len++)
        if (*v == '\r' || *v == '\n' || *v == 0x7f || ((unsigned char)*v < 0x20 && *v != '\t'))
            return PL_EINVAL; /* would split or corrupt the header on the wire */
    return value_len > PL_SIGV4_MAX_HEADER_VALUE ? PL_ETOOBIG : PL_OK;
}

int pl_sigv4_canonical_headers(struct pl_buf *block, struct pl_buf *names,
                               const struct pl_sigv4_header *headers, size_t n)
{
    if (n > PL_SIGV4_MAX_HEADERS + PL_SIGV4_MAX_ADDED)
        return PL_ETOOBIG;
    static _Thread_local struct canon_header hs[PL_SIGV4_MAX_HEADERS + PL_SIGV4_MAX_ADDED];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_header(&headers[i]);
        if (rc)
            return rc;
        struct canon_header *c = &hs[m];
        size_t k = 0;
        for (const char *s = headers[i].name; *s; s++, k++)
            c->name[k] = (char)((*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : *s);
        c->name[k] = '\0';
        if (is_unsignable(c->name))
            continue;
        c->index = i;
        c->value = headers[i].value;
        m++;
    }
    qsort(hs, m, sizeof hs[0], compare_headers);
    int rc = pl_buf_append(block, "", 0);
    if (!rc)
        rc = pl_buf_append(names, "", 0);
    for (size_t i = 0; i < m && !rc; i++) {
        bool same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same) {
            /* Replace the previous line's '\n' by ',' and go on with this value. */
            block->len--;
            rc = pl_buf_append(block, ",", 1);
        } else {
            if (i)
                rc = pl_buf_append(names, ";", 1);
            if (!rc)
                rc = pl_buf_append_str(names, hs[i].name);
            if (!rc)
                rc = pl_buf_append_str(block, hs[i].name);
            if (!rc)
                rc = pl_buf_append(block, ":", 1);
        }
        if (!rc)
            rc = append_trimmed(block, hs[i].value);
        if (!rc)
            rc = pl_buf_append(block, "\n", 1);
    }
    return rc;
}

/* ---- signing ---- */

static bool is_scope_part(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
            return false;
    return n > 0 && n <= PL_SIGV4_MAX_SCOPE_PART;
}

static bool is_printable(const char *s, size_t max, bool allow_empty)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
            return false;
    return (allow_empty || n > 0) && n <= max;
}

/* Headers the signer writes itself: the caller must not give them too. */
static bool is_signer_header(const char *name)
{
    return strcasecmp(name, "x-amz-date") == 0 || strcasecmp(name, "authorization") == 0 ||
           strcasecmp(name, "x-amz-security-token") == 0 ||
           strcasecmp(name, "x-amz-content-sha256") == 0;
}

static int check_request(const struct pl_sigv4_request *req, const struct pl_sigv4_creds *creds)
{
    if (!req->method || !req->path || !req->region || !req->service || !creds ||
        !creds->access_key_id || !creds->secret_access_key || (req->n_headers && !req->headers))
        return PL_EINVAL;
    size_t mlen = strlen(req->method);
    if (mlen == 0 || mlen > PL_SIGV4_MAX_METHOD)
        return mlen ? PL_ETOOBIG : PL_EINVAL;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)req->method[i]))
            return PL_EINVAL;
    if (!is_scope_part(req->region) || !is_scope_part(req->service))
        return PL_EINVAL;
    if (!is_printable(creds->access_key_id, PL_SIGV4_MAX_KEY, false) ||
        strpbrk(creds->access_key_id, "/,") ||
        !is_printable(creds->secret_access_key, PL_SIGV4_MAX_KEY, false) ||
        (creds->session_token && !is_printable(creds->session_token, PL_SIGV4_MAX_TOKEN, true)))
        return PL_EINVAL;
    if (req->n_headers > PL_SIGV4_MAX_HEADERS)
        return PL_ETOOBIG;
    bool host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!req->headers[i].name || !req->headers[i].value)
            return PL_EINVAL;
        if (is_signer_header(req->headers[i].name))
            return PL_EINVAL;
        host = host || strcasecmp(req->headers[i].name, "host") == 0;
    }
    if (!host)
        return PL_EINVAL;
    if (req->payload_sha256) {
        bool hex = strlen(req->payload_sha256) == 64;
        for (size_t i = 0; hex && i < 64; i++)
            hex = strchr(hex_lower, req->payload_sha256[i]) != NULL;
        if (!hex && strcmp(req->payload_sha256, "UNSIGNED-PAYLOAD") != 0)
            return PL_EINVAL;
    } else if (req->payload_len && !req->payload) {
        return PL_EINVAL;
    }
    return PL_OK;
}

/* ---- hashing: OpenSSL's implementations fetched once per cache ---- */

struct pl_sigv4_key_cache {
    EVP_MD *sha256;
    EVP_MAC *hmac;
    EVP_MD_CTX *md_ctx;
    EVP_MAC_CTX *mac_ctx;
    /* The scope the key was derived for; valid when `have_key`. */
    bool have_key;
    char access_key_id[PL_SIGV4_MAX_KEY + 1];
    unsigned char secret_sha256[32];
    char date[9];
    char region[PL_SIGV4_MAX_SCOPE_PART + 1];
    char service[PL_SIGV4_MAX_SCOPE_PART + 1];
    unsigned char key[32];
    unsigned long derivations;
};

/* The implementations and contexts only; `c` zeroed. */
static int crypto_open(struct pl_sigv4_key_cache *c)
{
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    c->md_ctx = EVP_MD_CTX_new();
    c->mac_ctx = c->hmac ? EVP_MAC_CTX_new(c->hmac) : NULL;
    if (!c->sha256 || !c->hmac || !c->md_ctx || !c->mac_ctx)
        return PL_ENOMEM;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(c->mac_ctx, params) == 1 ? PL_OK : PL_ENOMEM;
}

static void crypto_close(struct pl_sigv4_key_cache *c)
{
    EVP_MAC_CTX_free(c->mac_ctx);
    EVP_MD_CTX_free(c->md_ctx);
    EVP_MAC_free(c->hmac);
    EVP_MD_free(c->sha256);
    OPENSSL_cleanse(c, sizeof *c);
}

struct pl_sigv4_key_cache *pl_sigv4_key_cache_new(void)
{
    struct pl_sigv4_key_cache *c = pl_calloc(1, sizeof *c);
    if (crypto_open(c) != PL_OK) {
        crypto_close(c);
        pl_free(c);
        return NULL;
    }
    return c;
}

void pl_sigv4_key_cache_free(struct pl_sigv4_key_cache *cache)
{
    if (!cache)
        return;
    crypto_close(cache);
    pl_free(cache);
}

unsigned long pl_sigv4_key_cache_derivations(const struct pl_sigv4_key_cache *cache)
{
    return cache ? cache->derivations : 0;
}

static int sha256(struct pl_sigv4_key_cache *c, unsigned char out[32], const void *data, size_t len)
{
    unsigned int n = 32;
    if (EVP_DigestInit_ex2(c->md_ctx, c->sha256, NULL) != 1 ||
        EVP_DigestUpdate(c->md_ctx, data, len) != 1 || EVP_DigestFinal_ex(c->md_ctx, out, &n) != 1)
        return PL_ENOMEM;
    return PL_OK;
}

static int hmac(struct pl_sigv4_key_cache *c, unsigned char out[32], const void *key,
                size_t key_len, const char *msg, size_t msg_len)
{
    size_t n = 0;
    if (EVP_MAC_init(c->mac_ctx, key, key_len, NULL) != 1 ||
        EVP_MAC_update(c->mac_ctx, (const unsigned char *)msg, msg_len) != 1 ||
        EVP_MAC_final(c->mac_ctx, out, &n, 32) != 1 || n != 32)
        return PL_ENOMEM;
    return PL_OK;
}

/* The signing key in c->key for this scope: a chain of HMACs from "AWS4" + secret over date,
 * region, service; kept while the scope and the secret stay the same. */
static int signing_key(struct pl_sigv4_key_cache *c, const struct pl_sigv4_request *req,
                       const struct pl_sigv4_creds *creds, const char date[9])
{
    size_t secret_len = strlen(creds->secret_access_key);
    unsigned char secret_sha256[32];
    int rc = sha256(c, secret_sha256, creds->secret_access_key, secret_len);
    if (rc)
        return rc;
    if (c->have_key && !strcmp(c->date, date) && !strcmp(c->region, req->region) &&
        !strcmp(c->service, req->service) && !strcmp(c->access_key_id, creds->access_key_id) &&
        !CRYPTO_memcmp(c->secret_sha256, secret_sha256, 32))
        return PL_OK;
    c->have_key = false;
    OPENSSL_cleanse(c->key, sizeof c->key);
    char secret[4 + PL_SIGV4_MAX_KEY + 1];
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, creds->secret_access_key, secret_len);
    unsigned char key[32];
    rc = hmac(c, key, secret, 4 + secret_len, date, 8);
    if (!rc)
        rc = hmac(c, key, key, 32, req->region, strlen(req->region));
    if (!rc)
        rc = hmac(c, key, key, 32, req->service, strlen(req->service));
    if (!rc)
        rc = hmac(c, c->key, key, 32, "aws4_request", 12);
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(key, sizeof key);
    if (rc)
        return rc;
    /* The scope parts were checked against their bounds (check_request). */
    snprintf(c->access_key_id, sizeof c->access_key_id, "%s", creds->access_key_id);
    memcpy(c->secret_sha256, secret_sha256, 32);
    memcpy(c->date, date, 9);
    snprintf(c->region, sizeof c->region, "%s", req->region);
    snprintf(c->service, sizeof c->service, "%s", req->service);
    c->have_key = true;
    c->derivations++;
    return PL_OK;
}

void pl_sigv4_result_cleanup(struct pl_sigv4_result *out)
{
    pl_buf_cleanup(&out->authorization);
    pl_buf_cleanup(&out->signed_headers);
    pl_buf_cleanup(&out->canonical_request);
    pl_buf_cleanup(&out->string_to_sign);
    out->n_headers = 0;
}

static int build_canonical(const struct pl_sigv4_request *req, const struct pl_sigv4_creds *creds,
                           struct pl_sigv4_result *out)
{
    /* The caller's headers plus the ones the signer adds, all signed. */
    static _Thread_local struct pl_sigv4_header all[PL_SIGV4_MAX_HEADERS + PL_SIGV4_MAX_ADDED];
    size_t n = req->n_headers;
    memcpy(all, req->headers, n * sizeof all[0]);
    all[n++] = (struct pl_sigv4_header){"x-amz-date", out->amz_date};
    if (req->flags & PL_SIGV4_CONTENT_SHA256)
        all[n++] = (struct pl_sigv4_header){"x-amz-content-sha256", out->payload_sha256};
    if (creds->session_token && *creds->session_token)
        all[n++] = (struct pl_sigv4_header){"x-amz-security-token", creds->session_token};

    struct pl_buf *c = &out->canonical_request;
    struct pl_buf block;
    pl_buf_init(&block, PL_SIGV4_MAX_CANONICAL);
    int rc = pl_buf_append_str(c, req->method);
    if (!rc)
        rc = pl_buf_append(c, "\n", 1);
    if (!rc)
        rc = pl_sigv4_canonical_uri(c, req->path, req->flags);
    if (!rc)
        rc = pl_buf_append(c, "\n", 1);
    if (!rc)
        rc = pl_sigv4_canonical_query(c, req->query);
    if (!rc)
        rc = pl_buf_append(c, "\n", 1);
    if (!rc)
        rc = pl_sigv4_canonical_headers(&block, &out->signed_headers, all, n);
    if (!rc)
        rc = pl_buf_append(c, block.data, block.len);
    if (!rc)
        rc = pl_buf_printf(c, "\n%s\n%s", out->signed_headers.data, out->payload_sha256);
    pl_buf_cleanup(&block);
    return rc;
}

static int sign(struct pl_sigv4_key_cache *c, const struct pl_sigv4_request *req,
                const struct pl_sigv4_creds *creds, struct pl_sigv4_result *out)
{
    int rc;
    struct tm tm;
    if (!gmtime_r(&req->time, &tm) || tm.tm_year < 1000 - 1900 || tm.tm_year > 9999 - 1900)
        return PL_EINVAL;
    if (strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return PL_EINVAL;
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    if (req->payload_sha256) {
        snprintf(out->payload_sha256, sizeof out->payload_sha256, "%s", req->payload_sha256);
    } else {
        unsigned char digest[32];
        rc = sha256(c, digest, req->payload ? req->payload : (const void *)"", req->payload_len);
        if (rc)
            return rc;
        to_hex(out->payload_sha256, digest, 32);
    }

    rc = build_canonical(req, creds, out);
    if (rc)
        return rc;

    unsigned char digest[32];
    char digest_hex[65];
    rc = sha256(c, digest, out->canonical_request.data, out->canonical_request.len);
    if (rc)
        return rc;
    to_hex(digest_hex, digest, 32);
    rc = pl_buf_printf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                       out->amz_date, date, req->region, req->service, digest_hex);
    if (rc)
        return rc;

    unsigned char sig[32];
    rc = signing_key(c, req, creds, date);
    if (!rc)
        rc = hmac(c, sig, c->key, sizeof c->key, out->string_to_sign.data, out->string_to_sign.len);
    if (rc)
        return rc;
    to_hex(out->signature, sig, 32);

    rc = pl_buf_printf(&out->authorization,
                       "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                       "SignedHeaders=%s, Signature=%s",
                       creds->access_key_id, date, req->region, req->service,
                       out->signed_headers.data, out->signature);
    if (rc)
        return rc;

    out->headers[out->n_headers++] = (struct pl_sigv4_header){"x-amz-date", out->amz_date};
    if (req->flags & PL_SIGV4_CONTENT_SHA256)
        out->headers[out->n_headers++] =
            (struct pl_sigv4_header){"x-amz-content-sha256", out->payload_sha256};
    if (creds->session_token && *creds->session_token)
        out->headers[out->n_headers++] =
            (struct pl_sigv4_header){"x-amz-security-token", creds->session_token};
    out->headers[out->n_headers++] =
        (struct pl_sigv4_header){"authorization", out->authorization.data};
    return PL_OK;
}

int pl_sigv4_sign(const struct pl_sigv4_request *req, const struct pl_sigv4_creds *creds,
                  struct pl_sigv4_result *out)
{
    memset(out, 0, sizeof *out);
    pl_buf_init(&out->authorization, PL_SIGV4_MAX_CANONICAL);
    pl_buf_init(&out->signed_headers, PL_SIGV4_MAX_CANONICAL);
    pl_buf_init(&out->canonical_request, PL_SIGV4_MAX_CANONICAL);
    pl_buf_init(&out->string_to_sign, PL_SIGV4_MAX_CANONICAL);
    int rc = check_request(req, creds);
    if (rc)
        return rc;
    if (req->key_cache)
        return sign(req->key_cache, req, creds, out);
    /* No cache: everything for this request alone, the key wiped with it. */
    struct pl_sigv4_key_cache once = {0};
    rc = crypto_open(&once);
    if (!rc)
        rc = sign(&once, req, creds, out);
    crypto_close(&once);
    return rc;
}
