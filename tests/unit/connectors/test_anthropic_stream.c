/* Text deltas of an Anthropic stream: the text a caller sees must be exactly what the JSON says,
 * whether the event comes in the API's own layout (decoded without a JSON tree) or in any other
 * valid layout (decoded by jansson), and invalid JSON is an error either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/anthropic_stream.h"

static const char start[] = "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\","
                            "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}";

struct got {
    struct pl_buf text;
    int calls;
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct got *g = ud;
    pl_buf_append(&g->text, text, len);
    g->calls++;
}

/* Feed message_start and one content_block_delta whose "text" member is `json_string` (the
 * quoted JSON, as it appears on the wire); `layout` 0 is the API's, 1 adds spaces, 2 puts an
 * extra member after "text". Returns the status; the text lands in `g`. */
static int feed(const char *json_string, int layout, struct got *g)
{
    struct anth_stream s;
    anth_stream_init(&s);
    pl_buf_init(&g->text, 1 << 20);
    g->calls = 0;
    assert_int_equal(anth_stream_event(&s, "message_start", start, strlen(start), on_text, g),
                     PL_OK);
    struct pl_buf ev;
    pl_buf_init(&ev, 1 << 20);
    if (layout == 0)
        pl_buf_printf(&ev,
                      "{\"type\":\"content_block_delta\",\"index\":12,\"delta\":{\"type\":"
                      "\"text_delta\",\"text\":%s}}",
                      json_string);
    else if (layout == 1)
        pl_buf_printf(&ev,
                      "{\"type\": \"content_block_delta\", \"index\": 12, \"delta\": {\"type\": "
                      "\"text_delta\", \"text\": %s}}",
                      json_string);
    else
        pl_buf_printf(&ev,
                      "{\"type\":\"content_block_delta\",\"index\":12,\"delta\":{\"type\":"
                      "\"text_delta\",\"text\":%s,\"later\":true}}",
                      json_string);
    int rc = anth_stream_event(&s, "content_block_delta", ev.data, ev.len, on_text, g);
    pl_buf_cleanup(&ev);
    return rc;
}

/* Every layout gives `want` (want_len bytes), delivered in one call. */
static void expect_text(const char *json_string, const char *want, size_t want_len)
{
    for (int layout = 0; layout < 3; layout++) {
        struct got g;
        assert_int_equal(feed(json_string, layout, &g), PL_OK);
        assert_int_equal(g.calls, 1);
        assert_int_equal(g.text.len, want_len);
        assert_memory_equal(g.text.data ? g.text.data : "", want, want_len);
        pl_buf_cleanup(&g.text);
    }
}

static void expect_error(const char *json_string)
{
    for (int layout = 0; layout < 3; layout++) {
        struct got g;
        assert_int_equal(feed(json_string, layout, &g), PL_EPROTO);
        assert_int_equal(g.calls, 0);
        pl_buf_cleanup(&g.text);
    }
}

static void test_plain_and_simple_escapes(void **state)
{
    (void)state;
    expect_text("\"Hello\"", "Hello", 5);
    expect_text("\"\"", "", 0);
    expect_text("\" your policy\\n\"", " your policy\n", 13);
    expect_text("\"a\\\"b\\\\c\\/d\\t\\r\\b\\f\"", "a\"b\\c/d\t\r\b\f", 11);
    expect_text("\"\\\\\"", "\\", 1);
}

