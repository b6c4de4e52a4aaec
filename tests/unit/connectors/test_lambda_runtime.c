/* The Lambda custom runtime API without I/O (connectors/lambda_runtime.h): invocation headers,
 * the Runtime API's URLs and error bodies, Lex and Connect events told apart, the forwarding
 * target, the deadline's arithmetic, Parley's answer checked, and the exact fallback answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/lambda_runtime.h"

#define LEX_EVENT                                                                                  \
    "{\"messageVersion\":\"1.0\",\"invocationSource\":\"DialogCodeHook\",\"inputMode\":\"Text\","  \
    "\"sessionId\":\"s-1\",\"inputTranscript\":\"is flood covered\",\"bot\":{\"name\":\"Claims\"," \
    "\"localeId\":\"en_GB\"},\"sessionState\":{\"sessionAttributes\":{\"policy\":\"AB123\"},"      \
    "\"intent\":{\"name\":\"CheckCoverage\",\"slots\":{\"Policy\":null},\"state\":\"InProgress\"," \
    "\"confirmationState\":\"None\"}}}"
#define CONNECT_EVENT                                                                              \
    "{\"Name\":\"ContactFlowEvent\",\"Details\":{\"ContactData\":{\"ContactId\":"                  \
    "\"c0ffee00-0000-4000-8000-000000000001\",\"Channel\":\"VOICE\",\"Queue\":null},"              \
    "\"Parameters\":{\"action\":\"ask\",\"text\":\"hello\"}}}"

static void feed(struct lambda_invocation *inv, const char *line)
{
    lambda_invocation_header(inv, line, strlen(line));
}

static void test_invocation_headers(void **state)
{
    (void)state;
    struct lambda_invocation inv;
    char err[128] = "";
    lambda_invocation_init(&inv);
    assert_int_equal(inv.deadline_ms, -1);
    assert_int_equal(lambda_invocation_check(&inv, err, sizeof err), PL_EPROTO);
    assert_string_equal(err, "no Lambda-Runtime-Aws-Request-Id");
    feed(&inv, "HTTP/1.1 200 OK\r\n");
    feed(&inv, "lambda-runtime-aws-request-id:  8476a536-e9f4-11e8-9739-2dfe598c3fcd \r\n");
    assert_int_equal(lambda_invocation_check(&inv, err, sizeof err), PL_EPROTO);
    assert_string_equal(err, "no Lambda-Runtime-Deadline-Ms");
    feed(&inv, "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n");
    feed(&inv, "Lambda-Runtime-Trace-Id: "
               "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n");
    feed(&inv, "Lambda-Runtime-Invoked-Function-Arn: "
               "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n");
    feed(&inv, "Content-Type: application/json\r\n");
    feed(&inv, "\r\n");
    assert_int_equal(lambda_invocation_check(&inv, err, sizeof err), PL_OK);
    assert_string_equal(inv.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    assert_int_equal(inv.deadline_ms, 1542409706888LL);
    assert_string_equal(
        inv.trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
    assert_false(inv.malformed);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Lambda-Runtime-Aws-Request-Id: ../../init/error", /* a path in the URL */
        "Lambda-Runtime-Aws-Request-Id: ..",
        "Lambda-Runtime-Aws-Request-Id: a b",
        "Lambda-Runtime-Aws-Request-Id: ",
        "Lambda-Runtime-Deadline-Ms: 12x",
        "Lambda-Runtime-Deadline-Ms: -5",
        "Lambda-Runtime-Deadline-Ms: 1234567890123456", /* 16 digits */
        "Lambda-Runtime-Trace-Id: Root=1\x01",
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++) {
        struct lambda_invocation inv;
        char err[128] = "";
        lambda_invocation_init(&inv);
        feed(&inv, "Lambda-Runtime-Aws-Request-Id: abc\r\n");
        feed(&inv, "Lambda-Runtime-Deadline-Ms: 1000\r\n");
        feed(&inv, bad[i]);
        assert_true(inv.malformed);
        assert_int_equal(lambda_invocation_check(&inv, err, sizeof err), PL_EPROTO);
        assert_string_equal(err, "an invocation header is malformed");
    }
    /* A request id of exactly the maximum is taken; one byte more is not. */
    char line[256];
    struct lambda_invocation inv;
    lambda_invocation_init(&inv);
    snprintf(line, sizeof line, "Lambda-Runtime-Aws-Request-Id: %0*d", LAMBDA_REQUEST_ID_MAX, 7);
    feed(&inv, line);
    assert_false(inv.malformed);
    assert_int_equal(strlen(inv.request_id), LAMBDA_REQUEST_ID_MAX);
    snprintf(line, sizeof line, "Lambda-Runtime-Aws-Request-Id: %0*d", LAMBDA_REQUEST_ID_MAX + 1,
             7);
    feed(&inv, line);
    assert_true(inv.malformed);
    /* A header whose name only begins like ours is another header. */
    lambda_invocation_init(&inv);
    feed(&inv, "Lambda-Runtime-Aws-Request-Id-X: zzz");
    assert_string_equal(inv.request_id, "");
    assert_false(inv.malformed);
}

