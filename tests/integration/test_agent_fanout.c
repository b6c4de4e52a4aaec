/* The agent desk across instances: two parleyd on one Redis and the upstream double. A caller
 * on A, an agent on B: B's agent sees every delta of A's turns in order, each once; one joining
 * mid-turn gets the turn so far, then the live tail, no gap and no duplicate. PUBLISH counts
 * (INFO commandstats): none for a turn nobody watches, and batched (far fewer than the deltas)
 * for a watched one. Takeover from B: A's turn in flight stops (stop reason takeover), the
 * caller on A gets agent_joined, agent_message and agent_left, its messages meanwhile go to the
 * agent (no model request), and after release the bot answers again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;  /* Redis, the double and instance A */
static struct ts_parleyd b; /* instance B */
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "agent_fanout", upstream_args, NULL))
        return -1;
    return ts_stack_start_second(&st, &b, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&b);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll Redis until `fmt`'s reply ends with `want` (5 s at most). */
static void wait_redis(const char *want, const char *fmt, const char *sid)
{
    if (!ts_redis_wait(&st.redis, want, 5000, fmt, sid))
        fail_msg("Redis never answered %s to %s", want, fmt);
}

static void agent_on_b(struct ts_caller *a)
{
    assert_int_equal(ts_agent_open(a, b.port, "agent", "dee", NULL), 0);
}

/* Watch `sid` from B (its caller on A) and wait until A can see it: B subscribed and the mark
 * is in Redis. */
static void watch_on_b(struct ts_caller *a, const char *sid)
{
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"watch\",\"session_id\":\"%s\"}", sid);
    assert_int_equal(ts_caller_send(a, frame), 0);
    json_t *h = ts_caller_expect(a, "history", 5000);
    assert_non_null(h);
    json_decref(h);
    wait_redis("1", "EXISTS parley:{%s}:watched", sid);
    /* channel, then count: A for its caller (agents' actions reach it), B for the watch */
    wait_redis("\n2", "PUBSUB NUMSUB parley:{%s}:live", sid);
}

/* Read the agent's events of turn `turn` up to its turn_end: turn_start first, then deltas
 * 0, 1, 2, ... exactly once each; returns their text (new). */
static char *agent_read_turn(struct ts_caller *a, const char *sid, long turn, long *n_deltas,
                             char *message, size_t message_size)
{
    message[0] = '\0';
    size_t cap = 1 << 16;
    char *text = calloc(1, cap);
    long next = 0;
    bool started = false;
    for (;;) {
        json_t *f = ts_caller_recv(a, 10000);
        assert_non_null(f);
        assert_string_equal(json_string_value(json_object_get(f, "session_id")), sid);
        const char *type = json_string_value(json_object_get(f, "type"));
        assert_int_equal(json_integer_value(json_object_get(f, "turn")), turn);
        if (strcmp(type, "message") == 0) {
            assert_false(started);
            assert_string_equal(json_string_value(json_object_get(f, "role")), "caller");
            snprintf(message, message_size, "%s", json_string_value(json_object_get(f, "text")));
        } else if (strcmp(type, "turn_start") == 0) {
            assert_false(started);
            started = true;
        } else if (strcmp(type, "delta") == 0) {
            assert_true(started);
            assert_int_equal(json_integer_value(json_object_get(f, "seq")), next);
            next++;
            strncat(text, json_string_value(json_object_get(f, "text")), cap - strlen(text) - 1);
        } else {
            assert_string_equal(type, "turn_end");
            json_decref(f);
            break;
        }
        json_decref(f);
    }
    assert_true(started);
    *n_deltas = next;
    return text;
}

static void test_unwatched_publishes_nothing(void **state)
{
    (void)state;
    struct ts_caller caller;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    long before = ts_redis_calls(&st.redis, "publish");
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "u1", "[[tokens:50]] nobody watches", 10000, &t), 0);
    assert_int_equal(t.n_deltas, 50);
    ts_turn_free(&t);
    assert_int_equal(ts_redis_calls(&st.redis, "publish"), before);
    ts_caller_close(&caller);
}

