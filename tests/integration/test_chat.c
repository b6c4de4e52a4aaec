/* A caller's conversation end to end: real redis-server, the Anthropic double and st.parleyd.
 * Streams concatenate to exactly the double's text, both sides land in the Redis transcript,
 * reconnecting returns the history, resume replays exactly the missing deltas, queued messages
 * are answered in order, cancel stops an answer and keeps its text. */
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

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};
/* The turn's own costs are counted here: the escalation signals' note after each turn (one more
 * script, test_escalation_signals.c) is left out by keeping only the signal that needs none. */
static const char *const parleyd_args[] = {"--escalation-signals", "unavailable", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "chat", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st); /* fails unless parleyd exited cleanly */
}

static void test_stream_concatenates_to_upstream_text(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(strlen(c.session_id), 32);
    assert_int_equal(json_array_size(c.history), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "m1",
                                   "Is flood covered? [[text:Yes, flood is covered — "
                                   "up to 25 000 €, after the 250 € excess. 🌊]]",
                                   10000, &t),
                     0);
    assert_string_equal(t.error_code, "");
    assert_int_equal(t.turn, 1);
    assert_true(t.seq_ok);
    assert_string_equal(t.text,
                        "Yes, flood is covered — up to 25 000 €, after the 250 € excess. 🌊");
    assert_int_equal(t.n_deltas, 16);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_int_equal(t.output_tokens, 16);
    assert_true(t.input_tokens > 0);
    ts_turn_free(&t);

    /* Both sides are in the Redis transcript, in order. */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    assert_non_null(x);
    char *caller = strstr(x, "Is flood covered?");
    char *answer = strstr(x, "Yes, flood is covered — up to 25 000 €, after the 250 € excess. 🌊");
    assert_non_null(caller);
    assert_non_null(answer);
    assert_true(caller < answer);
    assert_non_null(strstr(answer, "end_turn"));
    pl_free(x);
    ts_caller_close(&c);
}

static void test_second_turn_sends_history_upstream(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "a", "first question [[tokens:3]]", 10000, &t), 0);
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);
    assert_int_equal(ts_caller_ask(&c, "b", "second question [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.text, "w1 w2");
    ts_turn_free(&t);
    ts_caller_close(&c);
}

/* A message to a session with nothing else to answer is stored and its turn begun in one
 * script, so a turn costs two round trips to Redis (append + begin, then the answer). */
static void test_turn_costs_two_redis_round_trips(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "r1", "first [[tokens:2]]", 10000, &t), 0);
    ts_turn_free(&t);
    /* A lease renewal (one script that PEXPIREs) may fall inside the turn: leave it out. */
    long evals = ts_redis_calls(&st.redis, "evalsha"),
         renewals = ts_redis_calls(&st.redis, "pexpire");
    assert_int_equal(ts_caller_ask(&c, "r2", "second [[tokens:2]]", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.text, "w1 w2");
    ts_turn_free(&t);
    long scripts = (ts_redis_calls(&st.redis, "evalsha") - evals) -
                   (ts_redis_calls(&st.redis, "pexpire") - renewals);
    assert_int_equal(scripts, 2);
    ts_caller_close(&c);
}

/* Scripts go by their SHA1; when Redis has lost them (a restart without persistence of the
 * script cache, SCRIPT FLUSH) the call is sent again with the text, and nobody notices. */
static void test_scripts_flushed_from_redis_are_sent_again(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "f1", "before the flush [[tokens:2]]", 10000, &t), 0);
    ts_turn_free(&t);
    pl_free(ts_redis_query(&st.redis, "SCRIPT FLUSH"));
    long evals = ts_redis_calls(&st.redis, "eval");
    assert_int_equal(ts_caller_ask(&c, "f2", "after the flush [[tokens:3]]", 10000, &t), 0);
    assert_string_equal(t.error_code, "");
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.text, "w1 w2 w3");
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    assert_true(ts_redis_calls(&st.redis, "eval") - evals >=
                1); /* the text went along, once per script */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    assert_non_null(strstr(x, "after the flush [[tokens:3]]"));
    assert_non_null(strstr(x, "w1 w2 w3"));
    pl_free(x);
    ts_caller_close(&c);
}

