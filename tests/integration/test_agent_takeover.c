/* Takeover, say and release on one parleyd with a real redis-server and the upstream double:
 * a takeover stops the bot's turn in flight (stored with stop reason takeover) and the caller
 * gets agent_joined; the caller's next message goes to the agent (a message event, no model
 * request); say reaches the caller as agent_message; release gives agent_left and the bot
 * answers again. Every action is an audit event to the watcher, and in the history a new watch
 * reads, but never in the caller's. A second agent cannot take a held session. */
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
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "agent_takeover", upstream_args, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st) == 0 ? 0 : -1;
}

static void agent_open(struct ts_caller *a, const char *sub)
{
    assert_int_equal(ts_agent_open(a, st.parleyd.port, "agent", sub, NULL), 0);
}

static void send_action(struct ts_caller *a, const char *type, const char *sid)
{
    char frame[256];
    snprintf(frame, sizeof(frame), "{\"type\":\"%s\",\"session_id\":\"%s\"}", type, sid);
    assert_int_equal(ts_caller_send(a, frame), 0);
}

static const char *str(json_t *f, const char *key)
{
    const char *s = json_string_value(json_object_get(f, key));
    return s ? s : "";
}

/* The next audit event for `action`, skipping other frames. */
static void expect_audit(struct ts_caller *a, const char *agent, const char *action)
{
    for (;;) {
        json_t *f = ts_caller_expect(a, "audit", 5000);
        assert_non_null(f);
        bool match = strcmp(str(f, "action"), action) == 0;
        if (match)
            assert_string_equal(str(f, "agent"), agent);
        json_decref(f);
        if (match)
            return;
    }
}

