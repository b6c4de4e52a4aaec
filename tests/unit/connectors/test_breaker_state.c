/* The circuit breaker's state machine on a fake clock: opening after N failures in a row (and
 * not when a success or the window breaks the run), skipping for the cool-down, exactly one
 * probe when half-open, closing on its success, re-opening on its failure, a cancelled probe,
 * stale results, the remaining time and a disabled breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "connectors/breaker_state.h"

static enum breaker_verdict admit(struct breaker_state *b, uint64_t now)
{
    enum breaker_change ch;
    enum breaker_verdict v = breaker_admit(b, now, &ch);
    assert_int_equal(ch, BREAKER_NO_CHANGE);
    return v;
}

/* Three failures at 100, 200, 300 open a breaker of threshold 3. */
static void open_it(struct breaker_state *b)
{
    breaker_init(b, 3, 1000, 60000);
    assert_int_equal(breaker_record(b, 100, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    assert_int_equal(breaker_record(b, 200, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    assert_int_equal(breaker_mode_at(b, 250), BREAKER_CLOSED);
    assert_int_equal(breaker_record(b, 300, false, BREAKER_FAILURE), BREAKER_OPENED);
    assert_int_equal(b->opened_total, 1);
}

static void test_opens_after_n_failures_in_a_row(void **state)
{
    (void)state;
    struct breaker_state b;
    breaker_init(&b, 3, 1000, 60000);
    assert_int_equal(admit(&b, 0), BREAKER_PASS);
    open_it(&b);
    assert_int_equal(breaker_mode_at(&b, 300), BREAKER_OPEN);
    assert_int_equal(admit(&b, 300), BREAKER_SKIP);
    assert_int_equal(admit(&b, 1299), BREAKER_SKIP);
    assert_int_equal(breaker_remaining_ms(&b, 300), 1000);
    assert_int_equal(breaker_remaining_ms(&b, 1299), 1);
    assert_int_equal(breaker_remaining_ms(&b, 1300), 0);
}

static void test_a_success_or_the_window_breaks_the_run(void **state)
{
    (void)state;
    struct breaker_state b;
    breaker_init(&b, 3, 1000, 5000);
    breaker_record(&b, 0, false, BREAKER_FAILURE);
    breaker_record(&b, 10, false, BREAKER_FAILURE);
    breaker_record(&b, 20, false, BREAKER_SUCCESS);
    breaker_record(&b, 30, false, BREAKER_FAILURE);
    assert_int_equal(breaker_record(&b, 40, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    /* more than the window after the last failure: the count starts again at 1 */
    assert_int_equal(breaker_record(&b, 5041, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    assert_int_equal(breaker_record(&b, 5042, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    /* neutral results do not count either way */
    assert_int_equal(breaker_record(&b, 5043, false, BREAKER_NEUTRAL), BREAKER_NO_CHANGE);
    assert_int_equal(breaker_record(&b, 5044, false, BREAKER_FAILURE), BREAKER_OPENED);
}

static void test_one_probe_whose_success_closes(void **state)
{
    (void)state;
    struct breaker_state b;
    open_it(&b);
    assert_int_equal(breaker_mode_at(&b, 1300), BREAKER_HALF_OPEN);
    enum breaker_change ch;
    assert_int_equal(breaker_admit(&b, 1300, &ch), BREAKER_PROBE);
    assert_int_equal(ch, BREAKER_HALF_OPENED);
    assert_int_equal(b.mode, BREAKER_HALF_OPEN);
    /* exactly one probe: every other call is skipped while it is out */
    assert_int_equal(admit(&b, 1301), BREAKER_SKIP);
    assert_int_equal(admit(&b, 99999), BREAKER_SKIP);
    /* a call started before the opening reports late: nothing changes */
    assert_int_equal(breaker_record(&b, 1400, false, BREAKER_SUCCESS), BREAKER_NO_CHANGE);
    assert_int_equal(b.mode, BREAKER_HALF_OPEN);
    assert_int_equal(breaker_record(&b, 1500, true, BREAKER_SUCCESS), BREAKER_CLOSED_AGAIN);
    assert_int_equal(breaker_mode_at(&b, 1500), BREAKER_CLOSED);
    assert_int_equal(admit(&b, 1501), BREAKER_PASS);
    /* the count starts from nothing */
    breaker_record(&b, 1600, false, BREAKER_FAILURE);
    breaker_record(&b, 1700, false, BREAKER_FAILURE);
    assert_int_equal(b.mode, BREAKER_CLOSED);
}

static void test_a_failed_probe_reopens(void **state)
{
    (void)state;
    struct breaker_state b;
    open_it(&b);
    enum breaker_change ch;
    assert_int_equal(breaker_admit(&b, 2000, &ch), BREAKER_PROBE);
    assert_int_equal(breaker_record(&b, 2100, true, BREAKER_FAILURE), BREAKER_REOPENED);
    assert_int_equal(b.opened_total, 2);
    assert_int_equal(breaker_mode_at(&b, 2100), BREAKER_OPEN);
    assert_int_equal(admit(&b, 3099), BREAKER_SKIP); /* a whole new cool-down from 2100 */
    assert_int_equal(breaker_remaining_ms(&b, 3000), 100);
    assert_int_equal(breaker_admit(&b, 3100, &ch), BREAKER_PROBE);
    assert_int_equal(ch, BREAKER_HALF_OPENED);
}

static void test_a_cancelled_probe_lets_the_next_call_probe(void **state)
{
    (void)state;
    struct breaker_state b;
    open_it(&b);
    enum breaker_change ch;
    assert_int_equal(breaker_admit(&b, 1300, &ch), BREAKER_PROBE);
    assert_int_equal(breaker_record(&b, 1310, true, BREAKER_NEUTRAL), BREAKER_NO_CHANGE);
    assert_int_equal(b.mode, BREAKER_HALF_OPEN);
    assert_int_equal(admit(&b, 1320), BREAKER_PROBE);
    assert_int_equal(admit(&b, 1321), BREAKER_SKIP);
}

static void test_threshold_zero_never_opens(void **state)
{
    (void)state;
    struct breaker_state b;
    breaker_init(&b, 0, 1000, 60000);
    for (uint64_t t = 0; t < 100; t++)
        assert_int_equal(breaker_record(&b, t, false, BREAKER_FAILURE), BREAKER_NO_CHANGE);
    assert_int_equal(admit(&b, 100), BREAKER_PASS);
    assert_int_equal(b.opened_total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_n_failures_in_a_row),
        cmocka_unit_test(test_a_success_or_the_window_breaks_the_run),
        cmocka_unit_test(test_one_probe_whose_success_closes),
        cmocka_unit_test(test_a_failed_probe_reopens),
        cmocka_unit_test(test_a_cancelled_probe_lets_the_next_call_probe),
        cmocka_unit_test(test_threshold_zero_never_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
