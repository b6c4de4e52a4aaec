/* An ack says what it means. parleyd reads Redis's persistence settings each time it connects
 * and logs what an ack then promises (or that it could not tell, when CONFIG is renamed away).
 * With --ack-replicas 1 a caller message is acknowledged only once a real replica has it: with
 * the replica stopped the caller gets a retryable error (the message is kept), and sending it
 * again with the same id once the replica is back is acknowledged exactly once, on the
 * WebSocket and over HTTP alike. */
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
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"
#include "tests/support/redis_admin.h"

#define NOT_REPLICATED                                                                             \
    "your message is saved but not yet copied to a standby; send it again with the same id to "    \
    "get its ack"

static char workdir[512];
/* Each test's servers, stopped by teardown even when an assertion failed. */
static struct ts_redis primary, replica;
static struct ts_parleyd parleyd;
static char primary_port[16];
static const char *replica_args[] = {"--replicaof", "127.0.0.1", primary_port, NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("honest_ack"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = parleyd.proc.pid ? ts_parleyd_stop(&parleyd) : 0;
    ts_redis_stop(&replica);
    ts_redis_stop(&primary);
    memset(&parleyd, 0, sizeof(parleyd));
    return rc;
}

static void test_the_promise_is_logged_and_read_again_on_reconnect(void **state)
{
    (void)state;
    assert_int_equal(ts_redis_start(&primary, workdir), 0); /* AOF, appendfsync always */
    assert_int_equal(ts_parleyd_start(&parleyd, workdir, &primary, NULL, NULL), 0);
    const char *always = " notice redis    ack promise: acks survive a Redis crash and a power "
                         "loss: Redis writes each message to its append-only file and fsyncs it "
                         "before it answers (appendonly yes, appendfsync always)";
    assert_true(ts_log_wait(&parleyd.proc, always, 5000));
    /* Redis is reconfigured and the connection drops: the promise is read again. */
    pl_free(ts_redis_query(&primary, "CONFIG SET appendfsync everysec"));
    pl_free(ts_redis_query(&primary, "CLIENT KILL TYPE normal"));
    const char *everysec = " warn   redis    ack promise: acks survive a Redis process crash but "
                           "not a power loss or an OS crash, which can lose up to about 1 s of "
                           "acknowledged messages (appendonly yes, appendfsync everysec); "
                           "appendfsync always is recommended";
    assert_true(ts_log_wait(&parleyd.proc, everysec, 5000));
    assert_int_equal(ts_log_count(&parleyd.proc, "ack promise:"), 2);
    assert_int_equal(ts_log_count(&parleyd.proc, "storage ready"), 2);
}

static void test_config_renamed_away(void **state)
{
    (void)state;
    const char *args[] = {"--rename-command", "CONFIG", "", NULL};
    assert_int_equal(ts_redis_start_with(&primary, workdir, "no-config", args), 0);
    assert_int_equal(ts_parleyd_start(&parleyd, workdir, &primary, NULL, NULL), 0);
    assert_true(ts_log_wait(&parleyd.proc,
                            " warn   redis    ack promise: what an ack promises could not be "
                            "checked (CONFIG GET: ERR unknown command 'CONFIG'",
                            5000));
    assert_int_equal(ts_log_count(&parleyd.proc,
                                  "): it depends on Redis's appendonly and appendfsync settings; "
                                  "appendonly yes with appendfsync always is recommended"),
                     1);
    /* Storage works all the same. */
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, parleyd.ws_url, NULL, 0, 0), 0);
    ts_caller_close(&c);
}

/* Wait until the primary counts `n` connected replicas and each that exists is in sync. */
static void wait_replicas(int n)
{
    for (int waited = 0; waited < 15000; waited += 50) {
        long have = ts_redis_info_long(&primary, NULL, "connected_slaves");
        long link = n ? ts_redis_info_long(&replica, NULL, "master_sync_in_progress") : 0;
        char *st = n ? ts_redis_query(&replica, "INFO replication") : NULL;
        bool up = !n || (st && strstr(st, "master_link_status:up"));
        pl_free(st);
        if (have == n && link == 0 && up)
            return;
        poll(NULL, 0, 50);
    }
    fail_msg("the primary did not get to %d replicas", n);
}

static long transcript_len(const char *sid)
{
    char *n = ts_redis_query(&primary, "XLEN parley:{%s}:transcript", sid);
    long v = n ? strtol(n, NULL, 10) : -1;
    pl_free(n);
    return v;
}

