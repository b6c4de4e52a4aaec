/* The one backoff formula: doubling from the base, the cap, and jitter that only shortens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/backoff.h"

static void test_doubles_from_the_base_without_jitter(void **state)
{
    (void)state;
    assert_int_equal(pl_backoff_ms(0, 100, 10000, 0), 100);
    assert_int_equal(pl_backoff_ms(1, 100, 10000, 0), 100);
    assert_int_equal(pl_backoff_ms(2, 100, 10000, 0), 200);
    assert_int_equal(pl_backoff_ms(3, 100, 10000, 0), 400);
    assert_int_equal(pl_backoff_ms(7, 100, 10000, 0), 6400);
}

static void test_cap_holds_for_any_attempt(void **state)
{
    (void)state;
    assert_int_equal(pl_backoff_ms(8, 100, 10000, 0), 10000);
    assert_int_equal(pl_backoff_ms(40, 100, 10000, 0), 10000);
    assert_int_equal(pl_backoff_ms(4000000000u, 500, 8000, 0), 8000);
}

static void test_jitter_only_shortens_within_its_share(void **state)
{
    (void)state;
    srand(7);
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t w = pl_backoff_ms(3, 1000, 60000, 25); /* 4000 ms, less up to 1000 */
        assert_true(w >= 3000 && w <= 4000);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    assert_true(lo < 3100); /* the whole range is used */
    assert_true(hi > 3900);
    assert_int_equal(pl_backoff_ms(1, 10, 10, 100) <= 10, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_from_the_base_without_jitter),
        cmocka_unit_test(test_cap_holds_for_any_attempt),
        cmocka_unit_test(test_jitter_only_shortens_within_its_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
