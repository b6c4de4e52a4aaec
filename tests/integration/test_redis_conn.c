/* The Redis connection's own deadlines (hiredis 0.14 has none): a command deadline means Redis
 * did not answer, never that the loop was too busy to read an answer that had arrived. And
 * scripts: a call that finds no cached copy in Redis is sent again with the script's text, its
 * arguments byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

struct result {
    bool done;
    int status;
    char text[32];
};

static void on_state(void *ud, bool up)
{
    *(bool *)ud = up;
}

/* A script's reply: an array of strings, copied. */
struct array_result {
    bool done;
    int status;
    int type;
    size_t n;
    char *str[4];
    size_t len[4];
};

static void on_array_reply(void *ud, int status, redisReply *reply)
{
    struct array_result *r = ud;
    r->done = true;
    r->status = status;
    r->type = reply ? reply->type : -1;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements && i < 4; i++, r->n++) {
        r->str[i] = pl_malloc(reply->element[i]->len + 1);
        memcpy(r->str[i], reply->element[i]->str, reply->element[i]->len);
        r->len[i] = reply->element[i]->len;
    }
}

static void array_result_free(struct array_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        pl_free(r->str[i]);
    memset(r, 0, sizeof(*r));
}

static void on_reply(void *ud, int status, redisReply *reply)
{
    struct result *r = ud;
    r->done = true;
    r->status = status;
    if (reply && reply->str)
        snprintf(r->text, sizeof(r->text), "%s", reply->str);
}

static void block_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct ts_redis redis;

static int setup(void **state)
{
    (void)state;
    return ts_redis_start(&redis, ts_workdir("redis_conn"));
}

static int teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis); /* also after a failed assertion */
    return 0;
}

/* An rconn on its own loop, connected, with a 500 ms command deadline. */
static struct rconn *connect_with_short_deadline(uv_loop_t *loop)
{
    uv_loop_init(loop);
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis.port);
    struct rconn_opts opts = {.url = url, .command_timeout_ms = 500};
    static bool up; /* outlives this call: the state callback writes it while c lives */
    up = false;
    struct rconn *c;
    assert_int_equal(rconn_create(loop, &opts, on_state, &up, &c, err, sizeof(err)), PL_OK);
    for (uint64_t end = uv_now(loop) + 10000; !up && uv_now(loop) < end;)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(up);
    return c;
}

static void close_cleanly(uv_loop_t *loop, struct rconn *c)
{
    rconn_destroy(c);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Redis holds every answer for `ms`, so the loop pass that writes a command cannot read it. */
static void pause_redis_answers(int ms)
{
    char *ok = ts_redis_query(&redis, "CLIENT PAUSE %d ALL", ms);
    assert_string_equal(ok, "OK");
    pl_free(ok);
}

static void test_reply_behind_a_busy_loop_is_not_a_timeout(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct rconn *c = connect_with_short_deadline(&loop);

    pause_redis_answers(300);
    struct result r = {0};
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    assert_int_equal(rconn_command_argv(c, on_reply, &r, 1, argv, lens), PL_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_false(r.done);
    /* The loop is busy elsewhere for three deadlines; the answer waits in the socket. */
    block_ms(1500);
    while (!r.done)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(r.status, PL_OK);
    assert_string_equal(r.text, "PONG");
    assert_true(rconn_is_up(c));

    close_cleanly(&loop, c);
}

/* The same with many answers waiting, more than one read takes (16 KiB): all are read. */
static void test_many_replies_behind_a_busy_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct rconn *c = connect_with_short_deadline(&loop);

    enum { N = 64 };
    static char big[1024];
    memset(big, 'x', sizeof(big));
    pause_redis_answers(300);
    struct result r[N];
    memset(r, 0, sizeof(r));
    const char *argv[] = {"ECHO", big};
    size_t lens[] = {4, sizeof(big)};
    for (int i = 0; i < N; i++) /* 64 KiB of answers */
        assert_int_equal(rconn_command_argv(c, on_reply, &r[i], 2, argv, lens), PL_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_false(r[0].done);
    block_ms(1500);
    while (!r[N - 1].done)
        uv_run(&loop, UV_RUN_ONCE);
    for (int i = 0; i < N; i++)
        assert_int_equal(r[i].status, PL_OK);
    assert_true(rconn_is_up(c));

    close_cleanly(&loop, c);
}

/* Run the echo script once and check that every argument came back byte for byte. */
static void eval_echo(uv_loop_t *loop, struct rconn *c, const struct rconn_script *script,
                      const char **argv, const size_t *lens)
{
    struct array_result r = {0};
    assert_int_equal(rconn_eval(c, script, on_array_reply, &r, 5, argv, lens), PL_OK);
    while (!r.done)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(r.status, PL_OK);
    assert_int_equal(r.type, REDIS_REPLY_ARRAY);
    assert_int_equal(r.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r.len[i], lens[i + 1]);
        assert_memory_equal(r.str[i], argv[i + 1], lens[i + 1]);
    }
    array_result_free(&r);
}

static void test_flushed_script_is_sent_again_with_its_arguments_byte_exact(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct rconn *c = connect_with_short_deadline(&loop);
    struct rconn_script script;
    rconn_script_init(&script, "return {KEYS[1], ARGV[1], ARGV[2], ARGV[3]}");

    static char nul[] = {'a', '\0', 'b', '\0', '\0'};
    static const char crlf[] = "x\r\n$3\r\nSET\r\n*2\r\n\r\nend";
    enum { LONG = 300000 };
    char *long_text = pl_malloc(LONG);
    for (size_t i = 0; i < LONG; i++)
        long_text[i] = (char)(i * 7 % 256); /* every byte value, NUL and CR LF among them */
    const char *argv[] = {"1", "k\0{x}", nul, crlf, long_text};
    size_t lens[] = {1, 5, sizeof(nul), sizeof(crlf) - 1, LONG};

    pl_free(ts_redis_query(&redis, "SCRIPT FLUSH"));
    long evals = ts_redis_calls(&redis, "eval"), evalshas = ts_redis_calls(&redis, "evalsha");
    eval_echo(&loop, c, &script, argv, lens); /* first use: NOSCRIPT, then EVAL */
    assert_int_equal(ts_redis_calls(&redis, "evalsha") - evalshas, 1);
    assert_int_equal(ts_redis_calls(&redis, "eval") - evals, 1);

    eval_echo(&loop, c, &script, argv, lens); /* cached: EVALSHA alone */
    assert_int_equal(ts_redis_calls(&redis, "evalsha") - evalshas, 2);
    assert_int_equal(ts_redis_calls(&redis, "eval") - evals, 1);

    pl_free(ts_redis_query(&redis, "SCRIPT FLUSH"));
    eval_echo(&loop, c, &script, argv, lens); /* flushed: NOSCRIPT, then EVAL again */
    assert_int_equal(ts_redis_calls(&redis, "evalsha") - evalshas, 3);
    assert_int_equal(ts_redis_calls(&redis, "eval") - evals, 2);
    assert_true(rconn_is_up(c));

    pl_free(long_text);
    close_cleanly(&loop, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_behind_a_busy_loop_is_not_a_timeout),
        cmocka_unit_test(test_many_replies_behind_a_busy_loop),
        cmocka_unit_test(test_flushed_script_is_sent_again_with_its_arguments_byte_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
