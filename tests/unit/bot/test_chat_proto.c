/* Unit tests for bot/chat_proto: the exact bytes of every caller-protocol encoder (escaping,
 * UTF-8, append semantics, size limit) and every rule of the inbound frame parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/chat_proto.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"

#define HEAD "HEAD" /* stands for the LWS_PRE headroom chat.c writes first */

static struct pl_buf out_buf;

static int setup(void **state)
{
    (void)state;
    pl_buf_init(&out_buf, 1 << 20);
    assert_int_equal(pl_buf_append_str(&out_buf, HEAD), PL_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pl_buf_cleanup(&out_buf);
    return 0;
}

/* The buffer holds HEAD followed by exactly `want`; then it is reset to HEAD. */
static void expect(const char *want)
{
    assert_int_equal(out_buf.len, strlen(HEAD) + strlen(want));
    assert_memory_equal(out_buf.data, HEAD, strlen(HEAD));
    assert_string_equal(out_buf.data + strlen(HEAD), want);
    pl_buf_reset(&out_buf);
    pl_buf_append_str(&out_buf, HEAD);
}

/* ---- encoders ---- */

static void test_ready(void **state)
{
    (void)state;
    chat_out_ready(&out_buf, "s-1", "aaa.bbb.ccc", true);
    expect(
        "{\"type\":\"ready\",\"session_id\":\"s-1\",\"token\":\"aaa.bbb.ccc\",\"resumed\":true}");
    chat_out_ready(&out_buf, "s-2", "t", false);
    expect("{\"type\":\"ready\",\"session_id\":\"s-2\",\"token\":\"t\",\"resumed\":false}");
}

static void test_ack(void **state)
{
    (void)state;
    chat_out_ack(&out_buf, "c-17", 3);
    expect("{\"type\":\"ack\",\"id\":\"c-17\",\"turn\":3}");
    chat_out_ack(&out_buf, NULL, 12);
    expect("{\"type\":\"ack\",\"id\":null,\"turn\":12}");
    chat_out_ack(&out_buf, "a\"b\\c", 1);
    expect("{\"type\":\"ack\",\"id\":\"a\\\"b\\\\c\",\"turn\":1}");
}

static void test_turn_start(void **state)
{
    (void)state;
    chat_out_turn_start(&out_buf, 42);
    expect("{\"type\":\"turn_start\",\"turn\":42}");
}

static void test_agent_frames(void **state)
{
    (void)state;
    chat_out_agent_joined(&out_buf, "ann \"A\"");
    expect("{\"type\":\"agent_joined\",\"name\":\"ann \\\"A\\\"\"}");
    chat_out_agent_message(&out_buf, "Hi <b>there</b>\n", 16);
    expect("{\"type\":\"agent_message\",\"text\":\"Hi <b>there</b>\\n\"}");
    chat_out_agent_left(&out_buf);
    expect("{\"type\":\"agent_left\"}");
    const struct chat_history_item items[] = {
        {.role = "agent", .text = "hello", .turn = 2, .ts_ms = 7, .agent = "ann"},
    };
    chat_out_history(&out_buf, items, 1);
    expect("{\"type\":\"history\",\"messages\":[{\"role\":\"agent\",\"text\":\"hello\",\"turn\":2,"
           "\"ts\":7,\"agent\":\"ann\"}]}");
}

static void test_delta(void **state)
{
    (void)state;
    chat_out_delta(&out_buf, 2, 0, "Hello", 5);
    expect("{\"type\":\"delta\",\"turn\":2,\"seq\":0,\"text\":\"Hello\"}");
    /* Only `len` bytes are used. */
    chat_out_delta(&out_buf, 2, 1, "Hello world", 5);
    expect("{\"type\":\"delta\",\"turn\":2,\"seq\":1,\"text\":\"Hello\"}");
    chat_out_delta(&out_buf, 2, 2, "", 0);
    expect("{\"type\":\"delta\",\"turn\":2,\"seq\":2,\"text\":\"\"}");
    /* Quotes, backslash, named escapes, other controls as \u00XX, UTF-8 passed through. */
    static const char tricky[] = "say \"hi\"\\\n\t\r\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80";
    chat_out_delta(&out_buf, 7, 3, tricky, sizeof(tricky) - 1);
    expect("{\"type\":\"delta\",\"turn\":7,\"seq\":3,\"text\":\"say \\\"hi\\\"\\\\\\n\\t\\r\\u0001"
           "\\u001f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
    /* An embedded NUL inside the length is escaped, not a terminator. */
    chat_out_delta(&out_buf, 1, 0, "a\0b", 3);
    expect("{\"type\":\"delta\",\"turn\":1,\"seq\":0,\"text\":\"a\\u0000b\"}");
    /* Numbers of every width. */
    chat_out_delta(&out_buf, 10, 109, "x", 1);
    expect("{\"type\":\"delta\",\"turn\":10,\"seq\":109,\"text\":\"x\"}");
    chat_out_delta(&out_buf, 2147483647, 9223372036854775807L, "x", 1);
    expect("{\"type\":\"delta\",\"turn\":2147483647,\"seq\":9223372036854775807,\"text\":\"x\"}");
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    /* A character cut in half at the end, a stray continuation byte, an overlong: each bad byte
     * becomes U+FFFD so the frame stays valid UTF-8. */
    chat_out_delta(&out_buf, 1, 0, "ab\xe2\x82", 4);
    expect("{\"type\":\"delta\",\"turn\":1,\"seq\":0,\"text\":\"ab\xef\xbf\xbd\xef\xbf\xbd\"}");
    chat_out_delta(&out_buf, 1, 1, "\x80x\xc0\xaf\"", 5);
    expect("{\"type\":\"delta\",\"turn\":1,\"seq\":1,\"text\":\"\xef\xbf\xbdx\xef\xbf\xbd"
           "\xef\xbf\xbd\\\"\"}");
}

static void test_turn_end(void **state)
{
    (void)state;
    struct turn_end e = {.turn = 4,
                         .answered_in = 4,
                         .stop_reason = "end_turn",
                         .input_tokens = 1200,
                         .output_tokens = 87,
                         .cache_read_input_tokens = 4096,
                         .cache_creation_input_tokens = 17,
                         .cost_micros = 6198,
                         .text = "streamed already",
                         .streamed = true};
    chat_out_turn_end(&out_buf, &e);
    expect("{\"type\":\"turn_end\",\"turn\":4,\"stop_reason\":\"end_turn\",\"usage\":{"
           "\"input_tokens\":1200,\"output_tokens\":87,\"cache_read_input_tokens\":4096,"
           "\"cache_creation_input_tokens\":17},\"cost_usd_micros\":6198,\"citations\":[]}");
    const struct prompt_citation cites[] = {
        {.source = "kb/claims.md", .title = "How to \"file\" a claim"},
        {.source = "kb/faq.md", .title = "FAQ \xe2\x80\x94 r\xc3\xa9sum\xc3\xa9"},
    };
    e = (struct turn_end){.turn = 5,
                          .answered_in = 5,
                          .stop_reason = "cancelled",
                          .output_tokens = 3,
                          .citations = cites,
                          .n_citations = 2,
                          .streamed = true};
    chat_out_turn_end(&out_buf, &e);
    expect("{\"type\":\"turn_end\",\"turn\":5,\"stop_reason\":\"cancelled\",\"usage\":{"
           "\"input_tokens\":0,\"output_tokens\":3,\"cache_read_input_tokens\":0,\"cache_creation_"
           "input_tokens\":0},\"cost_usd_micros\":0,"
           "\"citations\":["
           "{\"source\":\"kb/claims.md\",\"title\":\"How to \\\"file\\\" a claim\"},"
           "{\"source\":\"kb/faq.md\",\"title\":\"FAQ \xe2\x80\x94 r\xc3\xa9sum\xc3\xa9\"}]}");
    /* Covered by another turn's answer, streamed on another instance: it says which, and
     * carries the text its deltas did not bring here. */
    e = (struct turn_end){.turn = 3,
                          .answered_in = 4,
                          .stop_reason = "end_turn",
                          .text = "Both \"answered\"",
                          .text_len = 15};
    chat_out_turn_end(&out_buf, &e);
    expect("{\"type\":\"turn_end\",\"turn\":3,\"answered_in\":4,\"stop_reason\":\"end_turn\","
           "\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_read_input_tokens\":0,"
           "\"cache_creation_input_tokens\":0},\"cost_usd_micros\":0,"
           "\"citations\":[],\"text\":\"Both \\\"answered\\\"\"}");
}

static void test_error(void **state)
{
    (void)state;
    chat_out_error(&out_buf, API_ERR_BUSY, "wait and retry");
    expect(
        "{\"type\":\"error\",\"code\":\"busy\",\"message\":\"wait and retry\",\"retryable\":true}");
    chat_out_error(&out_buf, API_ERR_BAD_REQUEST, "unknown type \"x\"\n");
    expect("{\"type\":\"error\",\"code\":\"bad_request\",\"message\":\"unknown type \\\"x\\\"\\n\","
           "\"retryable\":false}");
    /* No message: the table's. */
    chat_out_error(&out_buf, API_ERR_STORAGE_UNAVAILABLE, NULL);
    expect("{\"type\":\"error\",\"code\":\"upstream_unavailable\",\"message\":\"conversation "
           "storage is unavailable; please retry shortly\",\"retryable\":true}");
    /* A rate limit's refusal says when to retry; 0 leaves the field out. */
    chat_out_error_retry_after(&out_buf, API_ERR_TOO_MANY_MESSAGES, "slow down", 2999);
    expect("{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow down\","
           "\"retryable\":true,\"retry_after_ms\":2999}");
    chat_out_error_retry_after(&out_buf, API_ERR_BUSY, "wait", 0);
    expect("{\"type\":\"error\",\"code\":\"busy\",\"message\":\"wait\",\"retryable\":true}");
}

static void test_http_answer_and_pending(void **state)
{
    (void)state;
    const struct prompt_citation cite = {.source = "faq.md", .title = "FAQ"};
    struct turn_end e = {.turn = 2,
                         .answered_in = 2,
                         .stop_reason = "end_turn",
                         .input_tokens = 10,
                         .output_tokens = 2,
                         .text = "Yes \"indeed\"",
                         .text_len = 12,
                         .citations = &cite,
                         .n_citations = 1};
    chat_out_answer(&out_buf, &e);
    expect("{\"turn\":2,\"text\":\"Yes \\\"indeed\\\"\",\"stop_reason\":\"end_turn\",\"usage\":{"
           "\"input_tokens\":10,\"output_tokens\":2,\"cache_read_input_tokens\":0,\"cache_creation_"
           "input_tokens\":0},\"cost_usd_micros\":0,"
           "\"citations\":[{\"source\":\"faq.md\","
           "\"title\":\"FAQ\"}]}");
    e = (struct turn_end){.turn = 1,
                          .answered_in = 3,
                          .stop_reason = "upstream_error",
                          .text = "",
                          .error = API_ERR_UPSTREAM_UNAVAILABLE};
    chat_out_answer(&out_buf, &e);
    expect("{\"turn\":1,\"answered_in\":3,\"text\":\"\",\"stop_reason\":\"upstream_error\","
           "\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_read_input_tokens\":0,"
           "\"cache_creation_input_tokens\":0},\"cost_usd_micros\":0,"
           "\"citations\":[],\"error\":{"
           "\"code\":\"upstream_unavailable\",\"message\":\"the assistant is unavailable right "
           "now; please try again in a moment\",\"retryable\":true}}");
    chat_out_pending(&out_buf, 7, NULL, 0);
    expect("{\"turn\":7,\"status\":\"pending\"}");
    chat_out_pending(&out_buf, 7, "so fa", 5);
    expect("{\"turn\":7,\"status\":\"pending\",\"text\":\"so fa\"}");
}

static void test_history(void **state)
{
    (void)state;
    chat_out_history(&out_buf, NULL, 0);
    expect("{\"type\":\"history\",\"messages\":[]}");
    const struct chat_history_item items[] = {
        {.role = "caller", .text = "My roof \"leaks\"\n", .turn = 1, .ts_ms = 1700000000123LL},
        {.role = "assistant",
         .text = "D\xc3\xa9sol\xc3\xa9 \xf0\x9f\x8f\xa0",
         .turn = 1,
         .ts_ms = 1700000000456LL,
         .stop_reason = "max_tokens"},
        {.role = "agent", .text = "", .turn = 2, .ts_ms = 0},
    };
    chat_out_history(&out_buf, items, 3);
    expect("{\"type\":\"history\",\"messages\":["
           "{\"role\":\"caller\",\"text\":\"My roof \\\"leaks\\\"\\n\",\"turn\":1,"
           "\"ts\":1700000000123},"
           "{\"role\":\"assistant\",\"text\":\"D\xc3\xa9sol\xc3\xa9 \xf0\x9f\x8f\xa0\",\"turn\":1,"
           "\"ts\":1700000000456,\"stop_reason\":\"max_tokens\"},"
           "{\"role\":\"agent\",\"text\":\"\",\"turn\":2,\"ts\":0}]}");
}

static void test_too_big_leaves_buffer(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 40);
    pl_buf_append_str(&b, HEAD);
    /* Fits up to somewhere in the middle, then fails: nothing must remain of it. */
    chat_out_delta(&b, 1, 0, "0123456789012345678901234567890123456789", 40);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, HEAD);
    chat_out_turn_start(&b, 1); /* {"type":"turn_start","turn":1} is 30 bytes: fits */
    assert_string_equal(b.data, HEAD "{\"type\":\"turn_start\",\"turn\":1}");
    chat_out_turn_start(&b, 2);
    assert_int_equal(b.len, 34);
    assert_string_equal(b.data, HEAD "{\"type\":\"turn_start\",\"turn\":1}");
    pl_buf_cleanup(&b);
}

