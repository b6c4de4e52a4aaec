/* Live events over Redis pub/sub (session_live.h) against a real redis-server: a message
 * arrives byte-exact with its session id, unsubscribing stops delivery at once, subscriptions
 * come back after Redis restarts, a late (UN)SUBSCRIBE confirmation drops the connection but a
 * quiet channel never does, and destroying mid-subscribe leaves nothing behind. */
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
#include "sessions/session_live.h"
#include "sessions/session_store.h"
#include "tests/support/fixtures.h"
#include "tests/support/store_fixture.h"

#define SID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SID_C "cccccccccccccccccccccccccccccccc"

static struct ts_store fx; /* redis-server for the group, a store for each test */
static struct sess_live *live;

/* Run the loop until `cond` holds, at most `ms`. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    do {                                                                                           \
        for (uint64_t end_ = uv_now(&fx.loop) + (ms); !(cond) && uv_now(&fx.loop) < end_;)         \
            uv_run(&fx.loop, UV_RUN_ONCE);                                                         \
        assert_true(cond);                                                                         \
    } while (0)

static void run_for(uint64_t ms)
{
    for (uint64_t end = uv_now(&fx.loop) + ms; uv_now(&fx.loop) < end;)
        uv_run(&fx.loop, UV_RUN_ONCE);
}

static int group_setup(void **state)
{
    (void)state;
    return ts_redis_start(&fx.redis, ts_workdir("session_live"));
}

static int group_teardown(void **state)
{
    (void)state;
    ts_redis_stop(&fx.redis);
    return 0;
}

/* A store (to publish) and a subscriber, both connected. */
static void start(uint32_t command_timeout_ms, uint32_t max_subscriptions)
{
    char url[64], err[256];
    ts_store_url(&fx, url, sizeof(url));
    struct sess_store_opts opts = {.redis_url = url,
                                   .command_timeout_ms = command_timeout_ms,
                                   .live_max_subscriptions = max_subscriptions};
    assert_int_equal(ts_store_open(&fx, &opts), 0);
    assert_int_equal(sess_live_create(&fx.loop, &opts, &live, err, sizeof(err)), PL_OK);
    WAIT_UNTIL(sess_store_ready(fx.store) && sess_live_ready(live), 10000);
}

/* Destroy both and check the loop closes: every handle is gone. */
static void stop(void)
{
    sess_live_destroy(live);
    live = NULL;
    assert_int_equal(ts_store_close(&fx), 0);
}

struct inbox {
    int n;
    char sid[4][SESS_ID_LEN + 1];
    char *data[4];
    size_t len[4];
};

static void on_live(void *ud, const char *sid, const char *data, size_t len)
{
    struct inbox *in = ud;
    if (in->n < 4) {
        snprintf(in->sid[in->n], sizeof(in->sid[0]), "%s", sid);
        in->data[in->n] = pl_malloc(len ? len : 1);
        memcpy(in->data[in->n], data, len);
        in->len[in->n] = len;
    }
    in->n++;
}

static void inbox_free(struct inbox *in)
{
    for (int i = 0; i < in->n && i < 4; i++)
        pl_free(in->data[i]);
    memset(in, 0, sizeof(*in));
}

static long numsub(const char *sid)
{
    char *x = ts_redis_query(&fx.redis, "PUBSUB NUMSUB parley:{%s}:live", sid);
    assert_non_null(x);
    const char *nl = strchr(x, '\n');
    long n = nl ? strtol(nl + 1, NULL, 10) : -1;
    pl_free(x);
    return n;
}

/* Connections Redis has accepted so far, this query's own among them. */
static long connections_received(void)
{
    char *x = ts_redis_query(&fx.redis, "INFO stats");
    assert_non_null(x);
    const char *p = strstr(x, "total_connections_received:");
    long n = p ? strtol(p + strlen("total_connections_received:"), NULL, 10) : -1;
    pl_free(x);
    return n;
}

static void publish(const char *sid, const char *data, size_t len)
{
    struct ts_done d = {0};
    assert_int_equal(sess_live_publish(fx.store, sid, data, len, ts_on_done, &d), PL_OK);
    WAIT_UNTIL(d.done, 5000);
    assert_int_equal(d.status, PL_OK);
}

static void test_message_is_delivered_byte_exact_with_its_sid(void **state)
{
    (void)state;
    start(0, 0);
    struct inbox in = {0};
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &in), PL_OK);
    WAIT_UNTIL(numsub(SID_A) == 1, 5000);

    enum { LEN = 70000 };
    char *data = pl_malloc(LEN);
    for (size_t i = 0; i < LEN; i++)
        data[i] = (char)(i * 13 % 256); /* NUL, CR, LF and every other byte */
    memcpy(data, "\r\n*3\r\n$7\r\nmessage\r\n\0", 21);
    publish(SID_A, data, LEN);
    /* Not subscribed: never delivered (it would arrive before the next one). */
    assert_int_equal(sess_live_publish(fx.store, SID_B, "not for us", 10, NULL, NULL), PL_OK);
    publish(SID_A, "", 0);
    WAIT_UNTIL(in.n == 2, 5000);

    assert_string_equal(in.sid[0], SID_A);
    assert_int_equal(in.len[0], LEN);
    assert_memory_equal(in.data[0], data, LEN);
    assert_string_equal(in.sid[1], SID_A);
    assert_int_equal(in.len[1], 0);
    pl_free(data);
    inbox_free(&in);
    stop();
}

