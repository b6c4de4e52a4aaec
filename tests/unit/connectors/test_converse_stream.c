/* ConverseStream events (connectors/converse_stream.h): exact text, stop reason and usage of a
 * whole answer, the guardrail's and content filter's refusals, padding and unknown events
 * ignored, a stream ending after messageStop without metadata, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/converse_stream.h"

struct got {
    struct pl_buf text;
    int calls;
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct got *g = ud;
    assert_true(len > 0);
    pl_buf_append(&g->text, text, len);
    pl_buf_append(&g->text, "|", 1);
    g->calls++;
}

static int ev(struct converse_stream *s, struct got *g, const char *type, const char *json)
{
    return converse_stream_event(s, type, json, strlen(json), on_text, g);
}

static void got_init(struct got *g)
{
    memset(g, 0, sizeof(*g));
    pl_buf_init(&g->text, 1 << 16);
    pl_buf_append(&g->text, "", 0);
}

static const char *text_of(struct got *g)
{
    return g->text.len ? g->text.data : "";
}

static void test_whole_answer(void **state)
{
    (void)state;
    struct converse_stream s;
    struct got g;
    converse_stream_init(&s);
    got_init(&g);
    assert_int_equal(ev(&s, &g, "messageStart", "{\"p\":\"abcdefgh\",\"role\":\"assistant\"}"),
                     PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta",
                        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Flood \"},\"p\":\"ab\"}"),
                     PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta",
                        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"is \\u00a3covered\\n\"}}"),
                     PL_OK);
    /* Empty text and non-text deltas give nothing. */
    assert_int_equal(ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"text\":\"\"}}"), PL_OK);
    assert_int_equal(
        ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"reasoningContent\":{\"text\":\"hmm\"}}}"),
        PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"toolUse\":{\"input\":\"{\"}}}"),
                     PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockStop", "{\"contentBlockIndex\":0}"), PL_OK);
    assert_false(s.stopped);
    assert_int_equal(ev(&s, &g, "messageStop", "{\"stopReason\":\"max_tokens\",\"p\":\"x\"}"),
                     PL_OK);
    assert_true(s.stopped);
    assert_false(s.finished);
    assert_int_equal(ev(&s, &g, "metadata",
                        "{\"usage\":{\"inputTokens\":25,\"outputTokens\":7,\"totalTokens\":1032,"
                        "\"cacheReadInputTokens\":1000,\"cacheWriteInputTokens\":3},"
                        "\"metrics\":{\"latencyMs\":412},\"p\":\"abc\"}"),
                     PL_OK);
    assert_true(s.finished);
    assert_string_equal(text_of(&g), "Flood |is \xc2\xa3"
                                     "covered\n|");
    assert_int_equal(g.calls, 2);
    assert_string_equal(s.stop_reason, "max_tokens");
    assert_int_equal(converse_stream_stop(&s), LLM_STOP_MAX_TOKENS);
    assert_int_equal(s.usage.input_tokens, 25);
    assert_int_equal(s.usage.output_tokens, 7);
    assert_int_equal(s.usage.cache_read_input_tokens, 1000);
    assert_int_equal(s.usage.cache_creation_input_tokens, 3);
    /* Nothing known may follow; unknown events still pass. */
    assert_int_equal(ev(&s, &g, "futureEvent", "not json"), PL_OK);
    assert_int_equal(ev(&s, &g, "metadata", "{}"), PL_EPROTO);
    pl_buf_cleanup(&g.text);
}

/* Text deltas in Bedrock's own layout (read without a JSON tree) and in near variants (read by
 * jansson): the same text and status either way, and JSON's verdict on malformed ones. */