/* ---- parser ---- */

static const struct chat_limits lim = {.max_frame_bytes = 65536, .max_text_chars = 4000};

static int parse(const char *frame, struct chat_in *in, struct chat_error *err)
{
    return chat_in_parse(frame, strlen(frame), &lim, in, err);
}

/* The frame must be refused with `code`; the message must contain `part` (if not NULL). */
static void refused(const char *frame, const char *code, const char *part)
{
    struct chat_in in;
    struct chat_error err;
    memset(&in, 0x5a, sizeof(in));
    assert_int_equal(parse(frame, &in, &err), PL_EINVAL);
    assert_int_not_equal(err.code, API_ERR_NONE);
    assert_string_equal(api_error_code(err.code), code);
    assert_true(strlen(err.message) > 0);
    if (part && !strstr(err.message, part))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
    assert_null(in.token);
    assert_null(in.id);
    assert_null(in.text);
    assert_null(in.reason);
    chat_in_cleanup(&in);
}

static void test_hello(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    assert_int_equal(parse("{\"type\":\"hello\"}", &in, &err), PL_OK);
    assert_int_equal(in.type, CHAT_IN_HELLO);
    assert_null(in.token);
    assert_false(in.has_resume);
    chat_in_cleanup(&in);

    assert_int_equal(
        parse("{\"type\":\"hello\",\"token\":\"a.b.c\",\"resume\":{\"turn\":3,\"seq\":17},"
              "\"client\":\"widget/1.2\"}",
              &in, &err),
        PL_OK);
    assert_int_equal(in.type, CHAT_IN_HELLO);
    assert_string_equal(in.token, "a.b.c");
    assert_true(in.has_resume);
    assert_int_equal(in.resume_turn, 3);
    assert_int_equal(in.resume_seq, 17);
    chat_in_cleanup(&in);
    assert_null(in.token);

    /* Lowest values; null token and null resume count as absent. */
    assert_int_equal(parse("{\"type\":\"hello\",\"resume\":{\"turn\":1,\"seq\":-1}}", &in, &err),
                     PL_OK);
    assert_true(in.has_resume);
    assert_int_equal(in.resume_turn, 1);
    assert_int_equal(in.resume_seq, -1);
    chat_in_cleanup(&in);
    assert_int_equal(parse("{\"type\":\"hello\",\"token\":null,\"resume\":null}", &in, &err),
                     PL_OK);
    assert_null(in.token);
    assert_false(in.has_resume);
    chat_in_cleanup(&in);
}

