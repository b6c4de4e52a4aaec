/* The HTTP request-head parser: what it takes, what it refuses (and with which status), and that
 * the result is the same wherever the bytes are split: every head below is fed whole, in two
 * pieces at every split point, and one byte at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bot/http_parse.h"
#include "common/alloc.h"

#define LIMIT 16384

/* What one parse gave, comparable across splits. */
struct outcome {
    int status;
    enum api_error error;
    size_t used; /* bytes of the input the head took (DONE), or 0 */
    char summary[512];
};

static void summarise(const struct http_head *h, char *out, size_t n)
{
    snprintf(
        out, n, "%s|%s|%s|1.%d|host=%s|auth=%zu|ct=%s|origin=%s|cl=%d:%llu|ka=%d|up=%d%d|ec=%d|%zu",
        h->method, h->path, h->query, h->version_minor, h->host, strlen(h->authorization),
        h->content_type, h->origin, h->has_content_length, (unsigned long long)h->content_length,
        h->keep_alive, h->connection_upgrade, h->upgrade_websocket, h->expect_continue, h->nfields);
}

/* Feed `in` in pieces of the sizes in `cuts` (the last piece is the rest). */
static struct outcome feed_pieces(const char *in, size_t len, const size_t *cuts, size_t ncuts)
{
    struct http_parser p;
    http_parser_init(&p, LIMIT);
    struct outcome o = {0};
    size_t off = 0;
    int st = HTTP_PARSE_MORE;
    for (size_t k = 0; k <= ncuts && st == HTTP_PARSE_MORE; k++) {
        size_t n = k < ncuts ? cuts[k] : len - off;
        size_t used;
        st = http_parser_feed(&p, in + off, n, &used);
        if (st == HTTP_PARSE_MORE)
            assert_int_equal(used, n);
        else
            assert_true(used <= n);
        off += used;
    }
    o.status = st;
    if (st == HTTP_PARSE_DONE) {
        o.used = off;
        summarise(&p.head, o.summary, sizeof(o.summary));
    } else if (st == HTTP_PARSE_ERROR) {
        o.error = p.error;
        snprintf(o.summary, sizeof(o.summary), "%s", p.message ? p.message : "(default)");
    }
    http_parser_cleanup(&p);
    return o;
}

static struct outcome parse_whole(const char *in, size_t len)
{
    return feed_pieces(in, len, NULL, 0);
}

/* Parse `in` whole, then split at every point and byte by byte: the same outcome each time. */
static struct outcome parse_every_way(const char *in)
{
    size_t len = strlen(in);
    struct outcome whole = parse_whole(in, len);
    for (size_t i = 0; i <= len; i++) {
        size_t cut[1] = {i};
        struct outcome o = feed_pieces(in, len, cut, 1);
        assert_int_equal(o.status, whole.status);
        assert_int_equal(o.error, whole.error);
        assert_int_equal(o.used, whole.used);
        assert_string_equal(o.summary, whole.summary);
    }
    size_t *ones = pl_malloc((len + 1) * sizeof(*ones));
    for (size_t i = 0; i < len; i++)
        ones[i] = 1;
    struct outcome o = feed_pieces(in, len, ones, len);
    pl_free(ones);
    assert_int_equal(o.status, whole.status);
    assert_int_equal(o.error, whole.error);
    assert_int_equal(o.used, whole.used);
    assert_string_equal(o.summary, whole.summary);
    return whole;
}

static void expect_error(const char *in, enum api_error error)
{
    struct outcome o = parse_every_way(in);
    assert_int_equal(o.status, HTTP_PARSE_ERROR);
    assert_int_equal(o.error, error);
}

static void test_simple_get(void **state)
{
    (void)state;
    const char in[] = "GET /v1/sessions/abc/turns/1?wait_ms=10&x=y HTTP/1.1\r\n"
                      "Host: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n";
    struct outcome o = parse_every_way(in);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.used, sizeof(in) - 1);
    assert_string_equal(o.summary, "GET|/v1/sessions/abc/turns/1|wait_ms=10&x=y|1.1|host=127.0.0.1:"
                                   "8080|auth=0|ct=|origin=|cl=0:0|ka=1|up=00|ec=0|2");
}

static void test_post_with_body_and_pipelined_rest(void **state)
{
    (void)state;
    const char in[] = "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                      "Content-Length: 2\r\nAuthorization: Bearer abc\r\n"
                      "Origin: http://h\r\nExpect: 100-continue\r\n\r\n{}GET / HTTP/1.1\r\n";
    struct outcome o = parse_every_way(in);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.used, strstr(in, "{}") - in);
    assert_string_equal(o.summary, "POST|/v1/sessions||1.1|host=h|auth=10|ct=application/json|"
                                   "origin=http://h|cl=1:2|ka=1|up=00|ec=1|6");
}

