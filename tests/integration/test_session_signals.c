/* The escalation signals' memory against a real redis-server (sessions/session_signals.h): each
 * turn is noted once (a turn number not above the last noted changes nothing), unsure answers
 * add up, misses count in a row and a hit ends the run, `repeated` only for the question of the
 * turn just before; an unknown session is not created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "sessions/session_signals.h"
#include "sessions/session_store.h"
#include "tests/support/fixtures.h"

static struct ts_redis redis;
static uv_loop_t loop;
static struct sess_store *store;
static bool store_up;

static void wait_for(const bool *done)
{
    for (uint64_t end = uv_now(&loop) + 10000; !*done && uv_now(&loop) < end;)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(*done);
}

static void on_store_state(void *ud, bool up)
{
    *(bool *)ud = up;
}

static int setup(void **state)
{
    (void)state;
    if (ts_redis_start(&redis, ts_workdir("session_signals")))
        return -1;
    uv_loop_init(&loop);
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis.port);
    struct sess_store_opts opts = {.redis_url = url, .ttl_s = 3600};
    if (sess_store_create(&loop, &opts, on_store_state, &store_up, &store, err, sizeof(err)))
        return -1;
    for (uint64_t end = uv_now(&loop) + 10000; !store_up && uv_now(&loop) < end;)
        uv_run(&loop, UV_RUN_ONCE);
    return store_up ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sess_store_destroy(store);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    ts_redis_stop(&redis);
    return rc == 0 ? 0 : -1;
}

struct created {
    bool done;
    int status;
    char sid[SESS_ID_LEN + 1];
};

static void on_created(void *ud, int status, const struct sess_record *rec)
{
    struct created *c = ud;
    c->done = true;
    c->status = status;
    if (rec)
        snprintf(c->sid, sizeof(c->sid), "%s", rec->id);
}

struct noted {
    bool done;
    int status;
    struct sess_signal_counts c;
};

static void on_noted(void *ud, int status, const struct sess_signal_counts *c)
{
    struct noted *n = ud;
    n->done = true;
    n->status = status;
    if (c)
        n->c = *c;
}

/* Note and return "noted unsure misses repeated". */
static const char *note(const char *sid, long turn, bool unsure, int miss, const char *q)
{
    static char out[64];
    struct noted n = {0};
    const struct sess_signal_note sn = {
        .turn = turn, .unsure = unsure, .miss = miss, .question = q};
    assert_int_equal(sess_signal_note(store, sid, &sn, on_noted, &n), PL_OK);
    wait_for(&n.done);
    assert_int_equal(n.status, PL_OK);
    snprintf(out, sizeof(out), "%d %ld %ld %d", n.c.noted, n.c.unsure, n.c.misses, n.c.repeated);
    return out;
}

static void test_counts(void **state)
{
    (void)state;
    struct created c = {0};
    assert_int_equal(sess_create(store, "web", NULL, on_created, &c), PL_OK);
    wait_for(&c.done);
    assert_int_equal(c.status, PL_OK);
    const char *sid = c.sid;
    assert_string_equal(note(sid, 1, true, 1, "aaaa"), "1 1 1 0");
    assert_string_equal(note(sid, 1, true, 1, "aaaa"), "0 1 1 0");   /* noted once */
    assert_string_equal(note(sid, 2, false, 1, "aaaa"), "1 1 2 1");  /* just before: a repeat */
    assert_string_equal(note(sid, 3, true, 0, "bbbb"), "1 2 0 0");   /* a hit ends the run */
    assert_string_equal(note(sid, 4, false, -1, "bbbb"), "1 2 0 1"); /* not searched: kept */
    assert_string_equal(note(sid, 6, false, 1, "bbbb"), "1 2 1 0");  /* turn 5 not noted */
    assert_string_equal(note(sid, 7, false, 1, ""), "1 2 2 0");      /* no question */
    assert_string_equal(note(sid, 8, false, 1, ""), "1 2 3 0");
    assert_string_equal(note(sid, 5, true, 1, "x"), "0 2 3 0"); /* older: nothing changes */
    char *r = ts_redis_query(&redis,
                             "HMGET parley:{%s}:session signal_turn signal_unsure "
                             "signal_misses signal_question state",
                             sid);
    assert_string_equal(r, "8\n2\n3\n\nbot");
    free(r);

    /* an unknown session is not created */
    const char *gone = "0123456789abcdef0123456789abcdef";
    struct noted n = {0};
    const struct sess_signal_note sn = {.turn = 1, .unsure = true, .miss = 1, .question = "q"};
    assert_int_equal(sess_signal_note(store, gone, &sn, on_noted, &n), PL_OK);
    wait_for(&n.done);
    assert_int_equal(n.status, PL_ENOTFOUND);
    r = ts_redis_query(&redis, "EXISTS parley:{%s}:session", gone);
    assert_string_equal(r, "0");
    free(r);
    /* refused without asking Redis */
    assert_int_equal(sess_signal_note(store, "not-a-sid", &sn, on_noted, &n), PL_EINVAL);
    const struct sess_signal_note zero = {.turn = 0};
    assert_int_equal(sess_signal_note(store, sid, &zero, on_noted, &n), PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
