/* The summary module on its own (bot/summary.h) against a real redis-server, with the offline
 * provider: summarizer_run summarises a session now and calls back with the stored text (the
 * exact extractive summary), returns a summary that already covers the turns without asking
 * again, refuses a second job of the same session (busy), says not_found for a session without
 * turns, and a background request folds only turns after the stored summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bot/summary.h"
#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_providers.h"
#include "sessions/session_store.h"
#include "tests/support/fixtures.h"
#include "tests/support/store_fixture.h"

static struct ts_store fx;
static struct llm_provider *local;
static struct summarizer *sm;

static void wait_for(const bool *done)
{
    assert_true(ts_run_until(&fx.loop, done, 10000));
}

static int setup(void **state)
{
    (void)state;
    if (ts_store_start(&fx, "summarizer"))
        return -1;
    char err[256];
    const struct llm_env env = {.loop = &fx.loop};
    const struct llm_provider_config lc = {.kind = "local", .pace_ms = 0};
    if (llm_provider_create(&env, &lc, &local, err, sizeof(err)) != PL_OK)
        return -1;
    const struct summarizer_opts so = {.loop = &fx.loop,
                                       .store = fx.store,
                                       .llm = local,
                                       .max_tokens = 300,
                                       .fold_budget_tokens = 10000};
    if (summarizer_create(&so, &sm, err, sizeof(err)) != PL_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    summarizer_stop(sm);
    int rc = ts_store_stop(&fx);
    summarizer_free(sm);
    llm_provider_destroy(local);
    return rc;
}

/* A session whose transcript holds caller turns 1..n, each answered "aN", written directly. */
static void session_with_turns(char sid[SESS_ID_LEN + 1], int n)
{
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    for (int i = 1; i <= n; i++) {
        free(ts_redis_query(&fx.redis, "XADD parley:{%s}:transcript * role caller turn %d text q%d",
                            sid, i, i));
        free(ts_redis_query(&fx.redis,
                            "XADD parley:{%s}:transcript * role assistant turn %d text a%d "
                            "stop_reason end_turn",
                            sid, i, i));
    }
    free(ts_redis_query(&fx.redis, "HSET parley:{%s}:session turns %d answered %d", sid, n, n));
}

struct ran {
    bool done;
    int status;
    char text[1024];
    long through;
};

static void on_ran(void *ud, int status, const char *text, long through)
{
    struct ran *r = ud;
    r->done = true;
    r->status = status;
    snprintf(r->text, sizeof(r->text), "%s", text ? text : "(null)");
    r->through = through;
}

static void test_run_now(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    session_with_turns(sid, 2);
    struct ran r = {0}, busy = {0};
    assert_int_equal(summarizer_run(sm, sid, 0, on_ran, &r), PL_OK);
    assert_int_equal(summarizer_run(sm, sid, 0, on_ran, &busy), PL_OK);
    assert_false(r.done); /* never before summarizer_run returns */
    wait_for(&busy.done);
    assert_int_equal(busy.status, PL_EBUSY);
    wait_for(&r.done);
    assert_int_equal(r.status, PL_OK);
    assert_string_equal(r.text, "Caller asked: q1; Bot answered: a1\n"
                                "Caller asked: q2; Bot answered: a2");
    assert_int_equal(r.through, 2);
    char *v = ts_redis_query(&fx.redis, "HGET parley:{%s}:session summary_through", sid);
    assert_string_equal(v, "2");
    free(v);

    /* Covered already: the stored summary, nothing asked. */
    struct summarizer_stats st;
    summarizer_stats(sm, &st);
    uint64_t started = st.started;
    struct ran again = {0};
    assert_int_equal(summarizer_run(sm, sid, 2, on_ran, &again), PL_OK);
    wait_for(&again.done);
    assert_int_equal(again.status, PL_OK);
    assert_string_equal(again.text, r.text);
    summarizer_stats(sm, &st);
    assert_int_equal(st.started, started);

    /* Two more turns: the next summary folds turns 3 and 4 into it. */
    for (int i = 3; i <= 4; i++) {
        free(ts_redis_query(&fx.redis, "XADD parley:{%s}:transcript * role caller turn %d text q%d",
                            sid, i, i));
        free(ts_redis_query(
            &fx.redis, "XADD parley:{%s}:transcript * role assistant turn %d text a%d", sid, i, i));
    }
    free(ts_redis_query(&fx.redis, "HSET parley:{%s}:session turns 4 answered 4", sid));
    assert_true(summarizer_request(sm, sid, 3));
    assert_false(summarizer_request(sm, sid, 4)); /* one job per session */
    for (int waited = 0; waited < 10000; waited++) {
        summarizer_stats(sm, &st);
        if (st.running == 0)
            break;
        uv_run(&fx.loop, UV_RUN_ONCE);
    }
    v = ts_redis_query(&fx.redis, "HGET parley:{%s}:session summary", sid);
    assert_string_equal(v, "Caller asked: q1; Bot answered: a1\n"
                           "Caller asked: q2; Bot answered: a2\n"
                           "Caller asked: q3; Bot answered: a3");
    free(v);
    summarizer_stats(sm, &st);
    assert_int_equal(st.stored, 2);
    assert_int_equal(st.failed, 0);
}

static void test_nothing_to_summarise(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    session_with_turns(sid, 0);
    struct ran r = {0};
    assert_int_equal(summarizer_run(sm, sid, 0, on_ran, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.status, PL_ENOTFOUND);
    assert_string_equal(r.text, "(null)");
    struct ran gone = {0};
    assert_int_equal(summarizer_run(sm, "0123456789abcdef0123456789abcdef", 0, on_ran, &gone),
                     PL_OK);
    wait_for(&gone.done);
    assert_int_equal(gone.status, PL_ENOTFOUND);
    assert_int_equal(summarizer_run(sm, "bad", 0, on_ran, &gone), PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_now),
        cmocka_unit_test(test_nothing_to_summarise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