static void test_reconnect_returns_history(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "h1", "hello there [[tokens:4]]", 10000, &t), 0);
    ts_turn_free(&t);
    char *token = pl_strdup(c.token);
    char sid[65];
    snprintf(sid, sizeof(sid), "%s", c.session_id);
    ts_caller_close(&c);

    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_string_equal(c.session_id, sid);
    assert_int_equal(json_array_size(c.history), 2);
    json_t *m0 = json_array_get(c.history, 0), *m1 = json_array_get(c.history, 1);
    assert_string_equal(json_string_value(json_object_get(m0, "role")), "caller");
    assert_string_equal(json_string_value(json_object_get(m0, "text")), "hello there [[tokens:4]]");
    assert_int_equal(json_integer_value(json_object_get(m0, "turn")), 1);
    assert_string_equal(json_string_value(json_object_get(m1, "role")), "assistant");
    assert_string_equal(json_string_value(json_object_get(m1, "text")), "w1 w2 w3 w4");
    assert_string_equal(json_string_value(json_object_get(m1, "stop_reason")), "end_turn");
    /* The session goes on where it was; text that looks like the packed history format itself
     * (lengths, colons), with newlines, quotes and 4-byte UTF-8, comes back byte for byte. */
    static const char tricky[] = "12:ab:c 3: \"quoted\"\nline two \xf0\x9f\x8c\x8a 0: [[tokens:1]]";
    assert_int_equal(ts_caller_ask(&c, "h2", tricky, 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    ts_turn_free(&t);
    ts_caller_close(&c);
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(json_array_size(c.history), 4);
    json_t *m2 = json_array_get(c.history, 2);
    assert_string_equal(json_string_value(json_object_get(m2, "text")), tricky);
    assert_int_equal(json_integer_value(json_object_get(m2, "turn")), 2);
    assert_string_equal(json_string_value(json_object_get(m2, "role")), "caller");
    ts_caller_close(&c);
    pl_free(token);
}

static void test_resume_gets_exactly_the_missing_deltas(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    char *token = pl_strdup(c.token);
    /* 20 tokens, 30 ms apart: read 5 deltas, drop the connection, resume after seq 4. */
    assert_int_equal(ts_caller_message(&c, "r1", "tell me more [[tokens:20]] [[pace:30]]"), 0);
    int seen = 0;
    while (seen < 5) {
        json_t *f = ts_caller_recv(&c, 10000);
        assert_non_null(f);
        if (!strcmp(json_string_value(json_object_get(f, "type")), "delta")) {
            assert_int_equal(json_integer_value(json_object_get(f, "seq")), seen);
            seen++;
        }
        json_decref(f);
    }
    ts_caller_close(&c);

    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 1, 4), 0);
    /* Every delta after seq 4 arrives exactly once, in order, then turn_end. */
    long next = 5;
    char text[400] = "";
    for (;;) {
        json_t *f = ts_caller_recv(&c, 10000);
        assert_non_null(f);
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!strcmp(type, "delta")) {
            assert_int_equal(json_integer_value(json_object_get(f, "turn")), 1);
            assert_int_equal(json_integer_value(json_object_get(f, "seq")), next);
            next++;
            strncat(text, json_string_value(json_object_get(f, "text")),
                    sizeof(text) - strlen(text) - 1);
        } else if (!strcmp(type, "turn_end")) {
            assert_string_equal(json_string_value(json_object_get(f, "stop_reason")), "end_turn");
            json_decref(f);
            break;
        } else {
            fail_msg("unexpected frame %s during resume", type);
        }
        json_decref(f);
    }
    assert_int_equal(next, 20);
    assert_string_equal(text, "w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20");
    ts_caller_close(&c);
    pl_free(token);
}

static void test_queued_messages_answered_in_order(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "q1", "one [[text:first answer]]"), 0);
    assert_int_equal(ts_caller_message(&c, "q2", "two [[text:second answer]]"), 0);
    assert_int_equal(ts_caller_message(&c, "q3", "three [[text:third answer]]"), 0);
    const char *want[] = {"first answer", "second answer", "third answer"};
    for (int i = 0; i < 3; i++) {
        struct ts_turn t;
        assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
        assert_int_equal(t.turn, i + 1);
        assert_string_equal(t.text, want[i]);
        assert_string_equal(t.stop_reason, "end_turn");
        ts_turn_free(&t);
    }
    ts_caller_close(&c);
}

static void test_duplicate_client_id_is_acked_once(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "same", "once [[tokens:2]]", 10000, &t), 0);
    ts_turn_free(&t);
    /* A resend after a lost ack gets the same turn and no second answer. */
    assert_int_equal(ts_caller_message(&c, "same", "once [[tokens:2]]"), 0);
    json_t *ack = ts_caller_expect(&c, "ack", 5000);
    assert_non_null(ack);
    assert_int_equal(json_integer_value(json_object_get(ack, "turn")), 1);
    json_decref(ack);
    char *len = ts_redis_query(&st.redis, "XLEN parley:{%s}:transcript", c.session_id);
    assert_string_equal(len, "2");
    pl_free(len);
    ts_caller_close(&c);
}