static void test_runtime_urls(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(lambda_runtime_url(url, sizeof url, "127.0.0.1:9001", LAMBDA_NEXT, NULL),
                     PL_OK);
    assert_string_equal(url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next");
    assert_int_equal(lambda_runtime_url(url, sizeof url, "127.0.0.1:9001", LAMBDA_RESPONSE, "id-1"),
                     PL_OK);
    assert_string_equal(url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/id-1/response");
    assert_int_equal(lambda_runtime_url(url, sizeof url, "localhost:9001", LAMBDA_ERROR, "id-1"),
                     PL_OK);
    assert_string_equal(url, "http://localhost:9001/2018-06-01/runtime/invocation/id-1/error");
    assert_int_equal(lambda_runtime_url(url, sizeof url, "[::1]:9001", LAMBDA_INIT_ERROR, NULL),
                     PL_OK);
    assert_string_equal(url, "http://[::1]:9001/2018-06-01/runtime/init/error");
    assert_int_equal(lambda_runtime_url(url, sizeof url, "", LAMBDA_NEXT, NULL), PL_EINVAL);
    assert_int_equal(lambda_runtime_url(url, sizeof url, NULL, LAMBDA_NEXT, NULL), PL_EINVAL);
    assert_int_equal(lambda_runtime_url(url, sizeof url, "h/x", LAMBDA_NEXT, NULL), PL_EINVAL);
    assert_int_equal(lambda_runtime_url(url, sizeof url, "h:1", LAMBDA_RESPONSE, ""), PL_EINVAL);
    assert_int_equal(lambda_runtime_url(url, 20, "127.0.0.1:9001", LAMBDA_NEXT, NULL), PL_ETOOBIG);
}

static void test_error_json(void **state)
{
    (void)state;
    char *j = lambda_error_json("Runtime.UnknownEvent", "say \"what\"");
    assert_string_equal(
        j, "{\"errorMessage\":\"say \\\"what\\\"\",\"errorType\":\"Runtime.UnknownEvent\","
           "\"stackTrace\":[]}");
    pl_free(j);
}

static void test_event_kinds(void **state)
{
    (void)state;
    struct lambda_event e;
    char err[256] = "";
    assert_int_equal(lambda_event_read(LEX_EVENT, strlen(LEX_EVENT), &e, err, sizeof err), PL_OK);
    assert_int_equal(e.kind, LAMBDA_EVENT_LEX);
    assert_string_equal(lambda_event_kind_name(e.kind), "lex");
    assert_string_equal(e.lex.session_id, "s-1");
    lambda_event_cleanup(&e);
    assert_int_equal(lambda_event_read(CONNECT_EVENT, strlen(CONNECT_EVENT), &e, err, sizeof err),
                     PL_OK);
    assert_int_equal(e.kind, LAMBDA_EVENT_CONNECT);
    assert_string_equal(lambda_event_kind_name(e.kind), "connect");
    assert_string_equal(e.connect.contact_id, "c0ffee00-0000-4000-8000-000000000001");
    lambda_event_cleanup(&e);

    static const char *const other = "{\"Records\":[{\"eventSource\":\"aws:s3\"}]}";
    assert_int_equal(lambda_event_read(other, strlen(other), &e, err, sizeof err), PL_EINVAL);
    assert_int_equal(e.kind, LAMBDA_EVENT_UNKNOWN);
    assert_string_equal(err, "the event is neither an Amazon Lex V2 nor an Amazon Connect event");
    lambda_event_cleanup(&e);
    assert_int_equal(lambda_event_read("[1]", 3, &e, err, sizeof err), PL_EINVAL);
    assert_string_equal(err, "the event is not a JSON object");
    assert_int_equal(lambda_event_read("{\"Det", 5, &e, err, sizeof err), PL_EINVAL);
    assert_string_equal(err, "the event is not a JSON object");
    /* Lex-shaped but refused by the Lex reader: its reason is kept. */
    static const char *const half = "{\"invocationSource\":\"DialogCodeHook\"}";
    err[0] = '\0';
    assert_int_equal(lambda_event_read(half, strlen(half), &e, err, sizeof err), PL_EINVAL);
    assert_int_equal(e.kind, LAMBDA_EVENT_UNKNOWN);
    assert_true(strlen(err) > 0);
    lambda_event_cleanup(&e);
    assert_string_equal(lambda_event_kind_name(LAMBDA_EVENT_UNKNOWN), "unknown");
}

static void test_target(void **state)
{
    (void)state;
    struct lambda_target t;
    char err[256], url[LAMBDA_URL_MAX + 32];
    /* A base: each event's path is added. */
    assert_int_equal(lambda_target_parse("https://parley.internal:8443/", &t, err, sizeof err),
                     PL_OK);
    assert_false(t.fixed);
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_LEX, url, sizeof url), PL_OK);
    assert_string_equal(url, "https://parley.internal:8443/v1/lex");
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_CONNECT, url, sizeof url), PL_OK);
    assert_string_equal(url, "https://parley.internal:8443/v1/connect");
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_UNKNOWN, url, sizeof url), PL_EINVAL);
    assert_int_equal(lambda_target_parse("http://10.0.1.5:8080/parley//", &t, err, sizeof err),
                     PL_OK);
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_CONNECT, url, sizeof url), PL_OK);
    assert_string_equal(url, "http://10.0.1.5:8080/parley/v1/connect");
    assert_int_equal(lambda_target_parse("https://h", &t, err, sizeof err), PL_OK);
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_LEX, url, sizeof url), PL_OK);
    assert_string_equal(url, "https://h/v1/lex");
    /* An endpoint takes every event as it is. */
    assert_int_equal(lambda_target_parse("https://p.example/v1/connect", &t, err, sizeof err),
                     PL_OK);
    assert_true(t.fixed);
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_LEX, url, sizeof url), PL_OK);
    assert_string_equal(url, "https://p.example/v1/connect");
    assert_int_equal(lambda_target_parse("HTTPS://[fd00::1]:443/v1/lex", &t, err, sizeof err),
                     PL_OK);
    assert_true(t.fixed);
    /* An endpoint with a trailing slash is still the endpoint, not a base. */
    assert_int_equal(lambda_target_parse("https://h/v1/connect/", &t, err, sizeof err), PL_OK);
    assert_true(t.fixed);
    assert_int_equal(lambda_target_url(&t, LAMBDA_EVENT_LEX, url, sizeof url), PL_OK);
    assert_string_equal(url, "https://h/v1/connect");

    static const struct {
        const char *url, *err;
    } bad[] = {
        {"", "PARLEY_WEBHOOK_URL is not set"},
        {"ftp://h/", "PARLEY_WEBHOOK_URL must begin with https:// or http://"},
        {"parley.internal", "PARLEY_WEBHOOK_URL must begin with https:// or http://"},
        {"https://", "PARLEY_WEBHOOK_URL has no host, or a host with a byte not allowed"},
        {"https://user:pw@h/", "PARLEY_WEBHOOK_URL has no host, or a host with a byte not allowed"},
        {"https://h/v1/lex?x=1",
         "PARLEY_WEBHOOK_URL's path has a blank, a control byte, a query or a fragment"},
        {"https://h/a b",
         "PARLEY_WEBHOOK_URL's path has a blank, a control byte, a query or a fragment"},
        {"https://h/#f",
         "PARLEY_WEBHOOK_URL's path has a blank, a control byte, a query or a fragment"},
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(lambda_target_parse(bad[i].url, &t, err, sizeof err), PL_EINVAL);
        assert_string_equal(err, bad[i].err);
    }
    assert_int_equal(lambda_target_parse(NULL, &t, err, sizeof err), PL_EINVAL);
}

