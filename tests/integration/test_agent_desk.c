/* The agent WebSocket (GET /v1/agent, parley.agent.v1) against a real parleyd, redis-server
 * and the upstream double: a caller token is refused (forbidden), an agent token gets ready;
 * watching a session gives its history and then every event of its turns, each naming the
 * session, deltas in order; unwatch stops them; --agent-max-watches bounds the watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "2", NULL};
static const char *const parleyd_args[] = {
    "--agent-max-watches", "2", "--hello-timeout-ms", "500", "--max-hello-attempts", "2", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "agent_desk", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st) == 0 ? 0 : -1;
}

/* An agent connection: the caller helpers read and write any WebSocket. */
static void agent_connect(struct ts_caller *a)
{
    assert_int_equal(ts_agent_connect(a, st.parleyd.port), 0);
}

static void agent_hello(struct ts_caller *a, const char *sub)
{
    char *token = ts_token("agent", sub, NULL, 600);
    char frame[1024];
    snprintf(frame, sizeof(frame), "{\"type\":\"hello\",\"token\":\"%s\"}", token);
    free(token);
    assert_int_equal(ts_caller_send(a, frame), 0);
    json_t *f = ts_caller_recv(a, 5000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "ready");
    assert_string_equal(json_string_value(json_object_get(f, "agent")), sub);
    assert_string_equal(json_string_value(json_object_get(f, "role")), "agent");
    assert_int_equal(json_integer_value(json_object_get(f, "max_watches")), 2);
    json_decref(f);
}

static void send_fmt(struct ts_caller *a, const char *type, const char *sid)
{
    char frame[512];
    snprintf(frame, sizeof(frame), "{\"type\":\"%s\",\"session_id\":\"%s\"}", type, sid);
    assert_int_equal(ts_caller_send(a, frame), 0);
}

/* The next frame must be an error with `code`. */
static void expect_error(struct ts_caller *a, const char *code)
{
    json_t *f = ts_caller_recv(a, 5000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(f, "code")), code);
    json_decref(f);
}

static void test_caller_token_forbidden(void **state)
{
    (void)state;
    char sid[65];
    char *caller_token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(caller_token);
    struct ts_caller a;
    agent_connect(&a);
    char frame[1024];
    snprintf(frame, sizeof(frame), "{\"type\":\"hello\",\"token\":\"%s\"}", caller_token);
    assert_int_equal(ts_caller_send(&a, frame), 0);
    expect_error(&a, "forbidden");
    /* nothing but hello before ready */
    send_fmt(&a, "watch", sid);
    expect_error(&a, "bad_request");
    ts_caller_close(&a);
    free(caller_token);
}

/* The caller WebSocket's limits: no hello within --hello-timeout-ms, or --max-hello-attempts
 * failed ones, and the agent WebSocket closes with 1008. */
static void test_hello_limits(void **state)
{
    (void)state;
    struct ts_caller a;
    agent_connect(&a);
    assert_null(ts_caller_recv(&a, 5000)); /* closed, nothing said */
    assert_int_equal(wsc_close_code(a.ws), 1008);
    ts_caller_close(&a);

    agent_connect(&a);
    char *caller = ts_token("caller", "x", "0123456789abcdef0123456789abcdef", 600);
    char frame[1024];
    snprintf(frame, sizeof(frame), "{\"type\":\"hello\",\"token\":\"%s\"}", caller);
    free(caller);
    assert_int_equal(ts_caller_send(&a, frame), 0);
    expect_error(&a, "forbidden");
    assert_int_equal(ts_caller_send(&a, "{\"type\":\"hello\",\"token\":\"not.a.token\"}"), 0);
    expect_error(&a, "unauthorized");
    assert_null(ts_caller_recv(&a, 5000));
    assert_int_equal(wsc_close_code(a.ws), 1008);
    ts_caller_close(&a);
}

