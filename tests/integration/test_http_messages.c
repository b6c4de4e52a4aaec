/* The HTTP message API against a real redis-server, the Anthropic double and parleyd: a caller
 * message posted over HTTP is stored and answered as a WebSocket message is, told as
 * server-sent events (exact events, in order) or as one answer after a wait (200), or 202
 * pending then polled; a WebSocket caller and an HTTP caller on one session each see the other's
 * turns; every refusal has its status and error code. */
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
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};
static const char *const parleyd_args[] = {"--max-message-chars", "100", "--max-queued-messages",
                                           "2", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "http_messages", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

struct session {
    char sid[33];
    char *token;
};

static void session_new(struct session *s)
{
    s->token = ts_session_create(st.parleyd.url, s->sid);
    assert_non_null(s->token);
}

static void messages_url(char *url, size_t n, const char *sid, const char *query)
{
    snprintf(url, n, "%s/v1/sessions/%s/messages%s", st.parleyd.url, sid, query ? query : "");
}

static json_t *body_json(const struct ts_http_reply *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", r->body);
    assert_non_null(j);
    return j;
}

static void expect_error(const struct ts_http_reply *r, long status, const char *code,
                         bool retryable)
{
    if (r->status != status)
        fprintf(stderr, "got %ld %s\n", r->status, r->body);
    assert_int_equal(r->status, status);
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 10);
    assert_int_equal(json_is_true(json_object_get(e, "retryable")), retryable);
    json_decref(j);
}

/* Send the request every 50 ms (for 10 s at most) until it answers `want`, leaving that reply
 * in `r`; every other answer must be `meanwhile` (0: anything). */
static void repeat_until(const char *method, const char *url, const char *bearer, const char *body,
                         long want, long meanwhile, struct ts_http_reply *r)
{
    for (int i = 0; i < 200; i++) {
        assert_int_equal(ts_http(method, url, bearer, body, r), 0);
        if (r->status == want)
            return;
        if (meanwhile)
            assert_int_equal(r->status, meanwhile);
        ts_http_reply_free(r);
        poll(NULL, 0, 50);
    }
    fail_msg("%s %s never answered %ld", method, url, want);
}

/* ---- server-sent events ---- */

static void test_sse_tells_the_turn_event_by_event(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    assert_int_equal(
        ts_http_accept("POST", url, s.token,
                       "{\"id\":\"h1\",\"text\":\"Cover? [[text:Yes, you are covered.]]\"}",
                       "text/event-stream", 10000, &r),
        0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/event-stream; charset=utf-8");
    /* The exact bytes of the start and the end; the deltas are checked one by one below. */
    const char head[] =
        "event: ack\ndata: {\"type\":\"ack\",\"id\":\"h1\",\"turn\":1}\n\n"
        "event: turn_start\ndata: {\"type\":\"turn_start\",\"turn\":1}\n\n"
        "event: delta\ndata: {\"type\":\"delta\",\"turn\":1,\"seq\":0,\"text\":\"Yes, \"}\n\n";
    assert_memory_equal(r.body, head, sizeof(head) - 1);
    json_t *ev = ts_sse_events(r.body);
    assert_non_null(ev);
    size_t n = json_array_size(ev);
    assert_int_equal(n, 2 + 4 + 1); /* ack, turn_start, four deltas, turn_end */
    struct pl_buf text;
    pl_buf_init(&text, 4096);
    for (size_t i = 2; i < 6; i++) {
        json_t *e = json_array_get(ev, i);
        assert_string_equal(json_string_value(json_object_get(e, "event")), "delta");
        json_t *d = json_object_get(e, "data");
        assert_int_equal(json_integer_value(json_object_get(d, "seq")), (long)i - 2);
        pl_buf_append_str(&text, json_string_value(json_object_get(d, "text")));
    }
    assert_string_equal(text.data, "Yes, you are covered.");
    pl_buf_cleanup(&text);
    json_t *end = json_object_get(json_array_get(ev, n - 1), "data");
    assert_string_equal(json_string_value(json_object_get(end, "type")), "turn_end");
    assert_int_equal(json_integer_value(json_object_get(end, "turn")), 1);
    assert_null(json_object_get(end, "answered_in"));
    assert_string_equal(json_string_value(json_object_get(end, "stop_reason")), "end_turn");
    assert_int_equal(json_array_size(json_object_get(end, "citations")), 0);
    json_decref(ev);
    ts_http_reply_free(&r);
    /* Stored like a WebSocket message: both sides in the transcript. */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", s.sid);
    assert_non_null(strstr(x, "Cover? [[text:Yes, you are covered.]]"));
    assert_non_null(strstr(x, "Yes, you are covered."));
    pl_free(x);
    pl_free(s.token);
}

static void test_sse_tells_an_error_then_the_end(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    assert_int_equal(ts_http_accept("POST", url, s.token, "{\"text\":\"q [[400]]\"}",
                                    "text/event-stream", 10000, &r),
                     0);
    assert_int_equal(r.status, 200); /* the stream had begun: the error is an event */
    json_t *ev = ts_sse_events(r.body);
    assert_non_null(ev);
    assert_int_equal(json_array_size(ev), 4);
    const char *names[] = {"ack", "turn_start", "error", "turn_end"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ev, i), "event")),
                            names[i]);
    json_t *err = json_object_get(json_array_get(ev, 2), "data");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "upstream_error");
    assert_false(json_is_true(json_object_get(err, "retryable")));
    json_t *end = json_object_get(json_array_get(ev, 3), "data");
    assert_string_equal(json_string_value(json_object_get(end, "stop_reason")), "upstream_error");
    json_decref(ev);
    ts_http_reply_free(&r);
    pl_free(s.token);
}

