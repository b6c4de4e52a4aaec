/* libFuzzer target for S3's XML replies (connectors/s3_list.h): a ListObjectsV2 page and an
 * error body, as the bucket's endpoint (or anything answering in its place) sends them to
 * `parley kb sync`. Contract: the list reader answers only PL_OK, PL_EPROTO or PL_ETOOBIG and
 * leaves nothing on a refusal; an accepted page has non-empty keys within the text bound, a
 * token whenever it is truncated, and reads the same twice; written back as XML (every object,
 * the flag and the token escaped) it reads back to the same objects; the error reader answers
 * PL_OK with a non-empty code or PL_EPROTO with every field empty, and its fields never hold a
 * control byte (they are printed on one line). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/s3_list.h"
#include "tests/fuzz/fuzz_check.h"

static void escape(struct pl_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            pl_buf_append_str(b, "&amp;");
            break;
        case '<':
            pl_buf_append_str(b, "&lt;");
            break;
        case '>':
            pl_buf_append_str(b, "&gt;");
            break;
        case '"':
            pl_buf_append_str(b, "&quot;");
            break;
        case '\'':
            pl_buf_append_str(b, "&apos;");
            break;
        default:
            pl_buf_append(b, s, 1);
        }
    }
}

static void same_pages(const struct s3_list_page *a, const struct s3_list_page *b)
{
    CHECK(a->n == b->n);
    CHECK(a->is_truncated == b->is_truncated);
    CHECK(!a->next_token == !b->next_token);
    if (a->next_token)
        CHECK(!strcmp(a->next_token, b->next_token));
    for (size_t i = 0; i < a->n; i++) {
        CHECK(!strcmp(a->objects[i].key, b->objects[i].key));
        CHECK(!strcmp(a->objects[i].etag, b->objects[i].etag));
        CHECK(a->objects[i].size == b->objects[i].size);
    }
}

static void check_list(const uint8_t *data, size_t size)
{
    struct s3_list_page p, again;
    int rc = s3_list_parse((const char *)data, size, &p);
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_ETOOBIG);
    CHECK(s3_list_parse((const char *)data, size, &again) == rc);
    if (rc != PL_OK) {
        CHECK(p.n == 0 && !p.objects && !p.next_token);
        return;
    }
    same_pages(&p, &again);
    s3_list_page_cleanup(&again);
    CHECK(!p.is_truncated || (p.next_token && p.next_token[0]));
    for (size_t i = 0; i < p.n; i++) {
        size_t len = strlen(p.objects[i].key);
        CHECK(len > 0 && len <= S3_LIST_MAX_TEXT);
        CHECK(strlen(p.objects[i].etag) <= S3_LIST_MAX_TEXT);
        CHECK(strlen(p.objects[i].last_modified) < sizeof(p.objects[i].last_modified));
    }
    /* Written back, read back the same. */
    struct pl_buf x;
    pl_buf_init(&x, (size_t)64 << 20);
    pl_buf_printf(&x, "<ListBucketResult><IsTruncated>%s</IsTruncated>",
                  p.is_truncated ? "true" : "false");
    if (p.next_token) {
        pl_buf_append_str(&x, "<NextContinuationToken>");
        escape(&x, p.next_token);
        pl_buf_append_str(&x, "</NextContinuationToken>");
    }
    for (size_t i = 0; i < p.n; i++) {
        pl_buf_append_str(&x, "<Contents><Key>");
        escape(&x, p.objects[i].key);
        pl_buf_append_str(&x, "</Key><ETag>");
        escape(&x, p.objects[i].etag);
        pl_buf_printf(&x, "</ETag><Size>%llu</Size></Contents>",
                      (unsigned long long)p.objects[i].size);
    }
    pl_buf_append_str(&x, "</ListBucketResult>");
    CHECK(s3_list_parse(x.data, x.len, &again) == PL_OK);
    same_pages(&p, &again);
    s3_list_page_cleanup(&again);
    pl_buf_cleanup(&x);
    s3_list_page_cleanup(&p);
}

static void check_field(const char *f, size_t cap)
{
    size_t n = strnlen(f, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)f[i] >= 0x20 && f[i] != 0x7F);
}

static void check_error(const uint8_t *data, size_t size)
{
    struct s3_error e;
    int rc = s3_error_parse((const char *)data, size, &e);
    CHECK(rc == PL_OK || rc == PL_EPROTO);
    CHECK((rc == PL_OK) == (e.code[0] != '\0'));
    check_field(e.code, sizeof(e.code));
    check_field(e.message, sizeof(e.message));
    check_field(e.region, sizeof(e.region));
    check_field(e.endpoint, sizeof(e.endpoint));
    check_field(e.bucket, sizeof(e.bucket));
    check_field(e.request_id, sizeof(e.request_id));
    if (rc != PL_OK)
        CHECK(!e.message[0] && !e.region[0] && !e.endpoint[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_list(data, size);
    check_error(data, size);
    char out[64];
    size_t n = 0;
    int rc = s3_xml_decode((const char *)data, size, out, sizeof(out) - 1, &n);
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_ETOOBIG);
    if (rc == PL_OK)
        CHECK(n < sizeof(out) && out[n] == '\0');
    return 0;
}
