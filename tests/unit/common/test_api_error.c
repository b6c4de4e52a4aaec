/* The error table: every row complete, public codes and statuses as docs/protocol.md lists
 * them, and codes read back from storage mapping to a row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/api_error.h"

static void test_every_row_is_complete(void **state)
{
    (void)state;
    for (int e = API_ERR_NONE + 1; e < API_ERR_COUNT; e++) {
        const struct api_error_info *i = api_error_info((enum api_error)e);
        assert_non_null(i->code);
        assert_true(strlen(i->code) > 0);
        assert_true(i->http_status >= 400 && i->http_status <= 599);
        assert_non_null(i->message);
        assert_true(strlen(i->message) > 10);
    }
}

static void test_public_codes_and_statuses(void **state)
{
    (void)state;
    static const struct {
        enum api_error e;
        const char *code;
        int status;
        bool retryable;
    } want[] = {
        {API_ERR_BAD_REQUEST, "bad_request", 400, false},
        {API_ERR_UNAUTHORIZED, "unauthorized", 401, false},
        {API_ERR_TOKEN_EXPIRED, "unauthorized", 401, false},
        {API_ERR_FORBIDDEN, "forbidden", 403, false},
        {API_ERR_NOT_FOUND, "not_found", 404, false},
        {API_ERR_SESSION_GONE, "not_found", 404, false},
        {API_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, false},
        {API_ERR_POLICY_READ_ONLY, "method_not_allowed", 405, false},
        {API_ERR_TOO_LARGE, "too_large", 413, false},
        {API_ERR_RATE_LIMITED, "rate_limited", 429, true},
        {API_ERR_TOO_MANY_MESSAGES, "rate_limited", 429, true},
        {API_ERR_TOO_MANY_SESSIONS, "rate_limited", 429, true},
        {API_ERR_TOO_MANY_POLLS, "rate_limited", 429, true},
        {API_ERR_SESSION_FULL, "session_full", 409, false},
        {API_ERR_BUSY, "busy", 429, true},
        {API_ERR_LOCKED_ELSEWHERE, "busy", 429, true},
        {API_ERR_SESSION_CONNECTIONS, "busy", 429, true},
        {API_ERR_AT_CAPACITY, "busy", 503, true},
        {API_ERR_UPSTREAM_UNAVAILABLE, "upstream_unavailable", 503, true},
        {API_ERR_STORAGE_UNAVAILABLE, "upstream_unavailable", 503, true},
        {API_ERR_NOT_REPLICATED, "upstream_unavailable", 503, true},
        {API_ERR_SHUTTING_DOWN, "upstream_unavailable", 503, true},
        {API_ERR_UPSTREAM_ERROR, "upstream_error", 502, false},
        {API_ERR_INTERNAL, "internal", 500, false},
        {API_ERR_HEADERS_TOO_LARGE, "too_large", 431, false},
        {API_ERR_LENGTH_REQUIRED, "bad_request", 411, false},
        {API_ERR_HTTP_VERSION, "bad_request", 505, false},
        {API_ERR_REQUEST_TIMEOUT, "bad_request", 408, true},
        {API_ERR_UPGRADE_REQUIRED, "bad_request", 426, false},
        {API_ERR_ORIGIN_FORBIDDEN, "forbidden", 403, false},
    };
    assert_int_equal(sizeof(want) / sizeof(want[0]), API_ERR_COUNT - 1);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(api_error_code(want[i].e), want[i].code);
        assert_int_equal(api_error_status(want[i].e), want[i].status);
        assert_int_equal(api_error_retryable(want[i].e), want[i].retryable);
    }
    assert_string_equal(api_error_message(API_ERR_STORAGE_UNAVAILABLE),
                        "conversation storage is unavailable; please retry shortly");
}

static void test_out_of_range_is_internal(void **state)
{
    (void)state;
    assert_string_equal(api_error_code((enum api_error)API_ERR_COUNT), "internal");
    assert_string_equal(api_error_code((enum api_error) - 1), "internal");
}

static void test_from_code(void **state)
{
    (void)state;
    assert_int_equal(api_error_from_code(NULL), API_ERR_NONE);
    assert_int_equal(api_error_from_code(""), API_ERR_NONE);
    assert_int_equal(api_error_from_code("upstream_unavailable"), API_ERR_UPSTREAM_UNAVAILABLE);
    assert_int_equal(api_error_from_code("busy"), API_ERR_BUSY);
    assert_int_equal(api_error_from_code("rate_limited"), API_ERR_RATE_LIMITED);
    assert_int_equal(api_error_from_code("session_full"), API_ERR_SESSION_FULL);
    assert_int_equal(api_error_from_code("upstream_error"), API_ERR_UPSTREAM_ERROR);
    assert_int_equal(api_error_from_code("no_such_code"), API_ERR_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_is_complete),
        cmocka_unit_test(test_public_codes_and_statuses),
        cmocka_unit_test(test_out_of_range_is_internal),
        cmocka_unit_test(test_from_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