static void test_unicode(void **state)
{
    (void)state;
    expect_text("\"\xc2\xa3"
                "2,500 \xf0\x9f\x98\x80\"",
                "\xc2\xa3"
                "2,500 \xf0\x9f\x98\x80",
                12);
    expect_text("\"caf\\u00e9\"", "caf\xc3\xa9", 5);
    expect_text("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5);
    expect_text("\"\xe2\x82\xac\\n\xe2\x82\xac\"", "\xe2\x82\xac\n\xe2\x82\xac", 7);
}

static void test_long_text(void **state)
{
    (void)state;
    char quoted[3004], want[3001];
    memset(want, 'x', 3000);
    want[3000] = '\0';
    snprintf(quoted, sizeof(quoted), "\"%s\"", want);
    expect_text(quoted, want, 3000);
}

static void test_invalid_json_is_an_error(void **state)
{
    (void)state;
    expect_error("\"raw \x01 control\"");
    expect_error("\"bad \xff utf-8\"");
    expect_error("\"overlong \xc0\xaf\"");
    expect_error("\"nul \\u0000\"");
    expect_error("\"bad escape \\x\"");
    expect_error("\"lone surrogate \\ud83d\"");
    expect_error("\"unterminated");
    expect_error("42");
}

static int ev(struct anth_stream *s, const char *event, const char *data, struct got *g)
{
    return anth_stream_event(s, event, data, strlen(data), on_text, g);
}

/* The events without text, in the API's layout and in others: same outcome, same state. */
static void test_events_without_text(void **state)
{
    (void)state;
    struct got g = {.calls = 0};
    pl_buf_init(&g.text, 1024);
    struct anth_stream s;
    anth_stream_init(&s);
    assert_int_equal(ev(&s, "ping", "{\"type\":\"ping\"}", &g), PL_OK); /* before the start too */
    assert_int_equal(ev(&s, "content_block_start",
                        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                        "{\"type\":\"text\",\"text\":\"\"}}",
                        &g),
                     PL_EPROTO); /* not before message_start */
    assert_int_equal(ev(&s, "message_start", start, &g), PL_OK);
    assert_int_equal(ev(&s, "content_block_start",
                        "{\"type\":\"content_block_start\",\"index\":10,\"content_block\":"
                        "{\"type\":\"text\",\"text\":\"\"}}",
                        &g),
                     PL_OK);
    assert_int_equal(ev(&s, "content_block_start",
                        "{\"type\": \"content_block_start\", \"index\": 1, \"content_block\": "
                        "{\"type\": \"tool_use\"}}",
                        &g),
                     PL_OK);
    assert_int_equal(ev(&s, "ping", "{\"type\":\"ping\"}123", &g), PL_EPROTO);
    assert_int_equal(
        ev(&s, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":}", &g),
        PL_EPROTO);
    assert_int_equal(
        ev(&s, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}", &g), PL_OK);
    assert_false(s.finished);
    assert_int_equal(ev(&s, "message_stop", "{\"type\":\"message_stop\"}", &g), PL_OK);
    assert_true(s.finished);
    /* Nothing may follow message_stop, in any layout. */
    assert_int_equal(ev(&s, "ping", "{\"type\":\"ping\"}", &g), PL_EPROTO);
    assert_int_equal(ev(&s, "content_block_delta",
                        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                        "\"text_delta\",\"text\":\"late\"}}",
                        &g),
                     PL_EPROTO);
    assert_int_equal(g.calls, 0);
    /* And the same end in another layout. */
    anth_stream_init(&s);
    assert_int_equal(ev(&s, "message_start", start, &g), PL_OK);
    assert_int_equal(ev(&s, "message_stop", "{ \"type\" : \"message_stop\" }", &g), PL_OK);
    assert_true(s.finished);
    pl_buf_cleanup(&g.text);
}

/* An index that is not a JSON number (leading zeros) or that jansson refuses (too big) is an
 * error in the API's own layout too: the fast paths used to accept any run of digits (found by
 * tests/fuzz/fuzz_anthropic_stream.c). */
static void test_index_must_be_a_json_integer(void **state)
{
    (void)state;
    static const char *const indexes[] = {"02", "00", "007", "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        char events[3][256];
        snprintf(events[0], sizeof(events[0]),
                 "{\"type\":\"content_block_start\",\"index\":%s,\"content_block\":"
                 "{\"type\":\"text\",\"text\":\"\"}}",
                 indexes[i]);
        snprintf(events[1], sizeof(events[1]),
                 "{\"type\":\"content_block_delta\",\"index\":%s,\"delta\":{\"type\":"
                 "\"text_delta\",\"text\":\"x\"}}",
                 indexes[i]);
        snprintf(events[2], sizeof(events[2]), "{\"type\":\"content_block_stop\",\"index\":%s}",
                 indexes[i]);
        static const char *const names[] = {"content_block_start", "content_block_delta",
                                            "content_block_stop"};
        for (int k = 0; k < 3; k++) {
            struct got g = {.calls = 0};
            pl_buf_init(&g.text, 1024);
            struct anth_stream s;
            anth_stream_init(&s);
            assert_int_equal(ev(&s, "message_start", start, &g), PL_OK);
            int rc = ev(&s, names[k], events[k], &g);
            if (rc != PL_EPROTO)
                fail_msg("%s with index %s: status %d", names[k], indexes[i], rc);
            assert_int_equal(g.calls, 0);
            pl_buf_cleanup(&g.text);
        }
    }
    /* The indexes the API writes still take the fast paths. */
    struct got g = {.calls = 0};
    pl_buf_init(&g.text, 1024);
    struct anth_stream s;
    anth_stream_init(&s);
    assert_int_equal(ev(&s, "message_start", start, &g), PL_OK);
    assert_int_equal(
        ev(&s, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}", &g), PL_OK);
    assert_int_equal(ev(&s, "content_block_delta",
                        "{\"type\":\"content_block_delta\",\"index\":10,\"delta\":{\"type\":"
                        "\"text_delta\",\"text\":\"ok\"}}",
                        &g),
                     PL_OK);
    assert_int_equal(g.calls, 1);
    pl_buf_cleanup(&g.text);
}

/* Cache tokens: message_start gives all four counts, message_delta repeats them cumulatively,
 * and a count that is null or absent there keeps the earlier value. */
static void test_usage_with_cache_tokens(void **state)
{
    (void)state;
    struct got g = {.calls = 0};
    pl_buf_init(&g.text, 1024);
    struct anth_stream s;
    anth_stream_init(&s);
    assert_int_equal(ev(&s, "message_start",
                        "{\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":"
                        "{\"input_tokens\":12,\"cache_creation_input_tokens\":0,"
                        "\"cache_read_input_tokens\":2048,\"output_tokens\":1}}}",
                        &g),
                     PL_OK);
    assert_int_equal(s.input_tokens, 12);
    assert_int_equal(s.cache_read_input_tokens, 2048);
    assert_int_equal(s.cache_creation_input_tokens, 0);
    assert_int_equal(ev(&s, "message_delta",
                        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                        "\"usage\":{\"input_tokens\":null,\"cache_creation_input_tokens\":7,"
                        "\"cache_read_input_tokens\":null,\"output_tokens\":30}}",
                        &g),
                     PL_OK);
    assert_int_equal(s.input_tokens, 12);
    assert_int_equal(s.cache_read_input_tokens, 2048);
    assert_int_equal(s.cache_creation_input_tokens, 7);
    assert_int_equal(s.output_tokens, 30);
    pl_buf_cleanup(&g.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_simple_escapes),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_invalid_json_is_an_error),
        cmocka_unit_test(test_events_without_text),
        cmocka_unit_test(test_index_must_be_a_json_integer),
        cmocka_unit_test(test_usage_with_cache_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