static void test_cancel_keeps_partial_answer(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "c1", "long one [[tokens:50]] [[pace:40]]"), 0);
    json_t *f;
    int deltas = 0;
    while (deltas < 3) {
        f = ts_caller_expect(&c, "delta", 10000);
        assert_non_null(f);
        json_decref(f);
        deltas++;
    }
    assert_int_equal(ts_caller_send(&c, "{\"type\":\"cancel\"}"), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
    assert_string_equal(t.stop_reason, "cancelled");
    long total = deltas + t.n_deltas;
    assert_true(total < 50);
    ts_turn_free(&t);
    /* The transcript keeps what was sent, with the stop reason. */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    assert_non_null(strstr(x, "cancelled"));
    assert_non_null(strstr(x, "w1 w2 w3"));
    pl_free(x);
    ts_caller_close(&c);
}

static void test_upstream_received_a_valid_request(void **state)
{
    (void)state;
    /* The double checks every request and answers 400 to a wrong one; its log shows what we
     * sent: the model, the system prompt (as a cacheable block) and alternating roles. */
    FILE *f = fopen(st.upstream.log, "r");
    assert_non_null(f);
    char line[65536];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_t *h = json_object_get(j, "headers");
        assert_string_equal(json_string_value(json_object_get(h, "x-api-key")), TS_API_KEY);
        assert_non_null(json_object_get(h, "anthropic-version"));
        json_t *body = json_object_get(j, "body");
        assert_string_equal(json_string_value(json_object_get(body, "model")), "claude-sonnet-4-5");
        assert_true(json_is_true(json_object_get(body, "stream")));
        /* The system prompt is the cached prefix (--prompt-cache is on by default). */
        json_t *system = json_array_get(json_object_get(body, "system"), 0);
        assert_non_null(strstr(json_string_value(json_object_get(system, "text")), "insur"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(system, "cache_control"), "type")),
            "ephemeral");
        json_decref(j);
        n++;
    }
    fclose(f);
    assert_true(n >= 5);
}

static void test_session_api_and_health(void **state)
{
    (void)state;
    char url[128];
    struct ts_http_reply r;
    snprintf(url, sizeof(url), "%s/healthz", st.parleyd.url);
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
    snprintf(url, sizeof(url), "%s/readyz", st.parleyd.url);
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);

    /* A site backend creates a session for a known customer and hands the token over. */
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    char *admin = ts_token("admin", "site-backend", NULL, 600);
    assert_int_equal(ts_http("POST", url, NULL, "{}", &r), 0);
    assert_int_equal(r.status, 401);
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, admin,
                             "{\"caller\":{\"id\":\"c-42\",\"name\":\"Ada Lovelace\","
                             "\"policy_number\":\"POL-1234\"},\"channel\":\"web\"}",
                             &r),
                     0);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    const char *sid = json_string_value(json_object_get(j, "session_id"));
    const char *token = json_string_value(json_object_get(j, "token"));
    assert_non_null(sid);
    assert_non_null(token);
    assert_true(json_integer_value(json_object_get(j, "expires_at")) > 0);
    ts_http_reply_free(&r);

    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_string_equal(c.session_id, sid);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "p1", "my policy? [[tokens:2]]", 10000, &t), 0);
    ts_turn_free(&t);
    ts_caller_close(&c);
    /* The caller's own data reached the system prompt. */
    char *rec = ts_redis_query(&st.redis, "HGET parley:{%s}:session policy_number", sid);
    assert_string_equal(rec, "POL-1234");
    pl_free(rec);

    /* An agent reads the record and the transcript. */
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s", st.parleyd.url, sid);
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "my policy? [[tokens:2]]"));
    assert_non_null(strstr(r.body, "w1 w2"));
    ts_http_reply_free(&r);
    json_decref(j);
    pl_free(admin);
    pl_free(agent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_concatenates_to_upstream_text),
        cmocka_unit_test(test_second_turn_sends_history_upstream),
        cmocka_unit_test(test_turn_costs_two_redis_round_trips),
        cmocka_unit_test(test_scripts_flushed_from_redis_are_sent_again),
        cmocka_unit_test(test_reconnect_returns_history),
        cmocka_unit_test(test_resume_gets_exactly_the_missing_deltas),
        cmocka_unit_test(test_queued_messages_answered_in_order),
        cmocka_unit_test(test_duplicate_client_id_is_acked_once),
        cmocka_unit_test(test_cancel_keeps_partial_answer),
        cmocka_unit_test(test_session_api_and_health),
        cmocka_unit_test(test_upstream_received_a_valid_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