static void test_hello_errors(void **state)
{
    (void)state;
    refused("{\"type\":\"hello\",\"token\":5}", "bad_request", "\"token\" must be a string");
    refused("{\"type\":\"hello\",\"token\":{}}", "bad_request", "\"token\"");
    refused("{\"type\":\"hello\",\"resume\":\"3:17\"}", "bad_request", "\"resume\" must be");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":0,\"seq\":0}}", "bad_request", "N >= 1");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":1,\"seq\":-2}}", "bad_request", "M >= -1");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":1.5,\"seq\":0}}", "bad_request", "resume");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":\"1\",\"seq\":0}}", "bad_request", "resume");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":1}}", "bad_request", "resume");
    refused("{\"type\":\"hello\",\"resume\":{\"seq\":1}}", "bad_request", "resume");
    refused("{\"type\":\"hello\",\"resume\":{\"turn\":99999999999,\"seq\":1}}", "bad_request",
            "resume");
}

static void test_message(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    assert_int_equal(
        parse("{\"type\":\"message\",\"id\":\"c-1\",\"text\":\"  My roof leaks\\n\",\"x\":1}", &in,
              &err),
        PL_OK);
    assert_int_equal(in.type, CHAT_IN_MESSAGE);
    assert_string_equal(in.id, "c-1");
    assert_string_equal(in.text, "  My roof leaks\n"); /* kept as sent */
    assert_int_equal(in.text_len, 16);
    chat_in_cleanup(&in);

    /* No id; escaped and raw UTF-8 both decode to UTF-8. */
    assert_int_equal(
        parse("{\"text\":\"caf\\u00e9 \xc3\xa9 \\ud83d\\ude00\",\"type\":\"message\"}", &in, &err),
        PL_OK);
    assert_null(in.id);
    assert_string_equal(in.text, "caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80");
    assert_int_equal(in.text_len, 13);
    chat_in_cleanup(&in);

    /* id of exactly 128 bytes. */
    char frame[400];
    char id[130];
    memset(id, 'i', 128);
    id[128] = '\0';
    snprintf(frame, sizeof(frame), "{\"type\":\"message\",\"id\":\"%s\",\"text\":\"x\"}", id);
    assert_int_equal(parse(frame, &in, &err), PL_OK);
    assert_string_equal(in.id, id);
    chat_in_cleanup(&in);
    /* and 129 */
    memset(id, 'i', 129);
    id[129] = '\0';
    snprintf(frame, sizeof(frame), "{\"type\":\"message\",\"id\":\"%s\",\"text\":\"x\"}", id);
    refused(frame, "bad_request", "1 to 128 bytes");
}