/* A client that goes mid-stream stops nothing: the turn ends and is stored, and a poll returns
 * it whole. */
static void test_sse_client_leaving_mid_turn(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    assert_int_equal(ts_http_accept("POST", url, s.token,
                                    "{\"text\":\"long [[tokens:12]] [[pace:60]]\"}",
                                    "text/event-stream", 300, &r),
                     -1); /* our client gives up after 300 ms */
    assert_non_null(strstr(r.body, "event: ack\ndata: {\"type\":\"ack\",\"id\":null,\"turn\":1}"));
    assert_non_null(strstr(r.body, "event: delta"));
    assert_null(strstr(r.body, "event: turn_end"));
    ts_http_reply_free(&r);
    char poll_url[256];
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/1", st.parleyd.url, s.sid);
    repeat_until("GET", poll_url, s.token, NULL, 200, 202, &r);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(s.token);
}

/* ---- wait, 202 and poll ---- */

static void test_wait_answers_with_the_whole_turn(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"hi [[tokens:4]]\"}", &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "turn")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "w1 w2 w3 w4");
    assert_string_equal(json_string_value(json_object_get(j, "stop_reason")), "end_turn");
    json_t *u = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 4);
    assert_true(json_integer_value(json_object_get(u, "input_tokens")) > 0);
    assert_int_equal(json_array_size(json_object_get(j, "citations")), 0);
    assert_null(json_object_get(j, "error"));
    json_decref(j);
    ts_http_reply_free(&r);
    /* The second message of the session carries the first in its history. */
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"again [[tokens:1]]\"}", &r), 0);
    j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "turn")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "w1");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(s.token);
}

static void test_wait_past_its_limit_is_202_then_polled(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256], poll_url[256];
    messages_url(url, sizeof(url), s.sid, "?wait_ms=50");
    struct ts_http_reply r;
    assert_int_equal(
        ts_http("POST", url, s.token, "{\"text\":\"slow [[tokens:30]] [[pace:40]]\"}", &r), 0);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"turn\":1,\"status\":\"pending\"}");
    ts_http_reply_free(&r);
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/1", st.parleyd.url, s.sid);
    /* While it streams: 202 with the text so far, growing; then 200 with all of it. */
    size_t seen = 0;
    bool pending_with_text = false;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(ts_http("GET", poll_url, s.token, NULL, &r), 0);
        json_t *j = body_json(&r);
        const char *text = json_string_value(json_object_get(j, "text"));
        if (r.status == 202) {
            assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
            assert_true(strlen(text) >= seen);
            seen = strlen(text);
            pending_with_text |= seen > 0;
        } else {
            assert_int_equal(r.status, 200);
            assert_string_equal(text, "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 "
                                      "w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30");
            json_decref(j);
            ts_http_reply_free(&r);
            break;
        }
        json_decref(j);
        ts_http_reply_free(&r);
        assert_true(i < 199);
        poll(NULL, 0, 50);
    }
    assert_true(pending_with_text);
    /* wait_ms=0 does not wait at all. */
    messages_url(url, sizeof(url), s.sid, "?wait_ms=0");
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"later [[tokens:2]]\"}", &r), 0);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"turn\":2,\"status\":\"pending\"}");
    ts_http_reply_free(&r);
    /* Polled by an agent too, once it has ended. */
    char *agent = ts_token("agent", "ann", NULL, 600);
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/2", st.parleyd.url, s.sid);
    repeat_until("GET", poll_url, agent, NULL, 200, 202, &r);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "w1 w2");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(agent);
    pl_free(s.token);
}

