/* InvokeModelWithResponseStream chunks (connectors/bedrock_invoke_stream.h): a whole Anthropic
 * answer in base64 chunks with Bedrock's padding and invocation metrics, the guardrail's
 * INTERVENED verdict, an error event inside a chunk, and malformed chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/bedrock_invoke_stream.h"

static struct pl_buf text;

static void on_text(void *ud, const char *t, size_t len)
{
    (void)ud;
    pl_buf_append(&text, t, len);
    pl_buf_append(&text, "|", 1);
}

/* {"bytes":"<standard base64 of event>","p":"abc"} */
static int chunk(struct bedrock_invoke_stream *s, const char *event)
{
    char *url = pl_base64url_encode(event, strlen(event));
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append_str(&b, "{\"bytes\":\"");
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        pl_buf_append(&b, url[i] == '-' ? "+" : url[i] == '_' ? "/" : &url[i], 1);
    pl_buf_append(&b, "==", (4 - n % 4) % 4);
    pl_buf_append_str(&b, "\",\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEF\"}");
    int rc = bedrock_invoke_stream_chunk(s, b.data, b.len, on_text, NULL);
    pl_buf_cleanup(&b);
    pl_free(url);
    return rc;
}

static int raw(struct bedrock_invoke_stream *s, const char *payload)
{
    return bedrock_invoke_stream_chunk(s, payload, strlen(payload), on_text, NULL);
}

static void reset(struct bedrock_invoke_stream *s)
{
    pl_buf_cleanup(&text);
    pl_buf_init(&text, 1 << 16);
    pl_buf_append(&text, "", 0);
    bedrock_invoke_stream_init(s);
}

static const char *start_ev = "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
                              "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
                              "\"model\":\"claude-3-haiku-20240307\",\"stop_reason\":null,"
                              "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}";

static void test_whole_answer(void **state)
{
    (void)state;
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_start\",\"index\":0,"
                               "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
                     PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_delta\",\"index\":0,"
                               "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}"),
                     PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_delta\",\"index\":0,"
                               "\"delta\":{\"type\":\"text_delta\",\"text\":\"lo \\u00e9\"}}"),
                     PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_stop\",\"index\":0}"), PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                               "\"stop_sequence\",\"stop_sequence\":\"END\"},"
                               "\"usage\":{\"output_tokens\":15}}"),
                     PL_OK);
    assert_false(s.anth.finished);
    assert_int_equal(chunk(&s, "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":"
                               "{\"inputTokenCount\":25,\"outputTokenCount\":15,"
                               "\"invocationLatency\":812,\"firstByteLatency\":301}}"),
                     PL_OK);
    assert_true(s.anth.finished);
    assert_false(s.guardrail_intervened);
    assert_string_equal(text.data, "Hel|lo \xc3\xa9|");
    assert_int_equal(s.anth.input_tokens, 25);
    assert_int_equal(s.anth.output_tokens, 15);
    assert_string_equal(s.anth.model, "claude-3-haiku-20240307");
    assert_int_equal(bedrock_invoke_stream_stop(&s), LLM_STOP_STOP_SEQUENCE);
    /* Nothing after message_stop. */
    assert_int_equal(chunk(&s, "{\"type\":\"message_stop\"}"), PL_EPROTO);
}

static void test_guardrail(void **state)
{
    (void)state;
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_delta\",\"index\":0,"
                               "\"delta\":{\"type\":\"text_delta\",\"text\":\"Blocked.\"}}"),
                     PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                               "\"end_turn\"},\"usage\":{\"output_tokens\":2},"
                               "\"amazon-bedrock-guardrailAction\":\"INTERVENED\"}"),
                     PL_OK);
    assert_true(s.guardrail_intervened);
    assert_int_equal(chunk(&s, "{\"type\":\"message_stop\"}"), PL_OK);
    assert_int_equal(bedrock_invoke_stream_stop(&s), LLM_STOP_REFUSAL);
    assert_string_equal(text.data, "Blocked.|");

    /* NONE is not an intervention. */
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"message_stop\","
                               "\"amazon-bedrock-guardrailAction\":\"NONE\"}"),
                     PL_OK);
    assert_false(s.guardrail_intervened);
    assert_int_equal(bedrock_invoke_stream_stop(&s), LLM_STOP_END_TURN);
}

static void test_error_event(void **state)
{
    (void)state;
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    assert_int_equal(chunk(&s, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                               "\"message\":\"Overloaded\"}}"),
                     PL_EUPSTREAM);
    assert_string_equal(s.anth.error_type, "overloaded_error");
    assert_string_equal(s.anth.error_message, "Overloaded");
}