static void test_message_errors(void **state)
{
    (void)state;
    refused("{\"type\":\"message\"}", "bad_request", "\"text\" is required");
    refused("{\"type\":\"message\",\"text\":null}", "bad_request", "\"text\" is required");
    refused("{\"type\":\"message\",\"text\":42}", "bad_request", "must be a string");
    refused("{\"type\":\"message\",\"text\":\"\"}", "bad_request", "empty");
    refused("{\"type\":\"message\",\"text\":\" \\n\\t\\r \"}", "bad_request", "empty");
    refused("{\"type\":\"message\",\"text\":\"a\\u0000b\"}", "bad_request", "NUL");
    refused("{\"type\":\"message\",\"text\":\"x\",\"id\":7}", "bad_request", "\"id\"");
    refused("{\"type\":\"message\",\"text\":\"x\",\"id\":\"\"}", "bad_request", "\"id\"");
    refused("{\"type\":\"message\",\"text\":\"x\",\"id\":[\"a\"]}", "bad_request", "\"id\"");
    /* A client id is echoed in acks and kept in Redis: no line breaks, escapes or C1 controls. */
    const char *with_controls[] = {"a\\r\\nb", "\\u001b[2J", "a\\tb", "\\u009b", "a\\u2028"};
    for (size_t i = 0; i < sizeof(with_controls) / sizeof(with_controls[0]); i++) {
        char frame[128];
        snprintf(frame, sizeof(frame), "{\"type\":\"message\",\"text\":\"x\",\"id\":\"%s\"}",
                 with_controls[i]);
        struct chat_in in;
        struct chat_error err;
        assert_int_equal(parse(frame, &in, &err), PL_EINVAL);
        assert_int_equal(err.code, API_ERR_BAD_REQUEST);
        assert_string_equal(err.message, "message: \"id\" must be a string of 1 to 128 bytes "
                                         "without control characters (a client id to match the "
                                         "ack)");
    }
}

