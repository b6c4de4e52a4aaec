/* What a caller or a configuration puts into parleyd's log cannot hurt its reader: a Redis
 * password in the URL is never written, and a caller's escalate reason with a newline and an
 * escape sequence neither starts a line of its own nor reaches the terminal (text format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"
#include "tests/support/redis_admin.h"

#define PASSWORD "hunter2-do-not-log"

static char workdir[512];
static struct ts_redis redis;
static struct ts_parleyd parleyd;
static char redis_url[128];
static const char *parleyd_args[] = {"--redis", redis_url, NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("log_hygiene"));
    if (ts_redis_start_with(&redis, workdir, "redis", NULL))
        return -1;
    char *ok = ts_redis_query(&redis, "CONFIG SET requirepass %s", PASSWORD);
    pl_free(ok);
    snprintf(redis_url, sizeof(redis_url), "redis://default:%s@127.0.0.1:%d/0", PASSWORD,
             redis.port);
    return ts_parleyd_start(&parleyd, workdir, &redis, NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&parleyd);
    ts_redis_stop(&redis);
    return rc;
}

static void test_the_redis_password_is_never_logged(void **state)
{
    (void)state;
    char want[160];
    snprintf(want, sizeof(want), "redis redis://default:***@127.0.0.1:%d/0", redis.port);
    assert_true(ts_log_wait(&parleyd.proc, want, 5000));
    char *log = ts_log_read(&parleyd.proc);
    assert_null(strstr(log, PASSWORD));
    pl_free(log);
    /* Nor in the message of a URL refused at start. */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "'%s' --redis 'redis://u:%s@host:99999/0' 2>&1", ts_bin("parleyd"),
             PASSWORD);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(out, "invalid Redis URL \"redis://u:***@host:99999/0\""));
    assert_null(strstr(out, PASSWORD));
}

static void test_a_caller_cannot_forge_log_lines(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, parleyd.ws_url, NULL, 0, 0), 0);
    const char *frame = "{\"type\":\"escalate\",\"reason\":\"help\\n2020-01-01T00:00:00.000Z err   "
                        " main     forged line\\u001b[2J\\u009b0m\"}";
    assert_int_equal(ts_caller_send(&c, frame), 0);
    char want[300];
    snprintf(want, sizeof(want),
             " notice chat     sess=%s asked for a human agent: help\\n2020-01-01T00:00:00.000Z "
             "err    main     forged line\\x1b[2J\\u009b0m",
             c.session_id);
    assert_true(ts_log_wait(&parleyd.proc, "asked for a human agent", 5000));
    assert_int_equal(ts_log_count(&parleyd.proc, want), 1);
    char *log = ts_log_read(&parleyd.proc);
    assert_null(strstr(log, "\n2020-01-01T00:00:00.000Z"));
    assert_null(strchr(log, '\x1b'));
    assert_null(strstr(log, "\xc2\x9b"));
    pl_free(log);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_redis_password_is_never_logged),
        cmocka_unit_test(test_a_caller_cannot_forge_log_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
