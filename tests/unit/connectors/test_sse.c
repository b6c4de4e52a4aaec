/* The SSE parser and the Anthropic event interpreter on recorded streams (tests/data/anthropic:
 * captured from the upstream double, plus a hand-made one with every SSE quirk), fed whole, byte
 * by byte, split at every offset and split three ways: the outcome must be identical and equal
 * to the expected literal values every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/anthropic_stream.h"
#include "connectors/sse.h"

/* Everything a stream produced, as one comparable string. */
struct outcome {
    struct pl_buf events; /* "name|name|..." */
    struct pl_buf text;
    struct anth_stream stream;
    int status; /* the first failure, or PL_OK */
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct outcome *o = ud;
    pl_buf_append(&o->text, text, len);
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct outcome *o = ud;
    pl_buf_printf(&o->events, "%s|", event);
    assert_int_equal(strlen(data), len); /* NUL-terminated, no embedded NUL */
    int rc = anth_stream_event(&o->stream, event, data, len, on_text, o);
    if (rc && !o->status)
        o->status = rc;
    return PL_OK; /* keep going, as a lenient reader would, so every event is compared */
}

static char *summary(struct outcome *o)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_printf(&b,
                  "status=%d events=%s text=[%s] finished=%d stop=%s model=%s in=%ld out=%ld "
                  "error=%s:%s",
                  o->status, o->events.data ? o->events.data : "", o->text.data ? o->text.data : "",
                  o->stream.finished, o->stream.stop_reason, o->stream.model,
                  o->stream.input_tokens, o->stream.output_tokens, o->stream.error_type,
                  o->stream.error_message);
    return pl_buf_take(&b);
}

/* Feed `data` cut at the given offsets (ascending, may repeat) and summarise. */
static char *run(const char *data, size_t len, const size_t *cuts, size_t n_cuts)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    pl_buf_init(&o.events, SIZE_MAX);
    pl_buf_init(&o.text, SIZE_MAX);
    anth_stream_init(&o.stream);
    struct sse_parser p;
    sse_parser_init(&p, 64 * 1024);
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        assert_int_equal(sse_parser_feed(&p, data + at, end - at, on_event, &o), PL_OK);
        at = end;
    }
    sse_parser_cleanup(&p);
    char *s = summary(&o);
    pl_buf_cleanup(&o.events);
    pl_buf_cleanup(&o.text);
    return s;
}

static char *load(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/anthropic/%s", PARLEY_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        pl_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return pl_buf_take(&b);
}

/* Whole, byte by byte, every two-way split, and three-way splits. */
static void check_every_split(const char *file, const char *expected, size_t step)
{
    size_t len;
    char *data = load(file, &len);
    char *whole = run(data, len, NULL, 0);
    assert_string_equal(whole, expected);

    size_t *bytes = pl_calloc(len, sizeof(*bytes));
    for (size_t i = 0; i < len; i++)
        bytes[i] = i;
    char *s = run(data, len, bytes, len);
    assert_string_equal(s, expected);
    pl_free(s);
    pl_free(bytes);

    for (size_t k = 0; k <= len; k++) {
        s = run(data, len, &k, 1);
        if (strcmp(s, expected) != 0)
            fail_msg("%s split at %zu:\n got %s\nwant %s", file, k, s, expected);
        pl_free(s);
    }
    /* Three pieces: the first cut anywhere, the second close after it (inside the same line
     * ending, UTF-8 sequence or field name) or `step` apart. */
    static const size_t gaps[] = {0, 1, 2, 3, 4, 5, 7, 13};
    for (size_t k1 = 0; k1 <= len; k1++) {
        for (size_t g = 0; g <= sizeof(gaps) / sizeof(gaps[0]); g++) {
            size_t k2 = k1 + (g < sizeof(gaps) / sizeof(gaps[0]) ? gaps[g] : step);
            if (k2 > len)
                continue;
            size_t cuts[2] = {k1, k2};
            s = run(data, len, cuts, 2);
            if (strcmp(s, expected) != 0)
                fail_msg("%s split at %zu,%zu:\n got %s\nwant %s", file, k1, k2, s, expected);
            pl_free(s);
        }
    }
    pl_free(whole);
    pl_free(data);
}