/* A message frame whose text is `n` copies of the UTF-8 character `ch`. */
static char *text_frame(const char *ch, size_t n)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append_str(&b, "{\"type\":\"message\",\"text\":\"");
    for (size_t i = 0; i < n; i++)
        pl_buf_append_str(&b, ch);
    pl_buf_append_str(&b, "\"}");
    return pl_buf_take(&b);
}

static void test_text_limit_in_code_points(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    char *f = text_frame("\xc3\xa9", 4000); /* 8000 bytes, 4000 characters */
    assert_int_equal(parse(f, &in, &err), PL_OK);
    assert_int_equal(in.text_len, 8000);
    chat_in_cleanup(&in);
    pl_free(f);

    f = text_frame("\xc3\xa9", 4001);
    assert_int_equal(parse(f, &in, &err), PL_EINVAL);
    assert_string_equal(api_error_code(err.code), "too_large");
    assert_string_equal(err.message, "message: the text has 4001 characters and the limit is "
                                     "4000; shorten it or send it as several messages");
    pl_free(f);

    f = text_frame("\xf0\x9f\x98\x80", 4000); /* 16000 bytes, 4000 characters */
    assert_int_equal(parse(f, &in, &err), PL_OK);
    chat_in_cleanup(&in);
    pl_free(f);

    f = text_frame("a", 4001);
    refused(f, "too_large", "4001 characters");
    pl_free(f);
}