static void test_websocket_upgrade_flags(void **state)
{
    (void)state;
    const char in[] = "GET /v1/chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                      "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    struct outcome o = parse_every_way(in);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_non_null(strstr(o.summary, "|up=11|"));
}

static void test_http10_keep_alive_rules(void **state)
{
    (void)state;
    struct outcome o = parse_every_way("GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_non_null(strstr(o.summary, "|1.0|host=|"));
    assert_non_null(strstr(o.summary, "|ka=0|"));
    o = parse_every_way("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_non_null(strstr(o.summary, "|ka=1|"));
    o = parse_every_way("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(o.summary, "|ka=0|"));
}

static void test_empty_lines_before_the_request_are_skipped(void **state)
{
    (void)state;
    const char in[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct outcome o = parse_every_way(in);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.used, sizeof(in) - 1);
}

static void test_trailing_whitespace_of_values_is_trimmed(void **state)
{
    (void)state;
    struct outcome o = parse_every_way("GET / HTTP/1.1\r\nHost: \t h \t\r\n\r\n");
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_non_null(strstr(o.summary, "|host=h|"));
}

static void test_duplicate_content_length(void **state)
{
    (void)state;
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 44\r\n\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456789\r\n\r\n",
                 API_ERR_BAD_REQUEST);
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                 API_ERR_LENGTH_REQUIRED);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
                 "\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
                 "\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 API_ERR_BAD_REQUEST);
}

static void test_line_ends_and_characters(void **state)
{
    (void)state;
    expect_error("GET / HTTP/1.1\nHost: h\n\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
                 "b\r\n\r\n",
                 API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nX: y\r\n folded\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", API_ERR_BAD_REQUEST);
    /* obs-text in a value is allowed */
    struct outcome o = parse_every_way("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n");
    assert_int_equal(o.status, HTTP_PARSE_DONE);
}

static void test_nul_byte(void **state)
{
    (void)state;
    const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    struct outcome o = parse_whole(in, sizeof(in) - 1);
    assert_int_equal(o.status, HTTP_PARSE_ERROR);
    assert_int_equal(o.error, API_ERR_BAD_REQUEST);
    const char in2[] = "GE\0T / HTTP/1.1\r\nHost: h\r\n\r\n";
    o = parse_whole(in2, sizeof(in2) - 1);
    assert_int_equal(o.status, HTTP_PARSE_ERROR);
}

static void test_request_line(void **state)
{
    (void)state;
    expect_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", API_ERR_HTTP_VERSION);
    expect_error("GET / HTTP/1.2\r\nHost: h\r\n\r\n", API_ERR_HTTP_VERSION);
    expect_error("GET / HTTP/0.9\r\nHost: h\r\n\r\n", API_ERR_HTTP_VERSION);
    expect_error("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / http/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/11\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET /\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", API_ERR_BAD_REQUEST);
    expect_error("GET / HTTP/1.1\r\n\r\n", API_ERR_BAD_REQUEST); /* no Host */
}

static void test_headers_that_may_appear_once(void **state)
{
    (void)state;
    static const char *const names[] = {"Host",
                                        "Origin",
                                        "Authorization",
                                        "Content-Type",
                                        "Sec-WebSocket-Key",
                                        "Sec-WebSocket-Version"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char in[256];
        snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\n%s: a\r\n%s: a\r\n\r\n", names[i],
                 names[i]);
        if (i == 0)
            snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nhost: h\r\n\r\n");
        expect_error(in, API_ERR_BAD_REQUEST);
    }
    /* An empty first one counts too. */
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nAuthorization:\r\nAuthorization: Bearer x\r\n\r\n",
                 API_ERR_BAD_REQUEST);
    /* Headers that are lists may repeat. */
    struct outcome o = parse_every_way("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\n"
                                       "Connection: upgrade\r\nConnection: close\r\n\r\n");
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_non_null(strstr(o.summary, "|ka=0|up=10|"));
}

/* A head of exactly `size` bytes: request line, Host, then one X header padded to fit. */
static char *head_of_size(size_t size)
{
    const char start[] = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    char *s = pl_malloc(size + 1);
    size_t pad = size - (sizeof(start) - 1) - 4;
    memcpy(s, start, sizeof(start) - 1);
    memset(s + sizeof(start) - 1, 'x', pad);
    memcpy(s + size - 4, "\r\n\r\n", 5);
    return s;
}

