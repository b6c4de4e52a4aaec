/* Each upstream fault (docs/upstream-anthropic.md) has its documented outcome (docs/protocol.md,
 * "Stop reasons" and "Errors"): failures before the first token are retried, then reported as an
 * `error` with the right code; a fault after the first token ends the turn with its stop reason
 * and keeps the partial answer in the transcript. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};
/* Each fault on its own: no circuit breaker across them (test_breaker.c has its own). */
static const char *const parleyd_args[] = {"--upstream-idle-timeout-ms",
                                           "1000",
                                           "--first-token-deadline-ms",
                                           "6000",
                                           "--upstream-retries",
                                           "2",
                                           "--breaker-failures",
                                           "0",
                                           NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "upstream_faults", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st); /* fails unless parleyd exited cleanly */
}

/* Ask `text` on a new session; fill `t`; return the transcript (new string). */
static char *ask(const char *text, struct ts_turn *t)
{
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "f1", text, 20000, t), 0);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    ts_caller_close(&c);
    return x;
}

static void expect_failure_before_text(const char *marker, const char *code, bool retryable)
{
    struct ts_turn t;
    char *x = ask(marker, &t);
    assert_string_equal(t.error_code, code);
    assert_int_equal(t.error_retryable, retryable);
    assert_int_equal(t.n_deltas, 0);
    /* The caller's acknowledged message is kept. */
    assert_non_null(strstr(x, marker));
    ts_turn_free(&t);
    pl_free(x);
}

static void test_429_is_retried_then_rate_limited(void **state)
{
    (void)state;
    expect_failure_before_text("q [[429]]", "rate_limited", true);
}

static void test_529_overloaded(void **state)
{
    (void)state;
    expect_failure_before_text("q [[529]]", "upstream_unavailable", true);
}

static void test_500_api_error(void **state)
{
    (void)state;
    expect_failure_before_text("q [[500]]", "upstream_unavailable", true);
}

static void test_400_is_not_retried(void **state)
{
    (void)state;
    expect_failure_before_text("q [[400]]", "upstream_error", false);
}

static void test_stall_before_first_token_times_out(void **state)
{
    (void)state;
    expect_failure_before_text("q [[stall]]", "upstream_unavailable", true);
}

static void test_flaky_upstream_retried_to_success(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[flaky:2]] [[tokens:3]]", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3");
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    pl_free(x);
}

static void test_slow_first_token_within_deadline(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[slow-first:700]] [[tokens:2]]", &t);
    assert_string_equal(t.text, "w1 w2");
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    pl_free(x);
}

static void expect_partial(const char *marker, const char *stop, const char *text)
{
    struct ts_turn t;
    char *x = ask(marker, &t);
    assert_string_equal(t.stop_reason, stop);
    assert_string_equal(t.text, text);
    assert_true(t.seq_ok);
    /* The partial answer is stored with its stop reason. */
    char *a = strstr(x, "assistant");
    assert_non_null(a);
    assert_non_null(strstr(a, text));
    assert_non_null(strstr(a, stop));
    ts_turn_free(&t);
    pl_free(x);
}

static void test_error_event_mid_stream(void **state)
{
    (void)state;
    expect_partial("q [[error-mid]] [[tokens:10]]", "upstream_error", "w1 w2 w3 ");
}

static void test_cut_mid_stream(void **state)
{
    (void)state;
    expect_partial("q [[cut]] [[tokens:10]]", "upstream_cut", "w1 w2 w3 ");
}

static void test_malformed_sse_mid_stream(void **state)
{
    (void)state;
    expect_partial("q [[malformed]] [[tokens:10]]", "upstream_error", "w1 w2 ");
}

static void test_idle_gap_after_text_times_out(void **state)
{
    (void)state;
    expect_partial("q [[tokens:3]] [[pace:3000]]", "timeout", "w1 ");
}

/* Gaps shorter than the idle timeout never end a stream, however long it runs in all. */
static void test_steady_stream_outlives_the_idle_timeout(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[tokens:5]] [[pace:600]]", &t); /* 2.4 s in all, 0.6 s gaps, 1 s idle */
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3 w4 w5");
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    pl_free(x);
}

static void test_max_tokens_stop_reason(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[max-tokens]] [[tokens:4]]", &t);
    assert_string_equal(t.stop_reason, "max_tokens");
    assert_string_equal(t.text, "w1 w2 w3 w4");
    ts_turn_free(&t);
    pl_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_429_is_retried_then_rate_limited),
        cmocka_unit_test(test_529_overloaded),
        cmocka_unit_test(test_500_api_error),
        cmocka_unit_test(test_400_is_not_retried),
        cmocka_unit_test(test_stall_before_first_token_times_out),
        cmocka_unit_test(test_flaky_upstream_retried_to_success),
        cmocka_unit_test(test_slow_first_token_within_deadline),
        cmocka_unit_test(test_error_event_mid_stream),
        cmocka_unit_test(test_cut_mid_stream),
        cmocka_unit_test(test_malformed_sse_mid_stream),
        cmocka_unit_test(test_idle_gap_after_text_times_out),
        cmocka_unit_test(test_steady_stream_outlives_the_idle_timeout),
        cmocka_unit_test(test_max_tokens_stop_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
