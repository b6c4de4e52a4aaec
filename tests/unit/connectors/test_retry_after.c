/* Retry-After and retry-after-ms: seconds, milliseconds, an HTTP-date, the cap, and what is no
 * hint at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "connectors/retry_after.h"

#define NOW 1700000000LL /* Tue, 14 Nov 2023 22:13:20 GMT */

static void test_seconds_and_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("2", NULL, NOW), 2000);
    assert_int_equal(retry_after_parse_ms("0", NULL, NOW), 0);
    assert_int_equal(retry_after_parse_ms("1.5", NULL, NOW), 1500);
    assert_int_equal(retry_after_parse_ms(NULL, "250", NOW), 250);
    /* retry-after-ms wins; a bad one leaves Retry-After to say */
    assert_int_equal(retry_after_parse_ms("2", "250", NOW), 250);
    assert_int_equal(retry_after_parse_ms("2", "soon", NOW), 2000);
}

static void test_http_date(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("Tue, 14 Nov 2023 22:13:23 GMT", NULL, NOW), 3000);
    /* passed already: ask now */
    assert_int_equal(retry_after_parse_ms("Tue, 14 Nov 2023 22:13:00 GMT", NULL, NOW), 0);
    /* not quite a date */
    assert_int_equal(retry_after_parse_ms("Tue, 14 Nov 2023 22:13:23 UTC", NULL, NOW), -1);
}

static void test_capped_at_a_day(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("100000", NULL, NOW), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("inf", NULL, NOW), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms(NULL, "1e300", NOW), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("Fri, 01 Jan 2100 00:00:00 GMT", NULL, NOW),
                     RETRY_AFTER_MAX_MS);
}

static void test_no_hint(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms(NULL, NULL, NOW), -1);
    assert_int_equal(retry_after_parse_ms("", "", NOW), -1);
    assert_int_equal(retry_after_parse_ms("-1", "-5", NOW), -1);
    assert_int_equal(retry_after_parse_ms("2 s", NULL, NOW), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_and_milliseconds),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_capped_at_a_day),
        cmocka_unit_test(test_no_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