static void test_head_limit(void **state)
{
    (void)state;
    char *fits = head_of_size(LIMIT);
    struct outcome o = parse_whole(fits, LIMIT);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_int_equal(o.used, LIMIT);
    pl_free(fits);
    char *over = head_of_size(LIMIT + 1);
    o = parse_whole(over, LIMIT + 1);
    assert_int_equal(o.status, HTTP_PARSE_ERROR);
    assert_int_equal(o.error, API_ERR_HEADERS_TOO_LARGE);
    pl_free(over);
}

static void test_header_count_limit(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 65536);
    pl_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < HTTP_HEAD_MAX_FIELDS; i++)
        pl_buf_printf(&b, "X-%d: y\r\n", i);
    pl_buf_append_str(&b, "\r\n");
    struct outcome o = parse_whole(b.data, b.len);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    b.len -= 2;
    pl_buf_append_str(&b, "X-last: y\r\n\r\n");
    o = parse_whole(b.data, b.len);
    assert_int_equal(o.status, HTTP_PARSE_ERROR);
    assert_int_equal(o.error, API_ERR_HEADERS_TOO_LARGE);
    pl_buf_cleanup(&b);
}

static void test_long_authorization_token(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 65536);
    pl_buf_append_str(&b,
                      "POST /v1/sessions/x/messages HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ");
    for (int i = 0; i < 6144; i++)
        pl_buf_append(&b, "abcdefgh" + (i % 8), 1);
    pl_buf_append_str(&b, "\r\nContent-Length: 0\r\n\r\n");
    struct outcome o = parse_whole(b.data, b.len);
    assert_int_equal(o.status, HTTP_PARSE_DONE);
    assert_non_null(strstr(o.summary, "|auth=6151|"));
    pl_buf_cleanup(&b);
}

static void test_take_keeps_strings_and_parses_the_next(void **state)
{
    (void)state;
    struct http_parser p;
    http_parser_init(&p, LIMIT);
    const char in[] = "GET /a?b=c HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n"
                      "POST /d HTTP/1.1\r\nHost: i\r\nContent-Length: 0\r\n\r\n";
    size_t used;
    assert_int_equal(http_parser_feed(&p, in, sizeof(in) - 1, &used), HTTP_PARSE_DONE);
    /* Fed again without a reset: the same answer, nothing taken. */
    size_t again;
    assert_int_equal(http_parser_feed(&p, in + used, 4, &again), HTTP_PARSE_DONE);
    assert_int_equal(again, 0);
    struct http_head first;
    char *store = http_parser_take(&p, &first);
    size_t used2;
    assert_int_equal(http_parser_feed(&p, in + used, sizeof(in) - 1 - used, &used2),
                     HTTP_PARSE_DONE);
    assert_int_equal(used + used2, sizeof(in) - 1);
    assert_string_equal(first.method, "GET");
    assert_string_equal(first.path, "/a");
    assert_string_equal(first.query, "b=c");
    assert_string_equal(first.authorization, "Bearer t");
    assert_string_equal(http_head_field(&first, "authorization"), "Bearer t");
    assert_null(http_head_field(&first, "Content-Length"));
    assert_string_equal(p.head.method, "POST");
    assert_string_equal(p.head.host, "i");
    assert_true(p.head.has_content_length);
    pl_free(store);
    http_parser_cleanup(&p);
}

static void test_errors_are_sticky_until_reset(void **state)
{
    (void)state;
    struct http_parser p;
    http_parser_init(&p, LIMIT);
    size_t used;
    assert_int_equal(http_parser_feed(&p, "GET / HTTP/1.1\n", 15, &used), HTTP_PARSE_ERROR);
    assert_int_equal(used, 15); /* refused at the bare LF, not at a head's end */
    assert_int_equal(http_parser_feed(&p, "\r\n", 2, &used), HTTP_PARSE_ERROR);
    assert_int_equal(used, 0);
    http_parser_reset(&p);
    assert_int_equal(http_parser_feed(&p, "GET / HTTP/1.0\r\n\r\n", 18, &used), HTTP_PARSE_DONE);
    http_parser_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_post_with_body_and_pipelined_rest),
        cmocka_unit_test(test_websocket_upgrade_flags),
        cmocka_unit_test(test_http10_keep_alive_rules),
        cmocka_unit_test(test_empty_lines_before_the_request_are_skipped),
        cmocka_unit_test(test_trailing_whitespace_of_values_is_trimmed),
        cmocka_unit_test(test_duplicate_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_line_ends_and_characters),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_headers_that_may_appear_once),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_long_authorization_token),
        cmocka_unit_test(test_take_keeps_strings_and_parses_the_next),
        cmocka_unit_test(test_errors_are_sticky_until_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