static void test_delta_layouts(void **state)
{
    (void)state;
    static const struct {
        const char *payload;
        int rc;
        const char *text; /* what on_text got, pieces ending in '|' */
    } cases[] = {
        /* Bedrock's layout, with and without padding. */
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Flood \"},\"p\":\"abcXYZ019\"}", PL_OK,
         "Flood |"},
        {"{\"contentBlockIndex\":12,\"delta\":{\"text\":\"cover\"}}", PL_OK, "cover|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"a\"},\"p\":\"\"}", PL_OK, "a|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"q\\\"\\\\\\/"
         "\\n\\t\\r\\b\\f\"},\"p\":\"ab\"}",
         PL_OK, "q\"\\/\n\t\r\b\f|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\xc2\xa3"
         "5 \xe2\x82\xac\"},\"p\":\"ab\"}",
         PL_OK,
         "\xc2\xa3"
         "5 \xe2\x82\xac|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\"},\"p\":\"ab\"}", PL_OK, ""},
        /* Near variants: jansson reads them. */
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\\u00a3\"},\"p\":\"ab\"}", PL_OK,
         "\xc2\xa3|"},
        {"{\"delta\":{\"text\":\"x\"},\"contentBlockIndex\":0}", PL_OK, "x|"},
        {"{\"contentBlockIndex\":0, \"delta\":{\"text\":\"x\"}}", PL_OK, "x|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"p\":\"a-b_c\"}", PL_OK, "x|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"q\":\"ab\"}", PL_OK, "x|"},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"p\":\"ab\",\"z\":1}", PL_OK, "x|"},
        {"{\"contentBlockIndex\":-1,\"delta\":{\"text\":\"x\"}}", PL_OK, "x|"},
        /* Malformed: refused both ways. */
        {"{\"contentBlockIndex\":01,\"delta\":{\"text\":\"x\"}}", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"}}}", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"p\":\"ab\"", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"p\":\"ab\"}x", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"a\nb\"}}", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\xc3\x28\"}}", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\\x\"}}", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x", PL_EPROTO, ""},
        {"{\"contentBlockIndex\":0,\"delta\":{\"text\":7}}", PL_EPROTO, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct converse_stream s;
        struct got g;
        converse_stream_init(&s);
        got_init(&g);
        assert_int_equal(ev(&s, &g, "messageStart", "{\"role\":\"assistant\"}"), PL_OK);
        assert_int_equal(ev(&s, &g, "contentBlockDelta", cases[i].payload), cases[i].rc);
        assert_string_equal(text_of(&g), cases[i].text);
        pl_buf_cleanup(&g.text);
    }

    /* The layout the fast path reads is still refused where the state refuses it. */
    struct converse_stream s;
    struct got g;
    const char *delta = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"},\"p\":\"ab\"}";
    converse_stream_init(&s);
    got_init(&g);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", delta), PL_EPROTO); /* before messageStart */
    assert_int_equal(ev(&s, &g, "messageStart", "{}"), PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", delta), PL_OK);
    assert_int_equal(ev(&s, &g, "messageStop", "{\"stopReason\":\"end_turn\"}"), PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", delta), PL_EPROTO); /* after messageStop */
    assert_string_equal(text_of(&g), "x|");
    pl_buf_cleanup(&g.text);
}

static void test_stop_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *reason;
        enum llm_stop stop;
    } map[] = {
        {"end_turn", LLM_STOP_END_TURN},
        {"tool_use", LLM_STOP_END_TURN},
        {"max_tokens", LLM_STOP_MAX_TOKENS},
        {"model_context_window_exceeded", LLM_STOP_MAX_TOKENS},
        {"stop_sequence", LLM_STOP_STOP_SEQUENCE},
        {"guardrail_intervened", LLM_STOP_REFUSAL},
        {"content_filtered", LLM_STOP_REFUSAL},
        {"malformed_model_output", LLM_STOP_END_TURN},
        {"something_new", LLM_STOP_END_TURN},
        {"", LLM_STOP_END_TURN},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
        struct converse_stream s;
        struct got g;
        converse_stream_init(&s);
        got_init(&g);
        char stop[128];
        snprintf(stop, sizeof(stop), "{\"stopReason\":\"%s\"}", map[i].reason);
        assert_int_equal(ev(&s, &g, "messageStart", "{}"), PL_OK);
        assert_int_equal(ev(&s, &g, "messageStop", stop), PL_OK);
        assert_int_equal(converse_stream_stop(&s), map[i].stop);
        if (map[i].reason[0] == '\0')
            assert_string_equal(s.stop_reason, "end_turn"); /* never empty once stopped */
        pl_buf_cleanup(&g.text);
    }
}