static void test_cancel_escalate(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    assert_int_equal(parse("{\"type\":\"cancel\",\"turn\":3}", &in, &err), PL_OK);
    assert_int_equal(in.type, CHAT_IN_CANCEL);
    chat_in_cleanup(&in);

    assert_int_equal(parse("{\"type\":\"escalate\"}", &in, &err), PL_OK);
    assert_int_equal(in.type, CHAT_IN_ESCALATE);
    assert_null(in.reason);
    chat_in_cleanup(&in);
    assert_int_equal(parse("{\"type\":\"escalate\",\"reason\":\"I want a person\"}", &in, &err),
                     PL_OK);
    assert_int_equal(in.type, CHAT_IN_ESCALATE);
    assert_string_equal(in.reason, "I want a person");
    chat_in_cleanup(&in);

    refused("{\"type\":\"escalate\",\"reason\":true}", "bad_request", "\"reason\"");
    /* 500 characters (1000 bytes) pass, 501 do not. */
    char frame[1200];
    char reason[1010];
    for (size_t i = 0; i < 500; i++)
        memcpy(reason + 2 * i, "\xc3\xa9", 2);
    reason[1000] = '\0';
    snprintf(frame, sizeof(frame), "{\"type\":\"escalate\",\"reason\":\"%s\"}", reason);
    assert_int_equal(parse(frame, &in, &err), PL_OK);
    assert_int_equal(strlen(in.reason), 1000);
    chat_in_cleanup(&in);
    memcpy(reason + 1000, "x", 2);
    snprintf(frame, sizeof(frame), "{\"type\":\"escalate\",\"reason\":\"%s\"}", reason);
    refused(frame, "bad_request", "at most 500 characters");
}