static void test_agent_on_b_sees_a(void **state)
{
    (void)state;
    struct ts_caller caller, a;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    agent_on_b(&a);
    watch_on_b(&a, caller.session_id);
    long before = ts_redis_calls(&st.redis, "publish");
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "w1", "[[tokens:80]] watched from B", 10000, &t), 0);
    long n = 0;
    char message[200];
    char *seen = agent_read_turn(&a, caller.session_id, t.turn, &n, message, sizeof(message));
    assert_string_equal(message, "[[tokens:80]] watched from B");
    assert_int_equal(n, t.n_deltas);
    assert_string_equal(seen, t.text);
    free(seen);
    long published = ts_redis_calls(&st.redis, "publish") - before;
    /* 80 deltas over about 400 ms: batched to one publish per 50 ms, not one per delta */
    assert_true(published >= 1);
    assert_true(published < 30);
    ts_turn_free(&t);
    ts_caller_close(&a);
    ts_caller_close(&caller);
}

static void test_join_mid_turn(void **state)
{
    (void)state;
    struct ts_caller caller, a;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_message(&caller, "j1", "[[tokens:150]] [[pace:10]] a long one"), 0);
    /* the caller has had some of the answer when the agent joins */
    json_t *f;
    long deltas_before = 0;
    while (deltas_before < 20 && (f = ts_caller_recv(&caller, 10000))) {
        if (strcmp(json_string_value(json_object_get(f, "type")), "delta") == 0)
            deltas_before++;
        json_decref(f);
    }
    assert_int_equal(deltas_before, 20);
    agent_on_b(&a);
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"watch\",\"session_id\":\"%s\"}", caller.session_id);
    assert_int_equal(ts_caller_send(&a, frame), 0);
    json_t *h = ts_caller_expect(&a, "history", 5000);
    assert_non_null(h);
    json_decref(h);
    long n = 0;
    char message[200];
    char *seen = agent_read_turn(&a, caller.session_id, 1, &n, message, sizeof(message));
    assert_string_equal(message, ""); /* stored before the watch: in the history */
    assert_int_equal(n, 150);         /* from seq 0: the turn so far, then the tail */
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&caller, 10000, &t), 0);
    ts_turn_free(&t);
    free(seen);
    ts_caller_close(&a);
    ts_caller_close(&caller);
}

static const char *str(json_t *f, const char *key)
{
    const char *s = json_string_value(json_object_get(f, key));
    return s ? s : "";
}

static void b_action(struct ts_caller *a, const char *type, const char *sid, const char *text)
{
    char frame[512];
    if (text)
        snprintf(frame, sizeof(frame), "{\"type\":\"%s\",\"session_id\":\"%s\",\"text\":\"%s\"}",
                 type, sid, text);
    else
        snprintf(frame, sizeof(frame), "{\"type\":\"%s\",\"session_id\":\"%s\"}", type, sid);
    assert_int_equal(ts_caller_send(a, frame), 0);
}

static void test_takeover_from_b(void **state)
{
    (void)state;
    struct ts_caller caller, a;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    const char *sid = caller.session_id;
    wait_redis("\n1", "PUBSUB NUMSUB parley:{%s}:live", sid); /* A follows its caller */
    agent_on_b(&a);
    watch_on_b(&a, sid);

    /* A's slow answer, under way when B takes over */
    assert_int_equal(ts_caller_message(&caller, "t1", "[[tokens:400]] [[pace:20]] slow on A"), 0);
    json_t *f = ts_caller_expect(&caller, "delta", 10000);
    assert_non_null(f);
    long turn = (long)json_integer_value(json_object_get(f, "turn"));
    json_decref(f);
    b_action(&a, "takeover", sid, NULL);
    f = ts_caller_expect(&caller, "agent_joined", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "name"), "dee");
    json_decref(f);
    f = ts_caller_expect(&caller, "turn_end", 5000);
    assert_non_null(f);
    assert_int_equal(json_integer_value(json_object_get(f, "turn")), turn);
    assert_string_equal(str(f, "stop_reason"), "takeover");
    json_decref(f);
    f = ts_caller_expect(&a, "session_update", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "state"), "agent");
    json_decref(f);
    /* stored as such (turn_end follows the store): the newest assistant entry says so */
    char *stop = ts_redis_query(&st.redis, "EVAL %s 1 parley:{%s}:transcript",
                                "for _, x in ipairs(redis.call('XREVRANGE', KEYS[1], '+', '-')) do "
                                "local e = {} for i = 1, #x[2], 2 do e[x[2][i]] = x[2][i + 1] end "
                                "if e.role == 'assistant' then return e.stop_reason end end "
                                "return ''",
                                sid);
    assert_non_null(stop);
    assert_string_equal(stop, "takeover");
    free(stop);

    /* the caller's next message goes to the agent on B */
    assert_int_equal(ts_caller_message(&caller, "t2", "AGENT-ONLY-B is anyone there?"), 0);
    f = ts_caller_expect(&caller, "ack", 5000);
    assert_non_null(f);
    json_decref(f);
    /* (the watch saw the first message too: the one it waits for is the newest) */
    for (bool seen = false; !seen;) {
        f = ts_caller_expect(&a, "message", 5000);
        assert_non_null(f);
        assert_string_equal(str(f, "role"), "caller");
        seen = strcmp(str(f, "text"), "AGENT-ONLY-B is anyone there?") == 0;
        json_decref(f);
    }

    /* say from B reaches the caller on A */
    b_action(&a, "say", sid, "Dee here, from B");
    f = ts_caller_expect(&caller, "agent_message", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "text"), "Dee here, from B");
    json_decref(f);

    /* release from B: the bot answers on A again */
    b_action(&a, "release", sid, NULL);
    f = ts_caller_expect(&caller, "agent_left", 5000);
    assert_non_null(f);
    json_decref(f);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "t3", "[[tokens:3]] BOT-AGAIN-B ok", 10000, &t), 0);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);
    long long deadline = now_ms() + 10000;
    while (ts_upstream_requests_with(&st.upstream, "BOT-AGAIN-B") == 0 && now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling the double's log with a deadline */
    }
    /* the agent's message was never a model request of its own: only the prompt after
     * release carries it, in its history */
    assert_int_equal(ts_upstream_requests_with(&st.upstream, "BOT-AGAIN-B"), 1);
    assert_int_equal(ts_upstream_requests_with(&st.upstream, "AGENT-ONLY-B"), 1);
    ts_caller_close(&a);
    ts_caller_close(&caller);
}