static void test_watch_streams_turns(void **state)
{
    (void)state;
    struct ts_caller caller;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn first;
    assert_int_equal(ts_caller_ask(&caller, "m1", "[[tokens:5]] first question", 10000, &first), 0);
    ts_turn_free(&first);

    struct ts_caller a;
    agent_connect(&a);
    agent_hello(&a, "ana");
    send_fmt(&a, "watch", caller.session_id);
    json_t *h = ts_caller_recv(&a, 5000);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "history");
    assert_string_equal(json_string_value(json_object_get(h, "session_id")), caller.session_id);
    json_t *msgs = json_object_get(h, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "caller");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "text")),
                        "[[tokens:5]] first question");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "text")),
                        "w1 w2 w3 w4 w5");
    json_decref(h);

    struct ts_turn second;
    assert_int_equal(ts_caller_ask(&caller, "m2", "[[tokens:40]] second", 10000, &second), 0);
    /* the agent got the same turn, each frame naming the session, deltas 0, 1, 2, ... */
    long next_seq = 0;
    bool started = false, ended = false, message = false;
    char text[4096] = "";
    while (!ended) {
        json_t *f = ts_caller_recv(&a, 5000);
        assert_non_null(f);
        assert_string_equal(json_string_value(json_object_get(f, "session_id")), caller.session_id);
        const char *type = json_string_value(json_object_get(f, "type"));
        assert_int_equal(json_integer_value(json_object_get(f, "turn")), second.turn);
        if (strcmp(type, "message") == 0) {
            /* the caller's message, stored, before its answer */
            assert_false(started);
            assert_string_equal(json_string_value(json_object_get(f, "role")), "caller");
            assert_string_equal(json_string_value(json_object_get(f, "text")),
                                "[[tokens:40]] second");
            message = true;
        } else if (strcmp(type, "turn_start") == 0) {
            assert_true(message);
            started = true;
        } else if (strcmp(type, "delta") == 0) {
            assert_true(started);
            assert_int_equal(json_integer_value(json_object_get(f, "seq")), next_seq);
            next_seq++;
            strncat(text, json_string_value(json_object_get(f, "text")),
                    sizeof(text) - strlen(text) - 1);
        } else {
            assert_string_equal(type, "turn_end");
            assert_string_equal(json_string_value(json_object_get(f, "stop_reason")),
                                second.stop_reason);
            ended = true;
        }
        json_decref(f);
    }
    assert_int_equal(next_seq, second.n_deltas);
    assert_string_equal(text, second.text);
    ts_turn_free(&second);

    /* unwatch: answered, and the next turn is not told (the error below comes first) */
    send_fmt(&a, "unwatch", caller.session_id);
    json_t *u = ts_caller_recv(&a, 5000);
    assert_non_null(u);
    assert_string_equal(json_string_value(json_object_get(u, "type")), "unwatched");
    json_decref(u);
    struct ts_turn third;
    assert_int_equal(ts_caller_ask(&caller, "m3", "[[tokens:3]] third", 10000, &third), 0);
    ts_turn_free(&third);
    send_fmt(&a, "unwatch", caller.session_id);
    expect_error(&a, "not_found");
    ts_caller_close(&a);
    ts_caller_close(&caller);
}

static void test_watch_limits(void **state)
{
    (void)state;
    char sids[3][65];
    for (int i = 0; i < 3; i++) {
        char *t = ts_session_create(st.parleyd.url, sids[i]);
        assert_non_null(t);
        free(t);
    }
    struct ts_caller a;
    agent_connect(&a);
    agent_hello(&a, "bo");
    for (int i = 0; i < 2; i++) {
        send_fmt(&a, "watch", sids[i]);
        json_t *h = ts_caller_expect(&a, "history", 5000);
        assert_non_null(h);
        json_decref(h);
    }
    send_fmt(&a, "watch", sids[0]);
    expect_error(&a, "bad_request"); /* watched already */
    send_fmt(&a, "watch", sids[2]);
    expect_error(&a, "busy");
    send_fmt(&a, "unwatch", sids[0]);
    json_decref(ts_caller_expect(&a, "unwatched", 5000));
    send_fmt(&a, "watch", sids[2]);
    json_t *h = ts_caller_expect(&a, "history", 5000);
    assert_non_null(h);
    json_decref(h);
    /* an unknown session: refused, and it leaves no watch behind */
    send_fmt(&a, "unwatch", sids[1]);
    json_decref(ts_caller_expect(&a, "unwatched", 5000));
    send_fmt(&a, "watch", "00000000000000000000000000000000");
    expect_error(&a, "not_found");
    send_fmt(&a, "watch", sids[1]);
    h = ts_caller_expect(&a, "history", 5000);
    assert_non_null(h);
    json_decref(h);
    ts_caller_close(&a);
}

/* list: every session, waiting ones first (oldest first, with their reason), then the others,
 * most recently updated first. The records' state and times are set in Redis as the webhooks'
 * escalation and the turns write them. */