/* 15 words, so 15 deltas; the double sends a ping after the second. */
#define DELTA "content_block_delta|"
#define NORMAL_EVENTS                                                                              \
    "message_start|content_block_start|" DELTA DELTA                                               \
    "ping|" DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA DELTA          \
    "content_block_stop|message_delta|message_stop|"

static const char normal_expected[] =
    "status=0 events=" NORMAL_EVENTS
    " text=[Flood is covered — up to 25 000 €, after the excess. 🌊 Anything else?] finished=1 "
    "stop=end_turn model=claude-sonnet-4-5 in=21 out=15 error=:";

static void test_normal_stream(void **state)
{
    (void)state;
    check_every_split("normal.sse", normal_expected, 37);
}

static void test_crlf_stream_is_the_same(void **state)
{
    (void)state;
    check_every_split("crlf.sse", normal_expected, 41);
}

static void test_error_event_mid_stream(void **state)
{
    (void)state;
    check_every_split("error_mid.sse",
                      "status=-7 events=message_start|content_block_start|content_block_delta|"
                      "content_block_delta|ping|content_block_delta|error| text=[w1 w2 w3 ] "
                      "finished=0 stop= model=claude-sonnet-4-5 in=7 out=1 "
                      "error=overloaded_error:Overloaded",
                      5);
}

static void test_cut_stream_never_finishes(void **state)
{
    (void)state;
    check_every_split("cut.sse",
                      "status=0 events=message_start|content_block_start|content_block_delta|"
                      "content_block_delta|ping|content_block_delta| text=[w1 w2 w3 ] finished=0 "
                      "stop= model=claude-sonnet-4-5 in=5 out=1 error=:",
                      5);
}

static void test_max_tokens_stream(void **state)
{
    (void)state;
    check_every_split("max_tokens.sse",
                      "status=0 events=message_start|content_block_start|content_block_delta|"
                      "content_block_delta|ping|content_block_delta|content_block_delta|"
                      "content_block_stop|message_delta|message_stop| text=[w1 w2 w3 w4] "
                      "finished=1 stop=max_tokens model=claude-sonnet-4-5 in=7 out=4 error=:",
                      7);
}

/* BOM, comments, CR-only and CRLF line ends, "data:" without a space, id/retry fields, data over
 * two lines, unknown events and delta types, JSON escapes and 4-byte UTF-8. */
static void test_quirks(void **state)
{
    (void)state;
    check_every_split("quirks.sse",
                      "status=0 events=message_start|content_block_start|content_block_delta|"
                      "content_block_delta|content_block_delta|ping|content_block_future|"
                      "content_block_delta|content_block_delta|message_delta|message_stop| "
                      "text=[Ja, Übernachtung été 😀] finished=1 stop=pause_turn "
                      "model=claude-quirks in=7 out=5 error=:",
                      11);
}

static int count_events(void *ud, const char *event, const char *data, size_t len)
{
    (void)event;
    (void)data;
    (void)len;
    (*(int *)ud)++;
    return *(int *)ud == 2 ? 99 : PL_OK;
}

static void test_callback_stops_parsing(void **state)
{
    (void)state;
    static const char s[] = "data: a\n\ndata: b\n\ndata: c\n\n";
    struct sse_parser p;
    sse_parser_init(&p, 1024);
    int n = 0;
    assert_int_equal(sse_parser_feed(&p, s, sizeof(s) - 1, count_events, &n), 99);
    assert_int_equal(n, 2);
    sse_parser_cleanup(&p);
}

static int collect(void *ud, const char *event, const char *data, size_t len)
{
    pl_buf_printf(ud, "<%s:%.*s>", event, (int)len, data);
    return PL_OK;
}

static void test_field_rules(void **state)
{
    (void)state;
    /* No event name -> "message"; a field without colon has an empty value; "data" with no
     * value adds an empty line; an event without data is not dispatched; the event name resets
     * after each dispatch; only one leading space is stripped. */
    static const char s[] = "data: one\n\nevent: x\n\ndata\ndata:  two\n\nevent: y\ndata:3\n\n"
                            "data: last-without-blank-line";
    struct sse_parser p;
    sse_parser_init(&p, 1024);
    struct pl_buf out;
    pl_buf_init(&out, 4096);
    assert_int_equal(sse_parser_feed(&p, s, sizeof(s) - 1, collect, &out), PL_OK);
    assert_string_equal(out.data, "<message:one><message:\n two><y:3>");
    pl_buf_cleanup(&out);
    sse_parser_cleanup(&p);
}