/* ---- one session, two channels ---- */

static void test_websocket_and_http_on_one_session(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, s.token, 0, 0), 0);
    /* A turn started over HTTP reaches the WebSocket caller delta for delta. */
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"over http [[tokens:5]]\"}", &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "w1 w2 w3 w4 w5");
    json_decref(j);
    ts_http_reply_free(&r);
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
    assert_int_equal(t.turn, 1);
    assert_true(t.seq_ok);
    assert_int_equal(t.n_deltas, 5);
    assert_string_equal(t.text, "w1 w2 w3 w4 w5");
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    /* A turn started over the WebSocket is polled over HTTP. */
    assert_int_equal(ts_caller_ask(&c, "w1", "over ws [[tokens:3]]", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    ts_turn_free(&t);
    char poll_url[256];
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/2", st.parleyd.url, s.sid);
    assert_int_equal(ts_http("GET", poll_url, s.token, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "w1 w2 w3");
    json_decref(j);
    ts_http_reply_free(&r);
    /* And an HTTP stream of a turn queued behind a WebSocket turn tells only its own turn. */
    assert_int_equal(ts_caller_message(&c, "w2", "first [[tokens:10]] [[pace:20]]"), 0);
    json_t *ack = ts_caller_expect(&c, "ack", 5000);
    json_decref(ack);
    assert_int_equal(ts_http_accept("POST", url, s.token, "{\"text\":\"second [[tokens:2]]\"}",
                                    "text/event-stream", 10000, &r),
                     0);
    json_t *ev = ts_sse_events(r.body);
    assert_non_null(ev);
    size_t n = json_array_size(ev);
    assert_int_equal(n, 5); /* ack, turn_start, 2 deltas, turn_end: all of turn 4 */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(json_array_get(ev, i), "data"), "turn")),
                         4);
    json_decref(ev);
    ts_http_reply_free(&r);
    ts_caller_close(&c);
    pl_free(s.token);
}

/* ---- refusals ---- */