static void test_list(void **state)
{
    (void)state;
    char sids[4][65];
    for (int i = 0; i < 4; i++) {
        char *t = ts_session_create(st.parleyd.url, sids[i]);
        assert_non_null(t);
        free(t);
    }
    static const char *const states[] = {"bot", "waiting_agent", "bot", "waiting_agent"};
    static const char *const updated[] = {"4000000000000", "4000000000300", "4000000000100",
                                          "4000000000200"};
    for (int i = 0; i < 4; i++) {
        char *r = ts_redis_query(&st.redis,
                                 "HSET parley:{%s}:session state %s updated %s last_text line%d "
                                 "escalation_reason reason%d caller_name name%d",
                                 sids[i], states[i], updated[i], i, i, i);
        assert_non_null(r);
        free(r);
    }
    struct ts_caller a;
    agent_connect(&a);
    agent_hello(&a, "cy");
    assert_int_equal(ts_caller_send(&a, "{\"type\":\"list\"}"), 0);
    json_t *f = ts_caller_recv(&a, 5000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "sessions");
    json_t *list = json_object_get(f, "sessions");
    /* the four first (other tests' sessions are older), in the desk's order */
    static const int order[] = {3, 1, 2, 0};
    assert_true(json_array_size(list) >= 4);
    for (int k = 0; k < 4; k++) {
        json_t *row = json_array_get(list, (size_t)k);
        int i = order[k];
        assert_string_equal(json_string_value(json_object_get(row, "session_id")), sids[i]);
        assert_string_equal(json_string_value(json_object_get(row, "state")), states[i]);
        assert_int_equal(json_integer_value(json_object_get(row, "updated")),
                         strtoll(updated[i], NULL, 10));
        char want[32];
        snprintf(want, sizeof(want), "line%d", i);
        assert_string_equal(json_string_value(json_object_get(row, "last_text")), want);
        snprintf(want, sizeof(want), "name%d", i);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(row, "caller"), "name")), want);
        assert_true(json_is_null(json_object_get(json_object_get(row, "caller"), "id")));
        assert_string_equal(json_string_value(json_object_get(row, "channel")), "web");
        json_t *reason = json_object_get(row, "reason");
        if (strcmp(states[i], "waiting_agent") == 0) {
            snprintf(want, sizeof(want), "reason%d", i);
            assert_string_equal(json_string_value(reason), want);
        } else {
            assert_null(reason);
        }
    }
    json_decref(f);
    ts_caller_close(&a);
}

/* Poll Redis until the session's `field` is `want` (5 s at most). */
static void wait_field(const char *sid, const char *field, const char *want)
{
    for (int i = 0; i < 1000; i++) {
        char *r = ts_redis_query(&st.redis, "HGET parley:{%s}:session %s", sid, field);
        bool ok = r && strcmp(r, want) == 0;
        free(r);
        if (ok)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a condition with a deadline */
    }
    fail_msg("session %s: %s never became %s", sid, field, want);
}

/* A caller's escalate, or a message with an escalation phrase, puts the session in
 * waiting_agent with the reason; the list shows it among the waiting ones, longest first. */
static void test_escalation(void **state)
{
    (void)state;
    struct ts_caller one, two;
    assert_int_equal(ts_caller_open(&one, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_send(&one, "{\"type\":\"escalate\",\"reason\":\"claim dispute\"}"),
                     0);
    wait_field(one.session_id, "state", "waiting_agent");
    wait_field(one.session_id, "escalation_reason", "claim dispute");
    assert_int_equal(ts_caller_open(&two, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&two, "e1", "[[tokens:3]] let me Speak to  a HUMAN", 10000, &t),
                     0);
    ts_turn_free(&t); /* the bot still answers until an agent takes over */
    wait_field(two.session_id, "state", "waiting_agent");
    wait_field(two.session_id, "escalation_reason", "the caller said \"speak to a human\"");
    /* The same words over the HTTP message API (a site's backend relaying them). */
    struct ts_caller three;
    assert_int_equal(ts_caller_open(&three, st.parleyd.ws_url, NULL, 0, 0), 0);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=0", st.parleyd.url,
             three.session_id);
    struct ts_http_reply hr;
    assert_int_equal(
        ts_http("POST", url, three.token, "{\"text\":\"[[tokens:2]] get me a REAL  person\"}", &hr),
        0);
    assert_int_equal(hr.status, 202);
    ts_http_reply_free(&hr);
    wait_field(three.session_id, "state", "waiting_agent");
    wait_field(three.session_id, "escalation_reason", "the caller said \"real person\"");
    ts_caller_close(&three);
    /* a second escalate keeps the first reason */
    assert_int_equal(ts_caller_send(&one, "{\"type\":\"escalate\"}"), 0);
    assert_int_equal(ts_caller_send(&one, "{\"type\":\"cancel\"}"), 0);
    struct ts_caller a;
    agent_connect(&a);
    agent_hello(&a, "eve");
    assert_int_equal(ts_caller_send(&a, "{\"type\":\"list\"}"), 0);
    json_t *f = ts_caller_expect(&a, "sessions", 5000);
    assert_non_null(f);
    json_t *list = json_object_get(f, "sessions");
    json_t *r0 = json_array_get(list, 0), *r1 = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(r0, "session_id")), one.session_id);
    assert_string_equal(json_string_value(json_object_get(r0, "state")), "waiting_agent");
    assert_string_equal(json_string_value(json_object_get(r0, "reason")), "claim dispute");
    assert_string_equal(json_string_value(json_object_get(r1, "session_id")), two.session_id);
    json_decref(f);
    wait_field(one.session_id, "escalation_reason", "claim dispute");
    ts_caller_close(&a);
    ts_caller_close(&one);
    ts_caller_close(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caller_token_forbidden),
        cmocka_unit_test(test_hello_limits),
        cmocka_unit_test(test_watch_streams_turns),
        cmocka_unit_test(test_watch_limits),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_escalation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