static void test_frame_errors(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    /* Frame size is checked first, in bytes. */
    const struct chat_limits small = {.max_frame_bytes = 20, .max_text_chars = 4000};
    const char *f = "{\"type\":\"cancel\"}   "; /* 20 bytes */
    assert_int_equal(chat_in_parse(f, 20, &small, &in, &err), PL_OK);
    chat_in_cleanup(&in);
    f = "{\"type\":\"cancel\"}    ";
    assert_int_equal(chat_in_parse(f, 21, &small, &in, &err), PL_EINVAL);
    assert_string_equal(api_error_code(err.code), "too_large");
    assert_string_equal(err.message,
                        "the frame is 21 bytes and the limit is 20 bytes; send a shorter message");

    refused("{\"type\":\"message\",\"text\":\"\xc3\"}", "bad_request", NULL);
    assert_int_equal(parse("{\"type\":\"message\",\"text\":\"\xed\xa0\x80\"}", &in, &err),
                     PL_EINVAL);
    assert_string_equal(api_error_code(err.code), "bad_request");
    assert_string_equal(err.message, "frame is not valid UTF-8");
    /* A raw NUL byte inside the frame length. */
    assert_int_equal(chat_in_parse("{\"type\":\"cancel\"}\0", 18, &lim, &in, &err), PL_EINVAL);
    assert_string_equal(api_error_code(err.code), "bad_request");

    refused("", "bad_request", "not valid JSON (");
    refused("hello", "bad_request", "line 1, column");
    refused("{\"type\":\"cancel\"", "bad_request", "not valid JSON (");
    refused("{\"type\":\"cancel\"} {}", "bad_request", "not valid JSON (");
    refused("{\"type\":\"cancel\",\"type\":\"hello\"}", "bad_request", "duplicate");
    refused("\"cancel\"", "bad_request", NULL);
    refused("42", "bad_request", NULL);
    refused("[{\"type\":\"cancel\"}]", "bad_request", "JSON object");
    refused("{\"type\":\"x\\u0000\"}", "bad_request", "NUL");

    refused("{}", "bad_request", "\"type\" string");
    refused("{\"text\":\"hi\"}", "bad_request", "hello, message, cancel, escalate");
    refused("{\"type\":3}", "bad_request", "\"type\" string");
    refused("{\"type\":null}", "bad_request", "\"type\" string");
    assert_int_equal(parse("{\"type\":\"Hello\"}", &in, &err), PL_EINVAL);
    assert_string_equal(api_error_code(err.code), "bad_request");
    assert_string_equal(err.message,
                        "unknown type \"Hello\"; the known types are hello, message, cancel, "
                        "escalate");
}

static void test_unknown_type_quoted_safely(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    /* A long name is cut to at most 40 bytes, on a character boundary (39 bytes here). */
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"a%s\"}",
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
             "\xc3\xa9\xc3\xa9");
    assert_int_equal(parse(frame, &in, &err), PL_EINVAL);
    assert_string_equal(err.message,
                        "unknown type \"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\"; the known types are hello, message, cancel, "
                        "escalate");
}

/* The HTTP message body: a message without "type", checked exactly as the frame is. */
static void test_message_body(void **state)
{
    (void)state;
    struct chat_in in;
    struct chat_error err;
    const char *ok = "{\"id\":\"m-1\",\"text\":\"Is hail covered?\"}";
    assert_int_equal(chat_in_parse_message(ok, strlen(ok), &lim, &in, &err), PL_OK);
    assert_int_equal(in.type, CHAT_IN_MESSAGE);
    assert_string_equal(in.id, "m-1");
    assert_string_equal(in.text, "Is hail covered?");
    chat_in_cleanup(&in);
    const char *typed = "{\"type\":\"message\",\"text\":\"x\"}";
    assert_int_equal(chat_in_parse_message(typed, strlen(typed), &lim, &in, &err), PL_OK);
    assert_null(in.id);
    chat_in_cleanup(&in);
    static const struct {
        const char *body;
        const char *code;
        const char *part;
    } bad[] = {
        {"{\"type\":\"cancel\",\"text\":\"x\"}", "bad_request", "\"type\" may be left out"},
        {"{\"text\":\"   \"}", "bad_request", "empty"},
        {"{\"text\":3}", "bad_request", "must be a string"},
        {"[\"text\"]", "bad_request", "JSON object"},
        {"{\"text\":", "bad_request", "not valid JSON"},
        {"{\"text\":\"\xc3\"}", "bad_request", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(chat_in_parse_message(bad[i].body, strlen(bad[i].body), &lim, &in, &err),
                         PL_EINVAL);
        assert_string_equal(api_error_code(err.code), bad[i].code);
        if (!strstr(err.message, bad[i].part))
            fail_msg("message \"%s\" lacks \"%s\"", err.message, bad[i].part);
        assert_null(in.text);
    }
    const struct chat_limits tiny = {.max_frame_bytes = 65536, .max_text_chars = 3};
    assert_int_equal(chat_in_parse_message("{\"text\":\"abcd\"}", 15, &tiny, &in, &err), PL_EINVAL);
    assert_int_equal(err.code, API_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_answer_and_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test(test_too_big_leaves_buffer),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_errors),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_errors),
        cmocka_unit_test(test_text_limit_in_code_points),
        cmocka_unit_test(test_cancel_escalate),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_message_body),
        cmocka_unit_test(test_unknown_type_quoted_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