static void test_budget(void **state)
{
    (void)state;
    /* Connect's 8 s: an invocation with 8000 ms left and the default margin. */
    assert_int_equal(lambda_forward_budget_ms(1000008000, 1000000000, 500, 0), 7500);
    assert_int_equal(lambda_forward_budget_ms(1000008000, 1000000000, 500, 6000), 6000);
    assert_int_equal(lambda_forward_budget_ms(1000008000, 1000000000, 0, 0), 8000);
    assert_int_equal(lambda_forward_budget_ms(1000000501, 1000000000, 500, 0), 1);
    assert_int_equal(lambda_forward_budget_ms(1000000500, 1000000000, 500, 0), 0);
    assert_int_equal(lambda_forward_budget_ms(1000000000, 1000000000, 500, 0), 0);
    assert_int_equal(lambda_forward_budget_ms(999999000, 1000000000, 500, 0), 0); /* late */
    assert_int_equal(lambda_forward_budget_ms(1000000300, 1000000000, 0, 0), 300);
}

static void test_answer_check(void **state)
{
    (void)state;
    char err[128];
    static const char lex_ok[] = "{\"sessionState\":{\"dialogAction\":{\"type\":\"Close\"}}}";
    assert_int_equal(lambda_answer_check(LAMBDA_EVENT_LEX, lex_ok, strlen(lex_ok), err, sizeof err),
                     PL_OK);
    static const char lex_bad[] = "{\"sessionState\":{}}";
    assert_int_equal(
        lambda_answer_check(LAMBDA_EVENT_LEX, lex_bad, strlen(lex_bad), err, sizeof err),
        PL_EPROTO);
    assert_string_equal(err, "the answer has no sessionState.dialogAction.type");
    static const char con_ok[] = "{\"answer\":\"yes\",\"status\":\"done\"}";
    assert_int_equal(
        lambda_answer_check(LAMBDA_EVENT_CONNECT, con_ok, strlen(con_ok), err, sizeof err), PL_OK);
    static const char con_nested[] = "{\"answer\":{\"x\":\"y\"}}";
    assert_int_equal(
        lambda_answer_check(LAMBDA_EVENT_CONNECT, con_nested, strlen(con_nested), err, sizeof err),
        PL_EPROTO);
    assert_string_equal(err, "the answer is not a flat map of strings");
    assert_int_equal(lambda_answer_check(LAMBDA_EVENT_CONNECT, "<html>", 6, err, sizeof err),
                     PL_EPROTO);
    assert_string_equal(err, "the answer is not a JSON object");
    assert_int_equal(lambda_answer_check(LAMBDA_EVENT_LEX, "", 0, err, sizeof err), PL_EPROTO);
    /* 32 KB of Connect answer is too much. */
    size_t big = 32 * 1024;
    char *s = pl_malloc(big + 1);
    memset(s, 'a', big);
    memcpy(s, "{\"a\":\"", 6);
    memcpy(s + big - 2, "\"}", 2);
    s[big] = '\0';
    assert_int_equal(lambda_answer_check(LAMBDA_EVENT_CONNECT, s, big, err, sizeof err), PL_EPROTO);
    assert_string_equal(err, "the answer is 32 KB or more");
    assert_int_equal(lambda_answer_check(LAMBDA_EVENT_CONNECT, s, big - 1, err, sizeof err),
                     PL_EPROTO); /* no longer JSON */
    pl_free(s);
}