static void test_each_refusal_has_its_status(void **state)
{
    (void)state;
    struct session s, other;
    session_new(&s);
    session_new(&other);
    char url[256], poll_url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    struct ts_http_reply r;
    const char *ok_body = "{\"text\":\"hello [[tokens:1]]\"}";

    assert_int_equal(ts_http("POST", url, NULL, ok_body, &r), 0);
    expect_error(&r, 401, "unauthorized", false);
    ts_http_reply_free(&r);
    char *expired = ts_token("caller", "c", s.sid, -10);
    assert_int_equal(ts_http("POST", url, expired, ok_body, &r), 0);
    expect_error(&r, 401, "unauthorized", false);
    assert_non_null(strstr(r.body, "expired"));
    ts_http_reply_free(&r);
    pl_free(expired);
    assert_int_equal(ts_http("POST", url, other.token, ok_body, &r), 0);
    expect_error(&r, 403, "forbidden", false);
    ts_http_reply_free(&r);
    char *agent = ts_token("agent", "ann", NULL, 600);
    assert_int_equal(ts_http("POST", url, agent, ok_body, &r), 0);
    expect_error(&r, 403, "forbidden", false); /* agents speak through the agent desk */
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("GET", url, s.token, NULL, &r), 0);
    expect_error(&r, 405, "method_not_allowed", false);
    assert_string_equal(r.allow, "POST");
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":", &r), 0);
    expect_error(&r, 400, "bad_request", false);
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"   \"}", &r), 0);
    expect_error(&r, 400, "bad_request", false);
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, s.token, "{\"type\":\"cancel\",\"text\":\"x\"}", &r), 0);
    expect_error(&r, 400, "bad_request", false);
    ts_http_reply_free(&r);
    char long_body[400];
    snprintf(long_body, sizeof(long_body), "{\"text\":\"%0150d\"}", 0);
    assert_int_equal(ts_http("POST", url, s.token, long_body, &r), 0);
    expect_error(&r, 413, "too_large", false); /* over --max-message-chars 100 */
    ts_http_reply_free(&r);
    messages_url(url, sizeof(url), s.sid, "?wait_ms=120001");
    assert_int_equal(ts_http("POST", url, s.token, ok_body, &r), 0);
    expect_error(&r, 400, "bad_request", false);
    ts_http_reply_free(&r);
    messages_url(url, sizeof(url), "0123456789abcdef0123456789abcdef", NULL);
    char *admin = ts_token("admin", "site", NULL, 600);
    assert_int_equal(ts_http("POST", url, admin, ok_body, &r), 0);
    expect_error(&r, 404, "not_found", false); /* an admin may post, to a session that exists */
    ts_http_reply_free(&r);
    messages_url(url, sizeof(url), s.sid, NULL);
    assert_int_equal(ts_http("POST", url, admin, ok_body, &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
    /* Polls: no such turn, not a turn number, a wrong method. */
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/9", st.parleyd.url, s.sid);
    assert_int_equal(ts_http("GET", poll_url, s.token, NULL, &r), 0);
    expect_error(&r, 404, "not_found", false);
    ts_http_reply_free(&r);
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/x1", st.parleyd.url, s.sid);
    assert_int_equal(ts_http("GET", poll_url, s.token, NULL, &r), 0);
    expect_error(&r, 404, "not_found", false);
    ts_http_reply_free(&r);
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/1", st.parleyd.url, s.sid);
    assert_int_equal(ts_http("DELETE", poll_url, s.token, NULL, &r), 0);
    expect_error(&r, 405, "method_not_allowed", false);
    assert_string_equal(r.allow, "GET");
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("GET", poll_url, other.token, NULL, &r), 0);
    expect_error(&r, 403, "forbidden", false);
    ts_http_reply_free(&r);
    /* The model refuses the request: the wait answers with the table's status, 502. */
    assert_int_equal(ts_http("POST", url, s.token, "{\"text\":\"q [[400]]\"}", &r), 0);
    assert_int_equal(r.status, 502);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "stop_reason")), "upstream_error");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "upstream_error");
    json_decref(j);
    ts_http_reply_free(&r);
    /* Too many waiting: 429 busy (--max-queued-messages 2). */
    messages_url(url, sizeof(url), s.sid, "?wait_ms=0");
    const char *slow = "{\"text\":\"slow [[tokens:20]] [[pace:50]]\"}";
    long statuses[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ts_http("POST", url, s.token, slow, &r), 0);
        statuses[i] = r.status;
        if (r.status == 429)
            expect_error(&r, 429, "busy", true);
        ts_http_reply_free(&r);
    }
    assert_int_equal(statuses[0], 202);
    assert_int_equal(statuses[3], 429);
    pl_free(admin);
    pl_free(agent);
    pl_free(s.token);
    pl_free(other.token);
}

static void test_storage_down_is_503_and_nothing_stored(void **state)
{
    (void)state;
    struct session s;
    session_new(&s);
    char url[256];
    messages_url(url, sizeof(url), s.sid, NULL);
    ts_redis_stop(&st.redis);
    struct ts_http_reply r;
    /* Until parleyd has seen Redis go. */
    repeat_until("POST", url, s.token, "{\"text\":\"lost? [[tokens:1]]\"}", 503, 0, &r);
    expect_error(&r, 503, "upstream_unavailable", true);
    ts_http_reply_free(&r);
    /* A poll that must ask Redis (this instance holds nothing of that session) says so too. */
    char poll_url[256];
    snprintf(poll_url, sizeof(poll_url), "%s/v1/sessions/%s/turns/1", st.parleyd.url, s.sid);
    assert_int_equal(ts_http("GET", poll_url, s.token, NULL, &r), 0);
    expect_error(&r, 503, "upstream_unavailable", true);
    ts_http_reply_free(&r);
    assert_int_equal(ts_redis_restart(&st.redis), 0);
    repeat_until("POST", url, s.token, "{\"text\":\"back [[tokens:1]]\"}", 200, 0, &r);
    ts_http_reply_free(&r);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", s.sid);
    assert_null(strstr(x, "lost?")); /* never acknowledged, never stored */
    pl_free(x);
    pl_free(s.token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_tells_the_turn_event_by_event),
        cmocka_unit_test(test_sse_tells_an_error_then_the_end),
        cmocka_unit_test(test_sse_client_leaving_mid_turn),
        cmocka_unit_test(test_wait_answers_with_the_whole_turn),
        cmocka_unit_test(test_wait_past_its_limit_is_202_then_polled),
        cmocka_unit_test(test_websocket_and_http_on_one_session),
        cmocka_unit_test(test_each_refusal_has_its_status),
        cmocka_unit_test(test_storage_down_is_503_and_nothing_stored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