static void test_unsubscribe_stops_delivery_even_for_a_message_on_its_way(void **state)
{
    (void)state;
    start(0, 0);
    struct inbox a = {0}, b = {0}, again = {0};
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &a), PL_OK);
    assert_int_equal(sess_live_subscribe(live, SID_B, on_live, &b), PL_OK);
    WAIT_UNTIL(numsub(SID_A) == 1 && numsub(SID_B) == 1, 5000);

    /* Redis has sent this message to the subscriber before the loop reads it. */
    char *receivers = ts_redis_query(&fx.redis, "PUBLISH parley:{%s}:live on-its-way", SID_A);
    assert_string_equal(receivers, "1");
    pl_free(receivers);
    assert_int_equal(sess_live_unsubscribe(live, SID_A), PL_OK);
    publish(SID_B, "after", 5); /* arrives after the first: once it is in, the first was read */
    WAIT_UNTIL(b.n == 1, 5000);
    WAIT_UNTIL(numsub(SID_A) == 0, 5000);
    assert_int_equal(a.n, 0);
    assert_int_equal(sess_live_unsubscribe(live, SID_A), PL_ENOTFOUND);

    /* Subscribed again, with another callback. */
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &again), PL_OK);
    WAIT_UNTIL(numsub(SID_A) == 1, 5000);
    publish(SID_A, "again", 5);
    WAIT_UNTIL(again.n == 1, 5000);
    assert_memory_equal(again.data[0], "again", 5);
    assert_int_equal(a.n, 0);
    inbox_free(&a);
    inbox_free(&b);
    inbox_free(&again);
    stop();
}

static void test_subscriptions_survive_a_redis_restart(void **state)
{
    (void)state;
    start(0, 0);
    struct inbox a = {0}, b = {0}, c = {0}, many = {0};
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &a), PL_OK);
    assert_int_equal(sess_live_subscribe(live, SID_B, on_live, &b), PL_OK);
    enum { MANY = 600 }; /* more than one SUBSCRIBE's worth when subscribing again */
    char sid[SESS_ID_LEN + 1];
    for (int i = 0; i < MANY; i++) {
        snprintf(sid, sizeof(sid), "%032x", i);
        assert_int_equal(sess_live_subscribe(live, sid, on_live, &many), PL_OK);
    }
    WAIT_UNTIL(numsub(SID_A) == 1 && numsub(SID_B) == 1 && numsub(sid) == 1, 5000);

    ts_redis_stop(&fx.redis);
    WAIT_UNTIL(!sess_live_ready(live), 5000);
    assert_int_equal(sess_live_subscribe(live, SID_C, on_live, &c), PL_OK); /* while down */
    assert_int_equal(sess_live_unsubscribe(live, SID_B), PL_OK);
    assert_int_equal(ts_redis_restart(&fx.redis), 0);
    WAIT_UNTIL(sess_live_ready(live) && sess_store_ready(fx.store), 15000);
    WAIT_UNTIL(numsub(SID_A) == 1 && numsub(SID_C) == 1, 5000);
    assert_int_equal(numsub(SID_B), 0);
    snprintf(sid, sizeof(sid), "%032x", 0);
    assert_int_equal(numsub(sid), 1);
    snprintf(sid, sizeof(sid), "%032x", MANY - 1);
    assert_int_equal(numsub(sid), 1);

    publish(SID_B, "b", 1);
    publish(SID_A, "a", 1);
    publish(SID_C, "c", 1);
    publish(sid, "m", 1);
    WAIT_UNTIL(a.n == 1 && c.n == 1 && many.n == 1, 5000);
    assert_int_equal(b.n, 0);
    assert_string_equal(c.sid[0], SID_C);
    assert_string_equal(many.sid[0], sid);

    /* Every confirmation was counted: a quiet while later, still the same connection. */
    long conns = connections_received();
    run_for(500);
    assert_true(sess_live_ready(live));
    assert_int_equal(connections_received(), conns + 1); /* that query's own */
    inbox_free(&a);
    inbox_free(&b);
    inbox_free(&c);
    inbox_free(&many);
    stop();
}

static void pause_redis(int ms)
{
    char *ok = ts_redis_query(&fx.redis, "CLIENT PAUSE %d ALL", ms);
    assert_string_equal(ok, "OK");
    pl_free(ok);
}