static void test_takeover_say_release(void **state)
{
    (void)state;
    struct ts_caller caller, ann, bob;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    const char *sid = caller.session_id;
    agent_open(&ann, "ann");
    send_action(&ann, "watch", sid);
    json_t *f = ts_caller_expect(&ann, "history", 5000);
    assert_non_null(f);
    json_decref(f);

    /* a slow answer, taken over once the caller has some of it */
    assert_int_equal(ts_caller_message(&caller, "s1", "[[tokens:400]] [[pace:20]] slow one"), 0);
    f = ts_caller_expect(&caller, "delta", 10000);
    assert_non_null(f);
    long turn = (long)json_integer_value(json_object_get(f, "turn"));
    json_decref(f);
    send_action(&ann, "takeover", sid);
    expect_audit(&ann, "ann", "takeover"); /* told to watchers, then answered */
    f = ts_caller_expect(&ann, "session_update", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "state"), "agent");
    assert_string_equal(str(f, "agent"), "ann");
    json_decref(f);
    /* agent_joined at once; the turn ends once what was said is stored */
    f = ts_caller_expect(&caller, "agent_joined", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "name"), "ann");
    json_decref(f);
    f = ts_caller_expect(&caller, "turn_end", 5000);
    assert_non_null(f);
    assert_int_equal(json_integer_value(json_object_get(f, "turn")), turn);
    assert_string_equal(str(f, "stop_reason"), "takeover");
    json_decref(f);

    /* another agent cannot have it */
    agent_open(&bob, "bob");
    send_action(&bob, "watch", sid);
    f = ts_caller_expect(&bob, "history", 5000);
    assert_non_null(f);
    json_decref(f);
    expect_audit(&ann, "bob", "watch"); /* the others see who watches */
    send_action(&bob, "takeover", sid);
    f = ts_caller_expect(&bob, "error", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "code"), "forbidden");
    json_decref(f);

    /* the caller's message goes to the agent */
    assert_int_equal(ts_caller_message(&caller, "p1", "AGENT-ONLY are you a person?"), 0);
    f = ts_caller_expect(&caller, "ack", 5000);
    assert_non_null(f);
    json_decref(f);
    f = ts_caller_expect(&ann, "message", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "role"), "caller");
    assert_string_equal(str(f, "text"), "AGENT-ONLY are you a person?");
    json_decref(f);

    /* over HTTP too: pending at once, not at the end of the wait */
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=20000", st.parleyd.url, sid);
    struct ts_http_reply r;
    time_t t0 = time(NULL);
    assert_int_equal(ts_http("POST", url, caller.token, "{\"text\":\"AGENT-ONLY by post\"}", &r),
                     0);
    assert_int_equal(r.status, 202);
    assert_true(time(NULL) - t0 < 10);
    ts_http_reply_free(&r);
    f = ts_caller_expect(&ann, "message", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "text"), "AGENT-ONLY by post");
    json_decref(f);

    /* say reaches the caller and the watcher */
    char frame[256];
    snprintf(frame, sizeof(frame),
             "{\"type\":\"say\",\"session_id\":\"%s\",\"text\":\"Yes, Ann here <b>hi</b>\"}", sid);
    assert_int_equal(ts_caller_send(&ann, frame), 0);
    f = ts_caller_expect(&caller, "agent_message", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "text"), "Yes, Ann here <b>hi</b>");
    json_decref(f);
    f = ts_caller_expect(&ann, "message", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "role"), "agent");
    assert_string_equal(str(f, "agent"), "ann");
    json_decref(f);

    /* release: the bot is back */
    send_action(&ann, "release", sid);
    expect_audit(&ann, "ann", "release");
    f = ts_caller_expect(&ann, "session_update", 5000);
    assert_non_null(f);
    assert_string_equal(str(f, "state"), "bot");
    json_decref(f);
    f = ts_caller_expect(&caller, "agent_left", 5000);
    assert_non_null(f);
    json_decref(f);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "b1", "[[tokens:3]] BOT-AGAIN thanks", 10000, &t), 0);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);
    /* the message the agent had was never a model request of its own: the only requests
     * that carry it are the one after release (it is in that prompt's history) */
    for (time_t end = time(NULL) + 10;
         ts_upstream_requests_with(&st.upstream, "BOT-AGAIN") == 0 && time(NULL) < end;)
        ;
    assert_int_equal(ts_upstream_requests_with(&st.upstream, "BOT-AGAIN"), 1);
    assert_int_equal(ts_upstream_requests_with(&st.upstream, "AGENT-ONLY"),
                     1); /* both in the one prompt after release */

    /* a new watch reads the audit entries; the caller's history never has them */
    struct ts_caller again;
    assert_int_equal(ts_caller_open(&again, st.parleyd.ws_url, caller.token, 0, 0), 0);
    char roles[256] = "";
    for (size_t i = 0; i < json_array_size(again.history); i++) {
        strncat(roles, str(json_array_get(again.history, i), "role"),
                sizeof(roles) - strlen(roles) - 2);
        strncat(roles, ",", sizeof(roles) - strlen(roles) - 1);
    }
    assert_string_equal(roles, "caller,assistant,caller,caller,agent,caller,assistant,");
    ts_caller_close(&again);
    struct ts_caller cid;
    agent_open(&cid, "cid");
    send_action(&cid, "watch", sid);
    f = ts_caller_expect(&cid, "history", 5000);
    assert_non_null(f);
    json_t *msgs = json_object_get(f, "messages");
    roles[0] = '\0';
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        strncat(roles, str(m, "role"), sizeof(roles) - strlen(roles) - 2);
        if (strcmp(str(m, "role"), "audit") == 0) {
            strncat(roles, ":", sizeof(roles) - strlen(roles) - 1);
            strncat(roles, str(m, "text"), sizeof(roles) - strlen(roles) - 2);
        }
        strncat(roles, ",", sizeof(roles) - strlen(roles) - 1);
    }
    json_decref(f);
    assert_string_equal(roles, "audit:watch,caller,audit:takeover,assistant,audit:watch,caller,"
                               "caller,agent,audit:release,caller,assistant,");
    ts_caller_close(&cid);

    /* the transcript an agent reads over HTTP names who did what */
    char surl[256];
    snprintf(surl, sizeof(surl), "%s/v1/sessions/%s", st.parleyd.url, sid);
    char *agent_token = ts_token("agent", "cid", NULL, 600);
    assert_int_equal(ts_http("GET", surl, agent_token, NULL, &r), 0);
    free(agent_token);
    assert_int_equal(r.status, 200);
    json_t *body = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(body);
    json_t *tr = json_object_get(body, "transcript");
    char who[256] = "";
    for (size_t i = 0; i < json_array_size(tr); i++) {
        json_t *e = json_array_get(tr, i);
        if (!json_object_get(e, "agent"))
            continue;
        char one[64];
        snprintf(one, sizeof(one), "%s:%s:%s,", str(e, "role"), str(e, "agent"),
                 strcmp(str(e, "role"), "audit") == 0 ? str(e, "text") : "-");
        strncat(who, one, sizeof(who) - strlen(who) - 1);
    }
    json_decref(body);
    ts_http_reply_free(&r);
    assert_string_equal(who, "audit:ann:watch,audit:ann:takeover,audit:bob:watch,agent:ann:-,"
                             "audit:ann:release,audit:cid:watch,");
    ts_caller_close(&bob);
    ts_caller_close(&ann);
    ts_caller_close(&caller);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takeover_say_release),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
