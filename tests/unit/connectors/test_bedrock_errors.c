/* Bedrock's HTTP errors before the stream (connectors/bedrock_errors.h): the error, retryable
 * flag, retry hint, exception name and detail of each status AWS documents, names from the
 * header or the body, and bodies that are not JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/bedrock_errors.h"

#define CORAL ":http://internal.amazon.com/coral/com.amazon.bedrock/"

static void classify(int status, const char *type, const char *body, const char *ra,
                     struct bedrock_http_error *e)
{
    bedrock_classify_http_error(status, type, body, body ? strlen(body) : 0, ra, 1000000, e);
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *type;
        enum api_error error;
        bool retryable;
    } rows[] = {
        {429, "ThrottlingException", API_ERR_RATE_LIMITED, true},
        {429, "ModelNotReadyException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {500, "InternalServerException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {503, "ServiceUnavailableException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {408, "ModelTimeoutException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {400, "ValidationException", API_ERR_UPSTREAM_ERROR, false},
        {400, "ServiceQuotaExceededException", API_ERR_UPSTREAM_ERROR, false},
        {403, "AccessDeniedException", API_ERR_UPSTREAM_ERROR, false},
        {404, "ResourceNotFoundException", API_ERR_UPSTREAM_ERROR, false},
        {424, "ModelErrorException", API_ERR_UPSTREAM_ERROR, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        char header[160];
        snprintf(header, sizeof(header), "%s" CORAL, rows[i].type);
        struct bedrock_http_error e;
        classify(rows[i].status, header, "{\"message\":\"m\"}", NULL, &e);
        assert_int_equal(e.error, rows[i].error);
        assert_int_equal(e.retryable, rows[i].retryable);
        assert_string_equal(e.type, rows[i].type);
        assert_int_equal(e.retry_after_ms, -1);
        char want[200];
        snprintf(want, sizeof(want), "Bedrock %d %s: m", rows[i].status, rows[i].type);
        assert_string_equal(e.detail, want);
    }
}

static void test_throttling_detail_and_retry_after(void **state)
{
    (void)state;
    struct bedrock_http_error e;
    classify(429, "ThrottlingException" CORAL,
             "{\"message\":\"Too many requests, please wait before trying again.\"}", "3", &e);
    assert_int_equal(e.error, API_ERR_RATE_LIMITED);
    assert_true(e.retryable);
    assert_int_equal(e.retry_after_ms, 3000);
    assert_string_equal(e.detail,
                        "Bedrock 429 ThrottlingException: Too many requests, please wait before "
                        "trying again.");
    /* An HTTP-date: 20 s after now (1000000 s is Mon, 12 Jan 1970 13:46:40 GMT). */
    classify(503, NULL, "", "Mon, 12 Jan 1970 13:47:00 GMT", &e);
    assert_int_equal(e.retry_after_ms, 20000);
    assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
    classify(503, NULL, "", "soon", &e);
    assert_int_equal(e.retry_after_ms, -1);
}

static void test_name_sources(void **state)
{
    (void)state;
    struct bedrock_http_error e;
    /* From the body's __type when the header is absent. */
    classify(400, NULL,
             "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
             "\"Message\":\"The provided model identifier is invalid.\"}",
             NULL, &e);
    assert_string_equal(e.type, "ValidationException");
    assert_string_equal(
        e.detail, "Bedrock 400 ValidationException: The provided model identifier is invalid.");
    /* A header without the coral suffix; an empty header falls back to the body. */
    classify(403, "AccessDeniedException", "{}", NULL, &e);
    assert_string_equal(e.detail, "Bedrock 403 AccessDeniedException: ");
    classify(404, "", "{\"message\":\"no such model\"}", NULL, &e);
    assert_string_equal(e.type, "");
    assert_string_equal(e.detail, "Bedrock 404: no such model");
    assert_false(e.retryable);
    /* Not JSON at all (a proxy's page). */
    classify(502, NULL, "<html>Bad Gateway</html>", NULL, &e);
    assert_string_equal(e.detail, "Bedrock answered HTTP 502");
    assert_int_equal(e.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(e.retryable);
    classify(401, NULL, NULL, NULL, &e);
    assert_string_equal(e.detail, "Bedrock answered HTTP 401");
    assert_int_equal(e.error, API_ERR_UPSTREAM_ERROR);
    assert_false(e.retryable);
    /* An overlong name is cut, terminated. */
    char longname[300];
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    classify(400, longname, "{}", NULL, &e);
    assert_int_equal(strlen(e.type), sizeof(e.type) - 1);
    /* Control bytes from a header or the body never reach the log or the caller as line breaks
     * (found by fuzz_bedrock_errors: a CR in x-amzn-ErrorType). */
    classify(400, "Bad\rName:x", "{\"message\":\"line one\\nline two\"}", NULL, &e);
    assert_string_equal(e.type, "Bad Name");
    assert_string_equal(e.detail, "Bedrock 400 Bad Name: line one line two");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_throttling_detail_and_retry_after),
        cmocka_unit_test(test_name_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