static void test_acks_wait_for_a_replica(void **state)
{
    (void)state;
    /* A replica's sync starts at once (diskless sync would wait 5 s for more replicas). */
    const char *primary_args[] = {"--repl-diskless-sync-delay", "0", NULL};
    assert_int_equal(ts_redis_start_with(&primary, workdir, "primary", primary_args), 0);
    snprintf(primary_port, sizeof(primary_port), "%d", primary.port);
    assert_int_equal(ts_redis_start_with(&replica, workdir, "replica", replica_args), 0);
    wait_replicas(1);
    const char *args[] = {"--ack-replicas", "1", "--redis-timeout-ms", "1000", NULL};
    assert_int_equal(ts_parleyd_start(&parleyd, workdir, &primary, NULL, args), 0);
    assert_true(ts_log_wait(&parleyd.proc,
                            "ack promise: none: acks are in Redis's memory only, and a Redis "
                            "restart loses every conversation (appendonly no, no save rules); "
                            "appendonly yes with appendfsync always is recommended. Each ack also "
                            "waits until 1 replica confirmed the message (WAIT, --ack-replicas), "
                            "so it survives losing this Redis when such a replica takes over",
                            5000));

    /* With the replica: acknowledged, and the replica has it. */
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "m1", "first question [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 1);
    ts_turn_free(&t);
    char *on_replica = ts_redis_query(&replica, "HGET parley:{%s}:client_ids m1", c.session_id);
    assert_string_equal(on_replica, "1");
    pl_free(on_replica);

    /* Without it: stored, not acknowledged; a retryable error instead. */
    ts_redis_stop(&replica);
    wait_replicas(0);
    assert_int_equal(ts_caller_message(&c, "m2", "second question [[tokens:2]]"), 0);
    json_t *f = ts_caller_recv(&c, 10000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(f, "code")), "upstream_unavailable");
    assert_true(json_is_true(json_object_get(f, "retryable")));
    assert_string_equal(json_string_value(json_object_get(f, "message")), NOT_REPLICATED);
    json_decref(f);
    assert_null(ts_caller_recv(&c, 300)); /* no ack, no turn */
    assert_int_equal(transcript_len(c.session_id), 3);
    assert_true(ts_log_wait(&parleyd.proc,
                            " warn   redis    only 0 of 1 replicas confirmed within 1000 ms: "
                            "caller messages are stored but not acknowledged "
                            "(upstream_unavailable, retryable) until the replicas catch up",
                            1000));

    /* The replica is back: the same id is acknowledged, once, with its turn, and answered. */
    assert_int_equal(ts_redis_restart_with(&replica, replica_args), 0);
    wait_replicas(1);
    assert_int_equal(ts_caller_ask(&c, "m2", "second question [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    assert_null(ts_caller_recv(&c, 300)); /* nothing more: one ack, one turn */
    assert_int_equal(transcript_len(c.session_id), 4);
    assert_true(ts_log_wait(&parleyd.proc, "1 replica confirms caller messages again", 1000));

    /* The HTTP message API goes through the same store call. */
    char url[300];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=5000", parleyd.url,
             c.session_id);
    ts_redis_stop(&replica);
    wait_replicas(0);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, c.token, "{\"id\":\"h1\",\"text\":\"over http\"}", &r),
                     0);
    assert_int_equal(r.status, 503);
    json_t *body = json_loads(r.body, 0, NULL);
    json_t *e = json_object_get(body, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "upstream_unavailable");
    assert_string_equal(json_string_value(json_object_get(e, "message")), NOT_REPLICATED);
    json_decref(body);
    ts_http_reply_free(&r);
    assert_int_equal(ts_redis_restart_with(&replica, replica_args), 0);
    wait_replicas(1);
    assert_int_equal(ts_http("POST", url, c.token, "{\"id\":\"h1\",\"text\":\"over http\"}", &r),
                     0);
    assert_int_equal(r.status, 200);
    body = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(body, "turn")), 3);
    json_decref(body);
    ts_http_reply_free(&r);
    assert_int_equal(transcript_len(c.session_id), 6);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_the_promise_is_logged_and_read_again_on_reconnect, teardown),
        cmocka_unit_test_teardown(test_config_renamed_away, teardown),
        cmocka_unit_test_teardown(test_acks_wait_for_a_replica, teardown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
