/* A Redis password that does not work costs neither Redis nor the log: parleyd reconnects with
 * backoff (not about 13 times a second), never reports storage ready for a connection whose AUTH
 * failed, and says what is wrong once (not once per attempt). When the password starts working,
 * storage is ready, and said so once. */
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
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"
#include "tests/support/redis_admin.h"

#define WINDOW_MS 4000
/* Backoff from 100 ms doubling to 5 s, jitter taking up to half of each wait: the waits are at
 * least 50, 100, 200, 400, 800, 1600 ms, so at most 7 attempts start within 4 s. */
#define MAX_ATTEMPTS_IN_WINDOW 7

static char workdir[512];
/* Each test's servers, stopped by teardown even when an assertion failed. */
static struct ts_redis redis;
static struct ts_proc p;

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("redis_auth"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_proc_stop(&p, 15000);
    ts_redis_stop(&redis);
    return rc;
}

/* parleyd against `url`, not waiting for it to be ready (it is not meant to be). */
static void start_parleyd(struct ts_proc *proc, const char *name, const char *url, int *port)
{
    char listen[64], log[700], bin[512];
    *port = ts_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
    snprintf(log, sizeof(log), "%s/%s.log", workdir, name);
    snprintf(bin, sizeof(bin), "%s", ts_bin("parleyd"));
    const char *argv[] = {bin,     "--listen",     listen,        "--redis",
                          url,     "--log-format", "text",        "--provider",
                          "local", "--jwt-secret", TS_JWT_SECRET, NULL};
    assert_int_equal(ts_proc_spawn(proc, "parleyd", (char *const *)argv, NULL, log), 0);
    assert_int_equal(ts_wait_port(proc, *port, 15000), 0);
}

/* Connections Redis accepted during WINDOW_MS (the two INFO queries' own left out). */
static long connections_in_window(const struct ts_redis *r, const char *password)
{
    long before = ts_redis_info_long(r, password, "total_connections_received");
    poll(NULL, 0, WINDOW_MS);
    long after = ts_redis_info_long(r, password, "total_connections_received");
    assert_true(before > 0 && after > 0);
    return after - before - 1;
}

static long readyz(int port)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    ts_http_reply_free(&r);
    return r.status;
}

/* A password given to a Redis that has none: AUTH fails, and the PING after it used to succeed,
 * so the connection counted as up, was dropped, and the backoff started again from nothing. */
static void test_a_password_redis_does_not_expect(void **state)
{
    (void)state;
    assert_int_equal(ts_redis_start_with(&redis, workdir, "redis-open", NULL), 0);
    char url[128];
    snprintf(url, sizeof(url), "redis://:not-needed@127.0.0.1:%d/0", redis.port);
    int port;
    start_parleyd(&p, "parleyd-open", url, &port);
    long attempts = connections_in_window(&redis, NULL);
    if (attempts > MAX_ATTEMPTS_IN_WINDOW)
        fail_msg("%ld connections in %d ms", attempts, WINDOW_MS);
    assert_int_equal(ts_log_count(&p, "storage ready"), 0);
    assert_int_equal(ts_log_count(&p, " redis    "), 1);
    char want[600];
    snprintf(want, sizeof(want),
             " err    redis    Redis at 127.0.0.1:%d db=0 refused to authenticate us: ERR AUTH "
             "<password> called without any password configured for the default user. Are you "
             "sure your configuration is correct? (check the user and password in --redis / "
             "PARLEY_REDIS_URL); retrying with backoff, this is logged again at most once a "
             "minute",
             redis.port);
    if (ts_log_count(&p, want) != 1) {
        ts_proc_dump_log(&p);
        fail_msg("no line \"%s\"", want);
    }
    assert_int_equal(readyz(port), 503);
}

static void test_a_wrong_password_then_the_right_one(void **state)
{
    (void)state;
    assert_int_equal(ts_redis_start_with(&redis, workdir, "redis-locked", NULL), 0);
    pl_free(ts_redis_query(&redis, "CONFIG SET requirepass %s", "the-right-one"));
    char url[128];
    snprintf(url, sizeof(url), "redis://:the-new-one@127.0.0.1:%d/0", redis.port);
    int port;
    start_parleyd(&p, "parleyd-locked", url, &port);
    long attempts = connections_in_window(&redis, "the-right-one");
    if (attempts > MAX_ATTEMPTS_IN_WINDOW)
        fail_msg("%ld connections in %d ms", attempts, WINDOW_MS);
    /* One line says what is wrong; the follow-up NOAUTH of the PING is not a second story. */
    assert_int_equal(ts_log_count(&p, " redis    "), 1);
    char want[600];
    snprintf(
        want, sizeof(want),
        " err    redis    Redis at 127.0.0.1:%d db=0 refused to authenticate us: WRONGPASS invalid "
        "username-password pair or user is disabled. (check the user and password in "
        "--redis / PARLEY_REDIS_URL); retrying with backoff, this is logged again at most "
        "once a minute",
        redis.port);
    assert_int_equal(ts_log_count(&p, want), 1);
    assert_int_equal(ts_log_count(&p, "storage ready"), 0);
    assert_int_equal(readyz(port), 503);

    /* The operator fixes Redis: parleyd gets in within one backoff (at most 5 s). */
    pl_free(
        ts_redis_query_auth(&redis, "the-right-one", "CONFIG SET requirepass %s", "the-new-one"));
    assert_true(ts_log_wait(&p, "storage ready", 8000));
    assert_int_equal(readyz(port), 200);
    poll(NULL, 0, 500);
    assert_int_equal(ts_log_count(&p, "storage ready"), 1);
    assert_int_equal(ts_log_count(&p, "connected to"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_password_redis_does_not_expect, teardown),
        cmocka_unit_test_teardown(test_a_wrong_password_then_the_right_one, teardown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
