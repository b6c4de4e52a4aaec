/* 200 callers streaming at once through one parleyd: every answer arrives complete, in order and
 * gap-free, and lands in each caller's own transcript. */
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

#define CALLERS 200

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "10", NULL};
/* Every caller here comes from 127.0.0.1, and opens one of 200 anonymous sessions within a
 * second: this is about streaming, not about the limits per address (connections; new sessions:
 * tests/integration/test_rate_limits.c), so they are off. */
static const char *const parleyd_args[] = {"--max-connections-per-address", "0",
                                           "--anon-sessions-per-minute", "0", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "concurrency", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st); /* fails unless parleyd exited cleanly */
}

static void test_200_callers_stream_at_once(void **state)
{
    (void)state;
    struct ts_caller *c = pl_calloc(CALLERS, sizeof(*c));
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(ts_caller_open(&c[i], st.parleyd.ws_url, NULL, 0, 0), 0);
    /* Every caller asks before anyone reads: all 200 answers stream concurrently. */
    char text[128];
    for (int i = 0; i < CALLERS; i++) {
        snprintf(text, sizeof(text), "caller %d here [[text:answer for caller %d is ready]]", i, i);
        assert_int_equal(ts_caller_message(&c[i], "m", text), 0);
    }
    for (int i = 0; i < CALLERS; i++) {
        struct ts_turn t;
        assert_int_equal(ts_caller_read_turn(&c[i], 30000, &t), 0);
        snprintf(text, sizeof(text), "answer for caller %d is ready", i);
        assert_string_equal(t.error_code, "");
        assert_string_equal(t.text, text);
        assert_true(t.seq_ok);
        assert_int_equal(t.n_deltas, 6);
        assert_string_equal(t.stop_reason, "end_turn");
        ts_turn_free(&t);
    }
    for (int i = 0; i < CALLERS; i += 37) {
        char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c[i].session_id);
        snprintf(text, sizeof(text), "answer for caller %d is ready", i);
        assert_non_null(strstr(x, text));
        pl_free(x);
    }
    for (int i = 0; i < CALLERS; i++)
        ts_caller_close(&c[i]);
    pl_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_200_callers_stream_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