/* GET turn `n` of `sid` on A, as the session's caller; its JSON body (new) and status. */
static json_t *poll_turn(const char *sid, const char *token, long n, long *status)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/turns/%ld", st.parleyd.url, sid, n);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, token, NULL, &r), 0);
    *status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    ts_http_reply_free(&r);
    assert_non_null(j);
    return j;
}

/* A turn of the HTTP message API on A, with no caller connected anywhere (as a Connect or Lex
 * webhook's turn): an agent's takeover on B stops it (stop reason takeover, what was said kept),
 * through A's control channel. */
static void test_takeover_from_b_stops_an_http_turn_on_a(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=0", st.parleyd.url, sid);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, token,
                             "{\"text\":\"[[tokens:400]] [[pace:20]] a long answer by HTTP\"}", &r),
                     0);
    assert_int_equal(r.status, 202);
    ts_http_reply_free(&r);
    /* streaming on A */
    long status = 0;
    json_t *j = NULL;
    long long deadline = now_ms() + 10000;
    for (;;) {
        j = poll_turn(sid, token, 1, &status);
        const char *text = json_string_value(json_object_get(j, "text"));
        if (status == 202 && text && strlen(text) > 0)
            break;
        json_decref(j);
        if (now_ms() > deadline)
            fail_msg("turn 1 never began streaming on A");
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a condition with a deadline */
    }
    json_decref(j);
    struct ts_caller a;
    assert_int_equal(ts_agent_open(&a, b.port, "agent", "bea", NULL), 0);
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"takeover\",\"session_id\":\"%s\"}", sid);
    assert_int_equal(ts_caller_send(&a, frame), 0);
    json_t *f = ts_caller_expect(&a, "session_update", 5000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "state")), "agent");
    json_decref(f);
    /* the turn ends on A as taken over, long before its 400 tokens (8 s) */
    deadline = now_ms() + 20000;
    for (;;) {
        j = poll_turn(sid, token, 1, &status);
        if (status != 202)
            break;
        json_decref(j);
        if (now_ms() > deadline)
            fail_msg("turn 1 never ended");
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a condition with a deadline */
    }
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "stop_reason")), "takeover");
    const char *text = json_string_value(json_object_get(j, "text"));
    assert_non_null(text);
    assert_true(strlen(text) > 0);
    assert_null(strstr(text, "w400")); /* cut short */
    json_decref(j);
    ts_caller_close(&a);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unwatched_publishes_nothing),
        cmocka_unit_test(test_agent_on_b_sees_a),
        cmocka_unit_test(test_join_mid_turn),
        cmocka_unit_test(test_takeover_from_b),
        cmocka_unit_test(test_takeover_from_b_stops_an_http_turn_on_a),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
