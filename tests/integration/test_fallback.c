/* --fallback: when the primary provider fails before its first token (after its retries), the
 * next provider answers; a healthy primary keeps answering itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "connectors/local_reply.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "2", NULL};
static const char *const parleyd_args[] = {
    "--fallback", "local", "--upstream-retries", "1", "--local-pace-ms", "1", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "fallback", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

static void test_overloaded_primary_falls_back(void **state)
{
    (void)state;
    const char *q = "Is my car covered abroad? [[529]]";
    char *want = local_reply_text(q, NULL);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "f1", q, 20000, &t), 0);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, want);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_true(t.seq_ok);
    ts_turn_free(&t);
    /* The stored answer names the provider that gave it. */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    assert_non_null(strstr(x, "provider\nlocal"));
    pl_free(x);
    ts_caller_close(&c);
    pl_free(want);
}

static void test_healthy_primary_answers(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "h1", "hi [[tokens:3]]", 20000, &t), 0);
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overloaded_primary_falls_back),
        cmocka_unit_test(test_healthy_primary_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
