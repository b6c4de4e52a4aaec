/* The log line: exact text and JSON output, control characters escaped so that a caller's text
 * can neither forge a line nor reach the operator's terminal as an escape sequence, and secrets
 * removed before anything is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"

#define TS "2026-01-02T03:04:05.678Z"

static void expect_line(enum pl_log_format format, enum pl_log_level level, const char *comp,
                        const char *msg, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_log_format_line(&b, format, TS, level, comp, msg);
    assert_non_null(b.data);
    assert_string_equal(b.data, want);
    pl_buf_cleanup(&b);
}

static void test_plain_lines(void **state)
{
    (void)state;
    expect_line(PL_LOG_TEXT, PL_LOG_NOTICE, "redis", "storage ready",
                TS " notice redis    storage ready\n");
    expect_line(PL_LOG_JSON, PL_LOG_WARN, "chat", "sess=ab \"quoted\"",
                "{\"ts\":\"" TS "\",\"level\":\"warn\",\"comp\":\"chat\","
                "\"msg\":\"sess=ab \\\"quoted\\\"\"}\n");
    /* UTF-8 text passes as it is. */
    expect_line(PL_LOG_TEXT, PL_LOG_INFO, "chat", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                TS " info   chat     caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n");
}

/* The escalate reason of a caller, as chat.c logs it: a newline would start a line of the
 * caller's choosing and ESC [2J would clear the operator's terminal. */
static void test_a_caller_cannot_forge_a_line_or_reach_the_terminal(void **state)
{
    (void)state;
    const char *msg = "sess=0123 asked for a human agent: help\n" TS
                      " err    main     forged line\r\x1b[2J\x07\t\x7f";
    expect_line(PL_LOG_TEXT, PL_LOG_NOTICE, "chat", msg,
                TS " notice chat     sess=0123 asked for a human agent: help\\n" TS
                   " err    main     forged line\\r\\x1b[2J\\x07\\t\\x7f\n");
    expect_line(PL_LOG_JSON, PL_LOG_NOTICE, "chat", msg,
                "{\"ts\":\"" TS "\",\"level\":\"notice\",\"comp\":\"chat\",\"msg\":\"sess=0123 "
                "asked for a human agent: help\\n" TS
                " err    main     forged line\\r\\u001b[2J\\u0007\\t\\u007f\"}\n");
}

static void test_hidden_controls_and_bad_bytes_are_escaped(void **state)
{
    (void)state;
    /* C1 CSI (U+009B), a line separator, a right-to-left override, a backslash, a lone
     * continuation byte and a truncated sequence. */
    const char *msg = "a\xc2\x9b"
                      "2J b\xe2\x80\xa8"
                      "c \xe2\x80\xae"
                      "txt.exe \\ \x80 \xe2\x82";
    expect_line(PL_LOG_TEXT, PL_LOG_INFO, "x", msg,
                TS " info   x        a\\u009b2J b\\u2028c \\u202etxt.exe \\\\ \\x80 \\xe2\\x82\n");
    expect_line(PL_LOG_JSON, PL_LOG_INFO, "x", msg,
                "{\"ts\":\"" TS "\",\"level\":\"info\",\"comp\":\"x\",\"msg\":\"a\\u009b2J "
                "b\\u2028c \\u202etxt.exe \\\\ \\ufffd \\ufffd\\ufffd\"}\n");
}

static void test_secrets_never_reach_the_log(void **state)
{
    (void)state;
    expect_line(PL_LOG_TEXT, PL_LOG_NOTICE, "main",
                "listening (redis redis://default:hunter2@10.0.0.5:6379/0)",
                TS " notice main     listening (redis redis://default:***@10.0.0.5:6379/0)\n");
    expect_line(PL_LOG_TEXT, PL_LOG_DEBUG, "lws",
                "hdr Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\r\n",
                TS " debug  lws      hdr Authorization: ***\\r\\n\n");
    expect_line(PL_LOG_JSON, PL_LOG_WARN, "chat",
                "frame {\"type\":\"hello\",\"token\":\"abc.def\"}",
                "{\"ts\":\"" TS "\",\"level\":\"warn\",\"comp\":\"chat\",\"msg\":\"frame "
                "{\\\"type\\\":\\\"hello\\\",\\\"token\\\":\\\"***\\\"}\"}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lines),
        cmocka_unit_test(test_a_caller_cannot_forge_a_line_or_reach_the_terminal),
        cmocka_unit_test(test_hidden_controls_and_bad_bytes_are_escaped),
        cmocka_unit_test(test_secrets_never_reach_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