static void test_oversized_line_is_an_error(void **state)
{
    (void)state;
    struct sse_parser p;
    sse_parser_init(&p, 16);
    struct pl_buf out;
    pl_buf_init(&out, 4096);
    assert_int_equal(sse_parser_feed(&p, "data: 0123456789", 16, collect, &out), PL_OK);
    assert_int_equal(sse_parser_feed(&p, "abcdef\n\n", 8, collect, &out), PL_ETOOBIG);
    pl_buf_cleanup(&out);
    sse_parser_cleanup(&p);
}

/* A line over the limit is an error however the network cuts the stream: fed whole, a comment
 * or an unknown field used to be read in place and let through, while the same bytes cut inside
 * the line were refused (found by tests/fuzz/fuzz_sse.c). */
static void test_oversized_line_is_an_error_whole_or_split(void **state)
{
    (void)state;
    static const char *const streams[] = {
        ": a comment of twenty\n\ndata: x\n\n",
        "unknown-field: value!\n\ndata: x\n\n",
        "data: x\n\nid: 0123456789abcdefghij\n\n",
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        size_t len = strlen(streams[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            struct sse_parser p;
            sse_parser_init(&p, 16);
            struct pl_buf out;
            pl_buf_init(&out, 4096);
            int rc = sse_parser_feed(&p, streams[i], cut, collect, &out);
            if (rc == PL_OK)
                rc = sse_parser_feed(&p, streams[i] + cut, len - cut, collect, &out);
            if (rc != PL_ETOOBIG)
                fail_msg("stream %zu cut at %zu: status %d, events %s", i, cut, rc,
                         out.data ? out.data : "");
            pl_buf_cleanup(&out);
            sse_parser_cleanup(&p);
        }
    }
}

static void test_stream_interpreter_errors(void **state)
{
    (void)state;
    struct anth_stream s;
    struct outcome o;
    memset(&o, 0, sizeof(o));
    pl_buf_init(&o.text, 1024);
    static const char delta[] =
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"x\"}}";
    static const char start[] = "{\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}";
    /* A delta before message_start. */
    anth_stream_init(&s);
    assert_int_equal(
        anth_stream_event(&s, "content_block_delta", delta, sizeof(delta) - 1, on_text, &o),
        PL_EPROTO);
    /* Malformed JSON, and a text_delta without text. */
    anth_stream_init(&s);
    assert_int_equal(anth_stream_event(&s, "message_start", start, sizeof(start) - 1, on_text, &o),
                     PL_OK);
    assert_int_equal(anth_stream_event(&s, "content_block_delta", "{\"type\":", 8, on_text, &o),
                     PL_EPROTO);
    static const char no_text[] =
        "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\"}}";
    assert_int_equal(
        anth_stream_event(&s, "content_block_delta", no_text, sizeof(no_text) - 1, on_text, &o),
        PL_EPROTO);
    /* Anything after message_stop. */
    assert_int_equal(
        anth_stream_event(&s, "message_stop", "{\"type\":\"message_stop\"}", 23, on_text, &o),
        PL_OK);
    assert_int_equal(
        anth_stream_event(&s, "content_block_delta", delta, sizeof(delta) - 1, on_text, &o),
        PL_EPROTO);
    assert_null(o.text.data);
    pl_buf_cleanup(&o.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_stream),
        cmocka_unit_test(test_crlf_stream_is_the_same),
        cmocka_unit_test(test_error_event_mid_stream),
        cmocka_unit_test(test_cut_stream_never_finishes),
        cmocka_unit_test(test_max_tokens_stream),
        cmocka_unit_test(test_quirks),
        cmocka_unit_test(test_callback_stops_parsing),
        cmocka_unit_test(test_field_rules),
        cmocka_unit_test(test_oversized_line_is_an_error),
        cmocka_unit_test(test_oversized_line_is_an_error_whole_or_split),
        cmocka_unit_test(test_stream_interpreter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
