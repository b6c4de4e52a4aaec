/* libFuzzer target for SigV4 canonicalisation (connectors/aws_sigv4.h): every request Parley
 * sends to Bedrock is signed, and the upstream double checks signatures with the same code on
 * requests it did not make. The input is a flags byte, then lines: a path, a query, and
 * "name:value" headers. Checks: the canonical URI holds only unreserved bytes, '/' and
 * upper-case escapes, has no empty or dot segment, and canonicalising its decoded form gives it
 * back (S3 paths come back unchanged); the canonical query is sorted, encoded and idempotent;
 * canonical headers are sorted lower-case names with trimmed values, and reading the block back
 * as headers gives the same block; signing is deterministic and within the bounds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_sigv4.h"
#include "fuzz_check.h"

#define MAX_LINES (PL_SIGV4_MAX_HEADERS + 8)

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool is_unreserved(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* Only unreserved bytes and %XX escapes (and '/' where allowed). */
static void check_encoded(const char *s, size_t len, bool slash_ok)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            CHECK(i + 2 < len && is_upper_hex(s[i + 1]) && is_upper_hex(s[i + 2]));
            i += 2;
        } else {
            CHECK(is_unreserved(s[i]) || (slash_ok && s[i] == '/'));
        }
    }
}

static void decode(struct pl_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        CHECK(pl_buf_append(out, &c, 1) == PL_OK);
    }
}

static void fuzz_uri(const char *path, unsigned flags)
{
    struct pl_buf a, b, d;
    pl_buf_init(&a, 1 << 20);
    pl_buf_init(&b, 1 << 20);
    pl_buf_init(&d, 1 << 20);
    int rc = pl_sigv4_canonical_uri(&a, path, flags);
    CHECK(rc == PL_OK || rc == PL_EINVAL || rc == PL_ETOOBIG);
    CHECK(pl_sigv4_canonical_uri(&b, path, flags) == rc);
    if (rc == PL_OK) {
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        CHECK(a.len <= 3 * strlen(path) + 1);
        if (flags & PL_SIGV4_S3_PATH) {
            CHECK(strcmp(a.data, path) == 0);
        } else {
            CHECK(a.data[0] == '/');
            check_encoded(a.data, a.len, true);
            CHECK(!strstr(a.data, "//") && !strstr(a.data, "/./") && !strstr(a.data, "/../"));
            CHECK(strcmp(a.data + a.len - (a.len >= 2 ? 2 : a.len), "/.") != 0);
            CHECK(a.len < 3 || strcmp(a.data + a.len - 3, "/..") != 0);
            /* The normalised path as sent, decoded back, canonicalises to the same URI. */
            decode(&d, a.data, a.len);
            pl_buf_reset(&b);
            CHECK(pl_sigv4_canonical_uri(&b, d.data, 0) == PL_OK);
            CHECK(strcmp(a.data, b.data) == 0);
        }
    }
    pl_buf_cleanup(&a);
    pl_buf_cleanup(&b);
    pl_buf_cleanup(&d);
}

struct part {
    const char *p;
    size_t len;
};

static int compare_parts(struct part x, struct part y)
{
    int c = memcmp(x.p, y.p, x.len < y.len ? x.len : y.len);
    return c ? c : (x.len > y.len) - (x.len < y.len);
}

static void fuzz_query(const char *query)
{
    struct pl_buf a, b;
    pl_buf_init(&a, 1 << 20);
    pl_buf_init(&b, 1 << 20);
    pl_buf_append(&a, "", 0);
    pl_buf_append(&b, "", 0);
    int rc = pl_sigv4_canonical_query(&a, query);
    CHECK(rc == PL_OK || rc == PL_EINVAL || rc == PL_ETOOBIG);
    if (rc == PL_OK) {
        CHECK(a.len <= 3 * strlen(query) + PL_SIGV4_MAX_QUERY_PARAMS);
        /* name=value pairs joined with '&', sorted, each part encoded. */
        struct part prev_name = {NULL, 0}, prev_value = {NULL, 0};
        for (size_t i = 0; i < a.len;) {
            size_t j = i;
            while (j < a.len && a.data[j] != '&')
                j++;
            const char *eq = memchr(a.data + i, '=', j - i);
            CHECK(eq != NULL);
            struct part name = {a.data + i, (size_t)(eq - (a.data + i))};
            struct part value = {eq + 1, (size_t)(a.data + j - eq - 1)};
            check_encoded(name.p, name.len, false);
            check_encoded(value.p, value.len, false);
            if (prev_name.p) {
                int c = compare_parts(prev_name, name);
                CHECK(c < 0 || (c == 0 && compare_parts(prev_value, value) <= 0));
            }
            prev_name = name;
            prev_value = value;
            i = j + 1;
        }
        CHECK(pl_sigv4_canonical_query(&b, a.data) == PL_OK);
        CHECK(strcmp(a.data, b.data) == 0);
    }
    pl_buf_cleanup(&a);
    pl_buf_cleanup(&b);
}