/* Standard padded base64 of `s`, a new string. */
static char *b64(const char *s)
{
    char *url = pl_base64url_encode(s, strlen(s));
    size_t n = strlen(url);
    char *out = pl_malloc(n + 3);
    for (size_t i = 0; i < n; i++)
        out[i] = url[i] == '-' ? '+' : url[i] == '_' ? '/' : url[i];
    memcpy(out + n, "==", (4 - n % 4) % 4);
    out[n + (4 - n % 4) % 4] = '\0';
    pl_free(url);
    return out;
}

/* The chunk payload head + base64 of event + tail on a started stream: its status and text. */
static void expect_layout(const char *head, const char *event, const char *tail, int rc,
                          const char *want)
{
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    char *enc = b64(event);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(pl_buf_printf(&b, "%s%s%s", head, enc, tail), PL_OK);
    assert_int_equal(bedrock_invoke_stream_chunk(&s, b.data, b.len, on_text, NULL), rc);
    assert_string_equal(text.data, want);
    pl_buf_cleanup(&b);
    pl_free(enc);
}

/* Chunks in Bedrock's own layout (the bytes found without a JSON tree, the event then read by
 * the Anthropic fast path) and near variants (read by jansson): the same status and text. */
static void test_chunk_layouts(void **state)
{
    (void)state;
    const char *delta = "{\"type\":\"content_block_delta\",\"index\":0,"
                        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Flood \\\"cover\\\"\"}}";
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"abcXYZ019\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"p\":\"ab\",\"bytes\":\"", delta, "\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\" ,\"p\":\"ab\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"a-b\"}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"ab\",\"q\":1}", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "\"}}", PL_EPROTO, "");
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"ab\"", PL_EPROTO, "");
    expect_layout("{\"bytes\":\"", delta, "\",\"p\":\"ab\"} ", PL_OK, "Flood \"cover\"|");
    expect_layout("{\"bytes\":\"", delta, "=\"}", PL_EPROTO, "");
    /* An event in the general layout inside a chunk in the fast one. */
    expect_layout("{\"bytes\":\"",
                  "{\"delta\":{\"text\":\"\\u00e9\",\"type\":\"text_delta\"},"
                  "\"type\":\"content_block_delta\",\"index\":0}",
                  "\",\"p\":\"ab\"}", PL_OK, "\xc3\xa9|");
    /* This event encodes with a '/': an escaped '\/' in the bytes goes to jansson, which
     * unescapes it; the same event. */
    const char *slashy = "{\"type\":\"content_block_delta\",\"index\":0,"
                         "\"delta\":{\"type\":\"text_delta\",\"text\":\"~?~?~?\"}}";
    char *enc = b64(slashy);
    assert_non_null(strchr(enc, '/'));
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append_str(&b, "{\"bytes\":\"");
    for (const char *c = enc; *c; c++)
        pl_buf_append_str(&b, *c == '/' ? "\\/" : (char[]){*c, '\0'});
    pl_buf_append_str(&b, "\",\"p\":\"ab\"}");
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(chunk(&s, start_ev), PL_OK);
    assert_int_equal(bedrock_invoke_stream_chunk(&s, b.data, b.len, on_text, NULL), PL_OK);
    assert_string_equal(text.data, "~?~?~?|");
    assert_int_equal(raw(&s, "{\"bytes\":\"YQ\",\"p\":\"ab\"}"), PL_EPROTO); /* unpadded */
    pl_buf_cleanup(&b);
    pl_free(enc);
    pl_buf_cleanup(&text);
}

static void test_malformed(void **state)
{
    (void)state;
    struct bedrock_invoke_stream s;
    reset(&s);
    assert_int_equal(raw(&s, "not json"), PL_EPROTO);
    assert_int_equal(raw(&s, "{\"p\":\"abc\"}"), PL_EPROTO);
    assert_int_equal(raw(&s, "{\"bytes\":42}"), PL_EPROTO);
    assert_int_equal(raw(&s, "{\"bytes\":\"e30\"}"), PL_EPROTO);          /* unpadded */
    assert_int_equal(raw(&s, "{\"bytes\":\"e3-_\"}"), PL_EPROTO);         /* base64url */
    assert_int_equal(raw(&s, "{\"bytes\":\"bm90IGpzb24=\"}"), PL_EPROTO); /* "not json" */
    /* Text before message_start. */
    assert_int_equal(chunk(&s, "{\"type\":\"content_block_delta\",\"index\":0,"
                               "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"),
                     PL_EPROTO);
    /* A guardrail key in an event that is not JSON. */
    reset(&s);
    assert_int_equal(chunk(&s, "{\"amazon-bedrock-guardrailAction\":"), PL_EPROTO);
    assert_string_equal(text.data, "");
    pl_buf_cleanup(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_answer),  cmocka_unit_test(test_guardrail),
        cmocka_unit_test(test_error_event),   cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_chunk_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