static void test_lex_fallback(void **state)
{
    (void)state;
    struct lambda_event e;
    char err[128];
    assert_int_equal(lambda_event_read(LEX_EVENT, strlen(LEX_EVENT), &e, err, sizeof err), PL_OK);
    size_t len = 0;
    char *j = lambda_lex_fallback(&e.lex, "Sorry, try again later.", &len);
    assert_string_equal(
        j, "{\"sessionState\":{\"sessionAttributes\":{\"policy\":\"AB123\",\"parley_error\":"
           "\"unavailable\"},\"dialogAction\":{\"type\":\"Close\"},\"intent\":{\"name\":"
           "\"CheckCoverage\",\"slots\":{\"Policy\":null},\"state\":\"Failed\"}},\"messages\":[{"
           "\"contentType\":\"PlainText\",\"content\":\"Sorry, try again later.\"}]}");
    assert_int_equal(len, strlen(j));
    pl_free(j);
    assert_null(lambda_lex_fallback(&e.lex, "", &len));
    lambda_event_cleanup(&e);
    /* An event with no attributes and null slots. */
    static const char minimal[] = "{\"messageVersion\":\"1.0\",\"invocationSource\":"
                                  "\"FulfillmentCodeHook\",\"sessionId\":\"ab\",\"sessionState\":{"
                                  "\"intent\":{\"name\":\"FallbackIntent\",\"slots\":null}}}";
    assert_int_equal(lambda_event_read(minimal, strlen(minimal), &e, err, sizeof err), PL_OK);
    j = lambda_lex_fallback(&e.lex, LAMBDA_LEX_FALLBACK_DEFAULT, &len);
    assert_string_equal(
        j, "{\"sessionState\":{\"sessionAttributes\":{\"parley_error\":\"unavailable\"},"
           "\"dialogAction\":{\"type\":\"Close\"},\"intent\":{\"name\":\"FallbackIntent\","
           "\"slots\":{},\"state\":\"Failed\"}},\"messages\":[{\"contentType\":\"PlainText\","
           "\"content\":\"Sorry, I can't help with that right now. Please try again in a "
           "moment.\"}]}");
    pl_free(j);
    lambda_event_cleanup(&e);
}

static void test_connect_fallback(void **state)
{
    (void)state;
    size_t len;
    static const struct {
        enum lambda_failure f;
        const char *want;
    } cases[] = {
        {LAMBDA_FAIL_UNREACHABLE,
         "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"unreachable\"}"},
        {LAMBDA_FAIL_TIMEOUT,
         "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"timeout\"}"},
        {LAMBDA_FAIL_NO_TIME,
         "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"no_time\"}"},
        {LAMBDA_FAIL_STATUS,
         "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"http_status\"}"},
        {LAMBDA_FAIL_INVALID,
         "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"invalid_response\"}"},
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(cases); i++) {
        char *j = lambda_connect_fallback(cases[i].f, &len);
        assert_string_equal(j, cases[i].want);
        assert_int_equal(len, strlen(cases[i].want));
        pl_free(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invocation_headers),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_runtime_urls),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_event_kinds),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_answer_check),
        cmocka_unit_test(test_lex_fallback),
        cmocka_unit_test(test_connect_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