static void fuzz_headers(const struct pl_sigv4_header *hs, size_t n)
{
    struct pl_buf block, names, block2, names2;
    pl_buf_init(&block, 1 << 22);
    pl_buf_init(&names, 1 << 22);
    pl_buf_init(&block2, 1 << 22);
    pl_buf_init(&names2, 1 << 22);
    int rc = pl_sigv4_canonical_headers(&block, &names, hs, n);
    CHECK(rc == PL_OK || rc == PL_EINVAL || rc == PL_ETOOBIG);
    if (rc == PL_OK) {
        /* Read the block back as headers: lines cut in place. */
        static struct pl_sigv4_header back[PL_SIGV4_MAX_HEADERS + PL_SIGV4_MAX_ADDED];
        size_t m = 0;
        char *p = block.data;
        const char *prev = "";
        while (*p) {
            char *eol = strchr(p, '\n');
            CHECK(eol != NULL);
            *eol = '\0';
            char *colon = strchr(p, ':');
            CHECK(colon != NULL && colon > p);
            *colon = '\0';
            for (char *c = p; *c; c++)
                CHECK(!(*c >= 'A' && *c <= 'Z'));
            CHECK(strcmp(prev, p) < 0); /* sorted, duplicates merged */
            const char *v = colon + 1;
            size_t vlen = strlen(v);
            CHECK(vlen == 0 || (v[0] != ' ' && v[vlen - 1] != ' '));
            CHECK(!strstr(v, "  ") && !strchr(v, '\t'));
            CHECK(m < sizeof back / sizeof back[0]);
            back[m++] = (struct pl_sigv4_header){p, v};
            prev = p;
            p = eol + 1;
        }
        CHECK(pl_sigv4_canonical_headers(&block2, &names2, back, m) == PL_OK);
        CHECK(strcmp(names.data, names2.data) == 0);
        /* block2 has its '\n' and ':' where block now has NULs. */
        CHECK(block2.len == block.len);
        for (size_t i = 0; i < block.len; i++)
            CHECK(block2.data[i] == block.data[i] ||
                  (block.data[i] == '\0' && (block2.data[i] == '\n' || block2.data[i] == ':')));
    }
    pl_buf_cleanup(&block);
    pl_buf_cleanup(&names);
    pl_buf_cleanup(&block2);
    pl_buf_cleanup(&names2);
}

static void fuzz_sign(const char *path, const char *query, const struct pl_sigv4_header *hs,
                      size_t n, unsigned flags, uint64_t seed)
{
    struct pl_sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                   (seed & 1) ? "session/token+=" : NULL};
    struct pl_sigv4_request req = {.method = (seed & 2) ? "POST" : "GET",
                                   .path = path,
                                   .query = query,
                                   .headers = hs,
                                   .n_headers = n,
                                   .payload = query,
                                   .payload_len = strlen(query),
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = (time_t)(seed % 4102444800u),
                                   .flags = flags};
    struct pl_sigv4_result a, b;
    int rc = pl_sigv4_sign(&req, &creds, &a);
    CHECK(rc == PL_OK || rc == PL_EINVAL || rc == PL_ETOOBIG);
    CHECK(pl_sigv4_sign(&req, &creds, &b) == rc);
    if (rc == PL_OK) {
        CHECK(a.canonical_request.len <= PL_SIGV4_MAX_CANONICAL);
        CHECK(strcmp(a.authorization.data, b.authorization.data) == 0);
        CHECK(strcmp(a.canonical_request.data, b.canonical_request.data) == 0);
        CHECK(strncmp(a.authorization.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) == 0);
        CHECK(strlen(a.signature) == 64 && strlen(a.amz_date) == 16);
        CHECK(strcmp(a.headers[a.n_headers - 1].name, "authorization") == 0);
        CHECK(a.n_headers == 2 + ((flags & PL_SIGV4_CONTENT_SHA256) != 0) + (seed & 1));
    }
    pl_sigv4_result_cleanup(&a);
    pl_sigv4_result_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (PL_SIGV4_S3_PATH | PL_SIGV4_CONTENT_SHA256);
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    /* Lines: path, query, then headers. */
    char *lines[MAX_LINES];
    size_t n_lines = 0;
    for (char *p = text; p && n_lines < MAX_LINES;) {
        lines[n_lines++] = p;
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        p = eol ? eol + 1 : NULL;
    }
    const char *path = n_lines > 0 ? lines[0] : "/";
    const char *query = n_lines > 1 ? lines[1] : "";
    static struct pl_sigv4_header hs[MAX_LINES];
    size_t n = 0;
    for (size_t i = 2; i < n_lines; i++) {
        char *colon = strchr(lines[i], ':');
        if (colon)
            *colon = '\0';
        hs[n++] = (struct pl_sigv4_header){lines[i], colon ? colon + 1 : ""};
    }

    fuzz_uri(path, 0);
    fuzz_uri(path, PL_SIGV4_S3_PATH);
    fuzz_query(query);
    fuzz_headers(hs, n);
    fuzz_sign(path, query, hs, n, flags, fuzz_seed(data, size));
    free(text);
    return 0;
}
