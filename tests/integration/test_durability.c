/* Nothing acknowledged is lost: sessions survive a parleyd restart, and with Redis stopped
 * mid-run callers get retryable errors (never a false ack) and carry on when it returns. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};
static const char *const parleyd_args[] = {"--redis-timeout-ms", "1000", "--turn-lock-ms", "2000",
                                           NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "durability", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st); /* fails unless parleyd exited cleanly */
}

static long http_status(const char *path)
{
    char url[128];
    struct ts_http_reply r;
    snprintf(url, sizeof(url), "%s%s", st.parleyd.url, path);
    int rc = ts_http("GET", url, NULL, NULL, &r);
    long s = rc == 0 ? r.status : -1;
    ts_http_reply_free(&r);
    return s;
}

/* Send a message and wait until its answer is streaming (its ack and first delta are in). */
static void start_answer(struct ts_caller *c, const char *id, const char *text)
{
    assert_int_equal(ts_caller_message(c, id, text), 0);
    json_t *ack = ts_caller_expect(c, "ack", 10000);
    assert_non_null(ack);
    json_decref(ack);
    json_t *d = ts_caller_expect(c, "delta", 10000);
    assert_non_null(d);
    json_decref(d);
}

static void test_parleyd_restart_keeps_sessions(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "k1", "before restart [[tokens:3]]", 10000, &t), 0);
    ts_turn_free(&t);
    /* A turn streaming when SIGTERM comes is finished and stored before parleyd exits. */
    start_answer(&c, "k2", "during restart [[tokens:40]] [[pace:20]]");
    char *token = pl_strdup(c.token);
    char sid[65];
    snprintf(sid, sizeof(sid), "%s", c.session_id);

    assert_int_equal(ts_parleyd_stop(&st.parleyd), 0);
    /* The caller was told: a close with 1001 (going away), after whatever was on its way. */
    char *msg;
    size_t len;
    int op, rc;
    while ((rc = wsc_recv(c.ws, 5000, &msg, &len, &op)) == PL_OK)
        pl_free(msg);
    assert_int_equal(rc, PL_ECLOSED);
    assert_int_equal(wsc_close_code(c.ws), 1001);
    ts_caller_close(&c);
    assert_int_equal(ts_stack_restart_parleyd(&st), 0);

    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_string_equal(c.session_id, sid);
    assert_int_equal(json_array_size(c.history), 4);
    json_t *last = json_array_get(c.history, 3);
    assert_string_equal(json_string_value(json_object_get(last, "role")), "assistant");
    const char *text = json_string_value(json_object_get(last, "text"));
    assert_int_equal(strncmp(text, "w1 w2 w3", 8), 0);
    assert_int_equal(ts_caller_ask(&c, "k3", "after restart [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 3);
    assert_string_equal(t.text, "w1 w2");
    ts_turn_free(&t);
    ts_caller_close(&c);
    pl_free(token);
}

static void test_redis_down_then_back(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "r1", "stored before [[tokens:2]]", 10000, &t), 0);
    ts_turn_free(&t);
    char sid[65];
    snprintf(sid, sizeof(sid), "%s", c.session_id);

    ts_redis_stop(&st.redis);
    /* Give parleyd a moment to see the connection drop, then: not ready, and a message gets a
     * retryable error, not an ack. */
    for (int i = 0; i < 50 && http_status("/readyz") == 200; i++)
        poll(NULL, 0, 100);
    assert_int_equal(http_status("/readyz"), 503);
    assert_int_equal(http_status("/healthz"), 200);
    assert_int_equal(ts_caller_message(&c, "r2", "while redis is down"), 0);
    json_t *f = ts_caller_recv(&c, 10000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(f, "code")), "upstream_unavailable");
    assert_true(json_is_true(json_object_get(f, "retryable")));
    json_decref(f);
    /* A new caller is told the same. */
    struct ts_caller c2;
    assert_int_equal(ts_caller_connect(&c2, st.parleyd.ws_url), 0);
    assert_int_equal(ts_caller_send(&c2, "{\"type\":\"hello\"}"), 0);
    f = ts_caller_expect(&c2, "error", 10000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "code")), "upstream_unavailable");
    assert_true(json_is_true(json_object_get(f, "retryable")));
    json_decref(f);
    ts_caller_close(&c2);

    assert_int_equal(ts_redis_restart(&st.redis), 0);
    for (int i = 0; i < 100 && http_status("/readyz") != 200; i++)
        poll(NULL, 0, 100);
    assert_int_equal(http_status("/readyz"), 200);
    /* The resend is acknowledged and answered; what was stored before is still there. */
    assert_int_equal(ts_caller_ask(&c, "r2", "while redis is down [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.text, "w1 w2");
    ts_turn_free(&t);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", sid);
    assert_non_null(strstr(x, "stored before [[tokens:2]]"));
    assert_non_null(strstr(x, "while redis is down [[tokens:2]]"));
    pl_free(x);
    ts_caller_close(&c);
}

/* An answer that outlasts the lease (--turn-lock-ms 2000) keeps its turn lock: the lease is
 * renewed while it streams, and the lock goes when the answer is stored. */
static void test_long_answer_keeps_its_lock(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    start_answer(&c, "l1", "long one [[tokens:36]] [[pace:100]]");
    for (int waited = 0; waited < 3000; waited += 500) {
        poll(NULL, 0, 500);
        char *owner = ts_redis_query(&st.redis, "GET parley:{%s}:lock", c.session_id);
        assert_non_null(owner);
        assert_int_equal(strncmp(owner, "parleyd-", 8), 0); /* still held, 3 s into a 2 s lease */
        pl_free(owner);
    }
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 20000, &t), 0);
    assert_int_equal(t.n_deltas, 35); /* the first was read above */
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *gone = ts_redis_query(&st.redis, "EXISTS parley:{%s}:lock", c.session_id);
    assert_string_equal(gone, "0");
    pl_free(gone);
    ts_caller_close(&c);
}

static void test_crash_mid_answer_is_answered_after_restart(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    start_answer(&c, "x1", "crash test [[tokens:30]] [[pace:40]]");
    char *token = pl_strdup(c.token);
    /* The instance dies with the answer half sent and its turn lock held in Redis. */
    ts_proc_kill(&st.parleyd.proc);
    ts_caller_close(&c);
    assert_int_equal(ts_stack_restart_parleyd(&st), 0);

    /* The acknowledged message is answered in full once the dead owner's lease (2 s) expires. */
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(json_array_size(c.history), 1);
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 20000, &t), 0);
    assert_int_equal(t.turn, 1);
    assert_true(t.seq_ok);
    assert_int_equal(t.n_deltas, 30);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    ts_caller_close(&c);
    pl_free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parleyd_restart_keeps_sessions),
        cmocka_unit_test(test_long_answer_keeps_its_lock),
        cmocka_unit_test(test_crash_mid_answer_is_answered_after_restart),
        cmocka_unit_test(test_redis_down_then_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
