/* Classification of an OpenAI-compatible server's non-200 answers: OpenAI's nested shape,
 * vLLM's integer code and older flat shape, a string error, HTML from a proxy; statuses to the
 * error table; Retry-After in seconds, milliseconds and as a date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/openai_errors.h"

static void classify(int status, const char *body, const char *ra, const char *ra_ms,
                     struct oai_http_error *e)
{
    oai_classify_http_error(status, body, body ? strlen(body) : 0, ra, ra_ms, 1700000000, e);
}

static void test_rate_limited_with_retry_after(void **state)
{
    (void)state;
    struct oai_http_error e;
    classify(429,
             "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,"
             "\"code\":\"rate_limit_exceeded\"}}",
             "2", NULL, &e);
    assert_int_equal(e.error, API_ERR_RATE_LIMITED);
    assert_true(e.retryable);
    assert_int_equal(e.retry_after_ms, 2000);
    assert_string_equal(e.detail,
                        "OpenAI-compatible server 429 requests/rate_limit_exceeded: Rate limit "
                        "reached");
    /* retry-after-ms wins over retry-after */
    classify(429, "{}", "2", "250", &e);
    assert_int_equal(e.retry_after_ms, 250);
    /* an HTTP-date, 3 s ahead of now */
    classify(429, "", "Tue, 14 Nov 2023 22:13:23 GMT", NULL, &e);
    assert_int_equal(e.retry_after_ms, 3000);
    /* none */
    classify(429, "", NULL, NULL, &e);
    assert_int_equal(e.retry_after_ms, -1);
    assert_true(e.retryable);
}

static void test_spent_quota_is_final(void **state)
{
    (void)state;
    struct oai_http_error e;
    classify(429,
             "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":"
             "\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
             NULL, NULL, &e);
    assert_int_equal(e.error, API_ERR_RATE_LIMITED);
    assert_false(e.retryable);
}

static void test_server_errors_are_retryable(void **state)
{
    (void)state;
    struct oai_http_error e;
    classify(500,
             "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\","
             "\"param\":null,\"code\":null}}",
             NULL, NULL, &e);
    assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(e.retryable);
    assert_int_equal(e.retry_after_ms, -1);
    assert_string_equal(e.detail, "OpenAI-compatible server 500 server_error: The server had an "
                                  "error");
    /* older vLLM: flat, with the status as code */
    classify(503,
             "{\"object\":\"error\",\"message\":\"The model is loading\",\"type\":"
             "\"ServiceUnavailableError\",\"param\":null,\"code\":503}",
             "1", NULL, &e);
    assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(e.retryable);
    assert_int_equal(e.retry_after_ms, 1000);
    assert_string_equal(e.detail, "OpenAI-compatible server 503 ServiceUnavailableError/503: The "
                                  "model is loading");
    classify(502, "<html>Bad gateway</html>", NULL, NULL, &e);
    assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(e.retryable);
    assert_string_equal(e.detail, "OpenAI-compatible server answered HTTP 502");
    classify(408, NULL, NULL, NULL, &e);
    assert_true(e.retryable);
}

static void test_client_errors_are_final(void **state)
{
    (void)state;
    static const int statuses[] = {400, 401, 403, 404, 413, 422};
    struct oai_http_error e;
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        classify(statuses[i],
                 "{\"error\":{\"message\":\"This model's maximum context length is 8192 "
                 "tokens\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}",
                 "5", NULL, &e);
        assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
        assert_false(e.retryable);
    }
    classify(401, "{\"error\":\"invalid api key\"}", NULL, NULL, &e);
    assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
    assert_string_equal(e.detail, "OpenAI-compatible server 401 : invalid api key");
}

static void test_body_need_not_be_terminated(void **state)
{
    (void)state;
    const char body[] = "{\"error\":{\"type\":\"x\"}}GARBAGE";
    struct oai_http_error e;
    oai_classify_http_error(500, body, 22, NULL, NULL, 0, &e);
    assert_string_equal(e.detail, "OpenAI-compatible server 500 x: ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limited_with_retry_after),
        cmocka_unit_test(test_spent_quota_is_final),
        cmocka_unit_test(test_server_errors_are_retryable),
        cmocka_unit_test(test_client_errors_are_final),
        cmocka_unit_test(test_body_need_not_be_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
