/* Classification of the Anthropic API's failures (docs/upstream-anthropic.md, Errors and
 * Retries): HTTP errors and in-stream `error` events, each to the situation callers are told,
 * whether to retry, the retry hint, and a detail line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/anthropic_errors.h"

#define BODY(type, msg)                                                                            \
    "{\"type\":\"error\",\"error\":{\"type\":\"" type "\",\"message\":\"" msg                      \
    "\"},\"request_id\":\"req_1\"}"

static struct anth_http_error classify(int status, const char *body, const char *ra,
                                       const char *ra_ms, const char *should)
{
    struct anth_http_error e;
    anth_classify_http_error(status, body, strlen(body), ra, ra_ms, should, 1795000000, &e);
    return e;
}

static void test_rate_limited_with_retry_after(void **state)
{
    (void)state;
    struct anth_http_error e =
        classify(429, BODY("rate_limit_error", "slow down"), "2", NULL, NULL);
    assert_int_equal(e.error, API_ERR_RATE_LIMITED);
    assert_true(e.retryable);
    assert_int_equal(e.retry_after_ms, 2000);
    assert_string_equal(e.detail, "Anthropic API 429 rate_limit_error: slow down");
}

static void test_spend_cap_429_is_not_retried(void **state)
{
    (void)state;
    struct anth_http_error e =
        classify(429, BODY("rate_limit_error", "spend limit"), NULL, NULL, NULL);
    assert_int_equal(e.error, API_ERR_RATE_LIMITED);
    assert_false(e.retryable);
    assert_int_equal(e.retry_after_ms, -1);
}

static void test_overloaded_and_server_errors(void **state)
{
    (void)state;
    static const int statuses[] = {500, 502, 503, 504, 529, 408, 409};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct anth_http_error e =
            classify(statuses[i], BODY("overloaded_error", "Overloaded"), NULL, NULL, NULL);
        assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
        assert_true(e.retryable);
    }
}

static void test_client_errors_are_final(void **state)
{
    (void)state;
    static const int statuses[] = {400, 401, 402, 403, 404};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct anth_http_error e =
            classify(statuses[i], BODY("invalid_request_error", "no"), NULL, NULL, NULL);
        assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
        assert_false(e.retryable);
    }
}

static void test_html_413_from_the_proxy(void **state)
{
    (void)state;
    struct anth_http_error e =
        classify(413, "<html><body>413 Request Entity Too Large</body></html>", NULL, NULL, NULL);
    assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
    assert_false(e.retryable);
    assert_string_equal(e.detail, "Anthropic API answered HTTP 413");
}

static void test_should_retry_header_wins(void **state)
{
    (void)state;
    struct anth_http_error e = classify(500, BODY("api_error", "x"), NULL, NULL, "false");
    assert_false(e.retryable);
    e = classify(400, BODY("invalid_request_error", "x"), NULL, NULL, "true");
    assert_true(e.retryable);
}

static void test_retry_after_forms(void **state)
{
    (void)state;
    /* retry-after-ms first, then seconds, then an HTTP date relative to now. */
    struct anth_http_error e = classify(529, "{}", "3", "1500", NULL);
    assert_int_equal(e.retry_after_ms, 1500);
    e = classify(529, "{}", "0.5", NULL, NULL);
    assert_int_equal(e.retry_after_ms, 500);
    /* 1795000000 is Wed, 18 Nov 2026 11:06:40 GMT; ten seconds later: */
    e = classify(529, "{}", "Wed, 18 Nov 2026 11:06:50 GMT", NULL, NULL);
    assert_int_equal(e.retry_after_ms, 10000);
    e = classify(529, "{}", "soon", NULL, NULL);
    assert_int_equal(e.retry_after_ms, -1);
}

/* A hint too large for a long (or infinite) is held to a day: converting it was undefined
 * behaviour (found by tests/fuzz/fuzz_anthropic_errors.c). A day or less is kept as it is. */
static void test_huge_retry_after_is_capped(void **state)
{
    (void)state;
    struct anth_http_error e = classify(529, "{}", NULL, "1e300", NULL);
    assert_int_equal(e.retry_after_ms, 86400000);
    e = classify(529, "{}", "inf", NULL, NULL);
    assert_int_equal(e.retry_after_ms, 86400000);
    e = classify(429, "{}", "1e30", NULL, NULL);
    assert_int_equal(e.retry_after_ms, 86400000);
    assert_true(e.retryable);
    e = classify(529, "{}", "86400", NULL, NULL);
    assert_int_equal(e.retry_after_ms, 86400000);
    e = classify(529, "{}", NULL, "86399999", NULL);
    assert_int_equal(e.retry_after_ms, 86399999);
    e = classify(529, "{}", "nan", "-1", NULL);
    assert_int_equal(e.retry_after_ms, -1);
}

static struct anth_http_error stream_error(const char *type, const char *message)
{
    struct anth_http_error e;
    memset(&e, 0x5a, sizeof(e));
    anth_classify_stream_error(type, message, &e);
    return e;
}

static void test_stream_errors_transient(void **state)
{
    (void)state;
    static const char *const types[] = {"overloaded_error", "api_error", "rate_limit_error",
                                        "timeout_error"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct anth_http_error e = stream_error(types[i], "try later");
        assert_int_equal(e.error, strcmp(types[i], "rate_limit_error") == 0
                                      ? API_ERR_RATE_LIMITED
                                      : API_ERR_UPSTREAM_UNAVAILABLE);
        assert_true(e.retryable);
        assert_int_equal(e.retry_after_ms, -1);
    }
    struct anth_http_error e = stream_error("overloaded_error", "Overloaded");
    assert_string_equal(e.detail, "Anthropic stream error overloaded_error: Overloaded");
}

static void test_stream_errors_final(void **state)
{
    (void)state;
    static const char *const types[] = {"invalid_request_error",
                                        "authentication_error",
                                        "billing_error",
                                        "permission_error",
                                        "not_found_error",
                                        "request_too_large",
                                        "unknown_error",
                                        "a_type_added_later",
                                        "",
                                        "Overloaded_Error",
                                        "overloaded"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct anth_http_error e = stream_error(types[i], "no");
        assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
        assert_false(e.retryable);
        assert_int_equal(e.retry_after_ms, -1);
    }
    struct anth_http_error e = stream_error("invalid_request_error", "prompt is too long");
    assert_string_equal(e.detail,
                        "Anthropic stream error invalid_request_error: prompt is too long");
    e = stream_error(NULL, NULL);
    assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
    assert_false(e.retryable);
    assert_string_equal(e.detail, "Anthropic stream error (no type): ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limited_with_retry_after),
        cmocka_unit_test(test_spend_cap_429_is_not_retried),
        cmocka_unit_test(test_overloaded_and_server_errors),
        cmocka_unit_test(test_client_errors_are_final),
        cmocka_unit_test(test_html_413_from_the_proxy),
        cmocka_unit_test(test_should_retry_header_wins),
        cmocka_unit_test(test_retry_after_forms),
        cmocka_unit_test(test_huge_retry_after_is_capped),
        cmocka_unit_test(test_stream_errors_transient),
        cmocka_unit_test(test_stream_errors_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