/* A guardrail's blocked message comes as ordinary text, then guardrail_intervened. */
static void test_guardrail_intervention(void **state)
{
    (void)state;
    struct converse_stream s;
    struct got g;
    converse_stream_init(&s);
    got_init(&g);
    assert_int_equal(ev(&s, &g, "messageStart", "{\"role\":\"assistant\"}"), PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta",
                        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Sorry, I can't help.\"}}"),
                     PL_OK);
    assert_int_equal(ev(&s, &g, "messageStop", "{\"stopReason\":\"guardrail_intervened\"}"), PL_OK);
    assert_int_equal(ev(&s, &g, "metadata",
                        "{\"usage\":{\"inputTokens\":9,\"outputTokens\":0},"
                        "\"trace\":{\"guardrail\":{}}}"),
                     PL_OK);
    assert_true(s.finished);
    assert_int_equal(converse_stream_stop(&s), LLM_STOP_REFUSAL);
    assert_string_equal(text_of(&g), "Sorry, I can't help.|");
    assert_int_equal(s.usage.output_tokens, 0);
    assert_int_equal(s.usage.cache_read_input_tokens, 0);
    pl_buf_cleanup(&g.text);
}

/* Metadata without cache members, or with odd values, keeps zeros. */
static void test_usage_fields(void **state)
{
    (void)state;
    struct converse_stream s;
    struct got g;
    converse_stream_init(&s);
    got_init(&g);
    assert_int_equal(ev(&s, &g, "messageStart", "{}"), PL_OK);
    assert_int_equal(ev(&s, &g, "messageStop", "{}"), PL_OK);
    assert_string_equal(s.stop_reason, "end_turn"); /* none given */
    assert_int_equal(ev(&s, &g, "metadata",
                        "{\"usage\":{\"inputTokens\":-4,\"outputTokens\":\"7\","
                        "\"cacheReadInputTokens\":null,\"cacheWriteInputTokens\":2.5}}"),
                     PL_OK);
    assert_true(s.finished);
    assert_int_equal(s.usage.input_tokens, 0);
    assert_int_equal(s.usage.output_tokens, 0);
    assert_int_equal(s.usage.cache_read_input_tokens, 0);
    assert_int_equal(s.usage.cache_creation_input_tokens, 0);
    pl_buf_cleanup(&g.text);
}

static void test_refusals(void **state)
{
    (void)state;
    struct converse_stream s;
    struct got g;
    got_init(&g);
    /* Before messageStart. */
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"text\":\"x\"}}"), PL_EPROTO);
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "messageStop", "{}"), PL_EPROTO);
    /* Not a JSON object. */
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "messageStart", "[]"), PL_EPROTO);
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "messageStart", "{\"role\":"), PL_EPROTO);
    /* Text that is not a string; twice started; text after the stop; two stops. */
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "messageStart", "{}"), PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"text\":5}}"), PL_EPROTO);
    assert_int_equal(ev(&s, &g, "messageStart", "{}"), PL_EPROTO);
    assert_int_equal(ev(&s, &g, "messageStop", "{\"stopReason\":\"end_turn\"}"), PL_OK);
    assert_int_equal(ev(&s, &g, "contentBlockDelta", "{\"delta\":{\"text\":\"x\"}}"), PL_EPROTO);
    assert_int_equal(ev(&s, &g, "messageStop", "{}"), PL_EPROTO);
    assert_int_equal(g.calls, 0);
    /* An unknown event before the start, with anything in it, is skipped. */
    converse_stream_init(&s);
    assert_int_equal(ev(&s, &g, "somethingNew", "\x01\x02"), PL_OK);
    assert_false(s.started);
    pl_buf_cleanup(&g.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_answer), cmocka_unit_test(test_delta_layouts),
        cmocka_unit_test(test_stop_mapping), cmocka_unit_test(test_guardrail_intervention),
        cmocka_unit_test(test_usage_fields), cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