static void test_confirmations_have_a_deadline_messages_do_not(void **state)
{
    (void)state;
    start(300, 0);
    struct inbox a = {0}, b = {0};
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &a), PL_OK);
    WAIT_UNTIL(numsub(SID_A) == 1, 5000);

    /* Three deadlines without a message: the connection stays. */
    long conns = connections_received();
    run_for(1000);
    assert_true(sess_live_ready(live));
    assert_int_equal(connections_received(), conns + 1); /* that query's own */

    /* A SUBSCRIBE not confirmed in time drops the connection; the next subscribes to both. */
    pause_redis(1500);
    assert_int_equal(sess_live_subscribe(live, SID_B, on_live, &b), PL_OK);
    WAIT_UNTIL(!sess_live_ready(live), 1400);
    WAIT_UNTIL(sess_live_ready(live), 10000);
    WAIT_UNTIL(numsub(SID_A) == 1 && numsub(SID_B) == 1, 5000);
    WAIT_UNTIL(sess_store_ready(fx.store), 5000);
    publish(SID_B, "b", 1);
    publish(SID_A, "a", 1);
    WAIT_UNTIL(a.n == 1 && b.n == 1, 5000);
    inbox_free(&a);
    inbox_free(&b);
    stop();
}

static void test_unsubscribe_and_destroy_while_subscribe_is_pending(void **state)
{
    (void)state;
    start(0, 0);
    struct inbox old = {0}, fresh = {0}, gone = {0};
    pause_redis(300);
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &old), PL_OK);
    uv_run(&fx.loop, UV_RUN_NOWAIT); /* SUBSCRIBE written; its confirmation waits */
    assert_int_equal(sess_live_unsubscribe(live, SID_A), PL_OK);
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &fresh), PL_OK);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    WAIT_UNTIL(numsub(SID_A) == 1, 5000);
    publish(SID_A, "x", 1);
    WAIT_UNTIL(fresh.n == 1, 5000);
    assert_int_equal(old.n, 0);

    /* Destroyed with a SUBSCRIBE still unconfirmed: nothing runs, nothing leaks (ASan). */
    pause_redis(300);
    assert_int_equal(sess_live_subscribe(live, SID_B, on_live, &gone), PL_OK);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    stop();
    assert_int_equal(gone.n, 0);
    inbox_free(&old);
    inbox_free(&fresh);
}

/* A callback that destroys the subscriber on its first message. */
static void on_live_then_destroy(void *ud, const char *sid, const char *data, size_t len)
{
    on_live(ud, sid, data, len);
    sess_live_destroy(live);
    live = NULL;
}

static void test_callback_may_destroy_the_subscriber(void **state)
{
    (void)state;
    start(0, 0);
    struct inbox in = {0};
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live_then_destroy, &in), PL_OK);
    WAIT_UNTIL(numsub(SID_A) == 1, 5000);
    /* Both messages reach the socket together; only the first is delivered. */
    char *x = ts_redis_query(&fx.redis, "PUBLISH parley:{%s}:live one", SID_A);
    pl_free(x);
    x = ts_redis_query(&fx.redis, "PUBLISH parley:{%s}:live two", SID_A);
    pl_free(x);
    WAIT_UNTIL(in.n == 1, 5000);
    run_for(200);
    assert_int_equal(in.n, 1);
    assert_memory_equal(in.data[0], "one", 3);
    inbox_free(&in);
    stop();
}

static void test_subscriptions_are_bounded_and_checked(void **state)
{
    (void)state;
    start(0, 3);
    struct inbox in = {0};
    assert_int_equal(sess_live_subscribe(live, "not-a-session", on_live, &in), PL_EINVAL);
    assert_int_equal(sess_live_subscribe(live, SID_A, NULL, &in), PL_EINVAL);
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &in), PL_OK);
    assert_int_equal(sess_live_subscribe(live, SID_A, on_live, &in), PL_EINVAL); /* already */
    assert_int_equal(sess_live_subscribe(live, SID_B, on_live, &in), PL_OK);
    assert_int_equal(sess_live_subscribe(live, SID_C, on_live, &in), PL_OK);
    assert_int_equal(sess_live_subscribe(live, "dddddddddddddddddddddddddddddddd", on_live, &in),
                     PL_EBUSY);
    assert_int_equal(sess_live_unsubscribe(live, SID_B), PL_OK);
    assert_int_equal(sess_live_subscribe(live, "dddddddddddddddddddddddddddddddd", on_live, &in),
                     PL_OK);
    assert_int_equal(sess_live_unsubscribe(live, "not-a-session"), PL_EINVAL);
    assert_int_equal(sess_live_publish(fx.store, "not-a-session", "x", 1, NULL, NULL), PL_EINVAL);
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_is_delivered_byte_exact_with_its_sid),
        cmocka_unit_test(test_unsubscribe_stops_delivery_even_for_a_message_on_its_way),
        cmocka_unit_test(test_subscriptions_survive_a_redis_restart),
        cmocka_unit_test(test_confirmations_have_a_deadline_messages_do_not),
        cmocka_unit_test(test_unsubscribe_and_destroy_while_subscribe_is_pending),
        cmocka_unit_test(test_callback_may_destroy_the_subscriber),
        cmocka_unit_test(test_subscriptions_are_bounded_and_checked),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
