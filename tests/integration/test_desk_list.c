/* The desk's live session list and the handoff packet: two parleyd on one Redis (the offline
 * provider, the sample knowledge base). Nothing is published on the desk channel while no agent
 * is connected; an agent on B who has listed gets session_updates (whole rows) for a session
 * whose caller is on A: its answer, its escalation, an agent's takeover on A. The agent who
 * takes a session over gets the handoff packet: the caller as identified, the reason, a summary,
 * the cited documents and the passages of the last question; it is stored in the session. */
#include <poll.h>
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

static struct ts_stack st;  /* Redis and instance A */
static struct ts_parleyd b; /* instance B */
static const char *const a_args[] = {"--local-pace-ms", "1", "--kb", PARLEY_KB_DIR, NULL};

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "desk_list", NULL, a_args))
        return -1;
    return ts_stack_start_second(&st, &b, a_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&b);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

static void agent_open(struct ts_caller *a, int port, const char *sub)
{
    assert_int_equal(ts_agent_open(a, port, "agent", sub, NULL), 0);
}

static void agent_list(struct ts_caller *a)
{
    assert_int_equal(ts_caller_send(a, "{\"type\":\"list\"}"), 0);
    json_t *f = ts_caller_expect(a, "sessions", 5000);
    assert_non_null(f);
    json_decref(f);
}

/* The next session_update of `sid` whose `key` is `want` (others skipped; 10 s at most). */
static json_t *expect_update(struct ts_caller *a, const char *sid, const char *key,
                             const char *want)
{
    for (;;) {
        json_t *f = ts_caller_expect(a, "session_update", 10000);
        if (!f)
            fail_msg("no session_update of %s with %s=%s", sid, key, want);
        const char *s = json_string_value(json_object_get(f, "session_id"));
        const char *v = json_string_value(json_object_get(f, key));
        if (s && !strcmp(s, sid) && v && !strcmp(v, want))
            return f;
        json_decref(f);
    }
}

static void test_nothing_published_while_nobody_lists(void **state)
{
    (void)state;
    struct ts_caller caller;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    long before = ts_redis_calls(&st.redis, "publish");
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "n1", "Is a cracked windscreen covered?", 10000, &t),
                     0);
    ts_turn_free(&t);
    /* a caller line that escalates is a change too */
    assert_int_equal(ts_caller_ask(&caller, "n2", "let me talk to a human", 10000, &t), 0);
    ts_turn_free(&t);
    char *mark = ts_redis_query(&st.redis, "EXISTS parley:desk:listing");
    assert_string_equal(mark, "0");
    free(mark);
    /* a batch is due 250 ms after a change: give it a second to show itself */
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_int_equal(ts_redis_calls(&st.redis, "publish"), before);
    ts_caller_close(&caller);
}

static void test_updates_reach_an_agent_on_another_instance(void **state)
{
    (void)state;
    struct ts_caller desk, eve, caller;
    agent_open(&desk, b.port, "dee");
    agent_list(&desk);
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    const char *sid = caller.session_id;

    /* an answer on A: its row, with the answer as the newest line */
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "u1", "Is a cracked windscreen covered?", 10000, &t),
                     0);
    char preview[161];
    snprintf(preview, sizeof(preview), "%.160s", t.text); /* the offline answer is ASCII */
    json_t *u = expect_update(&desk, sid, "last_text", preview);
    assert_string_equal(json_string_value(json_object_get(u, "state")), "bot");
    assert_string_equal(json_string_value(json_object_get(u, "channel")), "web");
    assert_true(json_is_integer(json_object_get(u, "updated")));
    assert_null(json_object_get(u, "reason"));
    json_decref(u);
    ts_turn_free(&t);

    /* an escalation phrase: waiting, with the reason and since when */
    assert_int_equal(ts_caller_ask(&caller, "u2", "Can I talk to a human please", 10000, &t), 0);
    ts_turn_free(&t);
    u = expect_update(&desk, sid, "state", "waiting_agent");
    assert_string_equal(json_string_value(json_object_get(u, "reason")),
                        "the caller said \"talk to a human\"");
    assert_true(json_integer_value(json_object_get(u, "waiting_since")) > 0);
    json_decref(u);

    /* an agent on A takes it over: the desk on B sees it held */
    agent_open(&eve, st.parleyd.port, "eve");
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"takeover\",\"session_id\":\"%s\"}", sid);
    assert_int_equal(ts_caller_send(&eve, frame), 0);
    u = expect_update(&desk, sid, "state", "agent");
    json_decref(u);
    /* eve gets the packet: the reason it waited, and no identity (an anonymous caller) */
    json_t *h = ts_caller_expect(&eve, "handoff", 10000);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "session_id")), sid);
    json_t *p = json_object_get(h, "packet");
    assert_string_equal(json_string_value(json_object_get(p, "reason")),
                        "the caller said \"talk to a human\"");
    assert_false(json_is_true(json_object_get(p, "verified")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p, "caller"), "identified_by")), "none");
    assert_string_equal(json_string_value(json_object_get(p, "question")),
                        "Can I talk to a human please");
    json_decref(h);

    ts_caller_close(&eve);
    ts_caller_close(&caller);
    ts_caller_close(&desk);
}

/* A session made by a site's backend with the caller's policy (a trusted source). */
static char *bound_session(char *sid)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    char *admin = ts_token("admin", "site", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin,
                             "{\"caller\":{\"id\":\"c-7\",\"name\":\"Ada\","
                             "\"policy_number\":\"POL-100001\"}}",
                             &r),
                     0);
    free(admin);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    snprintf(sid, 33, "%s", json_string_value(json_object_get(j, "session_id")));
    char *token = strdup(json_string_value(json_object_get(j, "token")));
    json_decref(j);
    ts_http_reply_free(&r);
    return token;
}

static void test_handoff_packet(void **state)
{
    (void)state;
    char sid[33];
    char *token = bound_session(sid);
    struct ts_caller caller, eve;
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, token, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "h1", "Is a cracked windscreen covered?", 10000, &t),
                     0);
    ts_turn_free(&t);

    agent_open(&eve, b.port, "eve");
    char frame[200];
    snprintf(frame, sizeof(frame), "{\"type\":\"takeover\",\"session_id\":\"%s\"}", sid);
    assert_int_equal(ts_caller_send(&eve, frame), 0);
    json_t *h = ts_caller_expect(&eve, "handoff", 10000);
    assert_non_null(h);
    json_t *p = json_object_get(h, "packet");
    json_t *c = json_object_get(p, "caller");
    assert_string_equal(json_string_value(json_object_get(c, "id")), "c-7");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Ada");
    assert_string_equal(json_string_value(json_object_get(c, "policy_number")), "POL-100001");
    assert_string_equal(json_string_value(json_object_get(c, "identified_by")), "sign_in");
    assert_true(json_is_true(json_object_get(p, "verified")));
    assert_true(json_is_null(json_object_get(p, "reason"))); /* it never waited */
    assert_string_equal(json_string_value(json_object_get(p, "state")), "agent");
    assert_string_equal(json_string_value(json_object_get(p, "question")),
                        "Is a cracked windscreen covered?");
    const char *summary = json_string_value(json_object_get(p, "summary"));
    assert_non_null(summary);
    assert_true(strlen(summary) > 0);
    /* the documents the answer cited, and passages of those documents only */
    json_t *sources = json_object_get(p, "sources"), *passages = json_object_get(p, "passages");
    assert_true(json_array_size(sources) >= 1);
    assert_true(json_array_size(passages) >= 1);
    bool kb_cited = false;
    size_t i;
    json_t *x;
    json_array_foreach(sources, i, x)
    {
        if (!strncmp(json_string_value(json_object_get(x, "source")), "kb:", 3))
            kb_cited = true;
    }
    assert_true(kb_cited);
    json_array_foreach(passages, i, x)
    {
        const char *src = json_string_value(json_object_get(x, "source"));
        bool cited = false;
        size_t k;
        json_t *y;
        json_array_foreach(sources, k, y)
        {
            if (!strcmp(json_string_value(json_object_get(y, "source")), src))
                cited = true;
        }
        assert_true(cited);
        size_t len = strlen(json_string_value(json_object_get(x, "text")));
        assert_true(len > 0 && len <= 600);
    }
    json_decref(h);

    /* eve's console reloads (on the other instance): watching the session she holds brings the
     * packet again, after the history */
    struct ts_caller eve2;
    agent_open(&eve2, st.parleyd.port, "eve");
    snprintf(frame, sizeof(frame), "{\"type\":\"watch\",\"session_id\":\"%s\"}", sid);
    assert_int_equal(ts_caller_send(&eve2, frame), 0);
    json_t *hist = ts_caller_recv(&eve2, 5000);
    assert_non_null(hist);
    assert_string_equal(json_string_value(json_object_get(hist, "type")), "history");
    json_decref(hist);
    h = ts_caller_expect(&eve2, "handoff", 10000);
    assert_non_null(h);
    p = json_object_get(h, "packet");
    assert_string_equal(json_string_value(json_object_get(p, "session_id")), sid);
    assert_string_equal(json_string_value(json_object_get(p, "question")),
                        "Is a cracked windscreen covered?");
    json_decref(h);
    ts_caller_close(&eve2);

    /* stored: the session's record shows the packet as text */
    char *stored = ts_redis_query(&st.redis, "HGET parley:{%s}:session handoff", sid);
    assert_non_null(stored);
    assert_true(strncmp(stored,
                        "Caller: signed in on the website, policy POL-100001. Escalated: "
                        "no. Summary: ",
                        strlen("Caller: signed in on the website, policy POL-100001. Escalated: "
                               "no. Summary: ")) == 0);
    assert_non_null(strstr(stored, " Sources: "));
    free(stored);

    ts_caller_close(&eve);
    ts_caller_close(&caller);
    free(token);
}

/* HTTP status of GET `path` on the parleyd at `url`. */
static long http_status(const char *url, const char *path)
{
    char full[200];
    snprintf(full, sizeof(full), "%s%s", url, path);
    struct ts_http_reply r;
    long status = ts_http("GET", full, NULL, NULL, &r) == 0 ? r.status : 0;
    ts_http_reply_free(&r);
    return status;
}

/* Redis restarts while an agent has the list open: the subscriber connection comes back and
 * subscribes again, and the next change reaches the agent (nothing is left half-subscribed). */
static void test_updates_resume_after_redis_restarts(void **state)
{
    (void)state;
    struct ts_caller desk, caller;
    agent_open(&desk, b.port, "dee");
    agent_list(&desk);
    ts_redis_stop(&st.redis);
    for (int i = 0; i < 50 && http_status(b.url, "/readyz") == 200; i++)
        poll(NULL, 0, 100); /* polling a condition with a deadline */
    assert_int_equal(http_status(b.url, "/readyz"), 503);
    assert_int_equal(ts_redis_restart(&st.redis), 0);
    for (int i = 0; i < 100 && (http_status(b.url, "/readyz") != 200 ||
                                http_status(st.parleyd.url, "/readyz") != 200);
         i++)
        poll(NULL, 0, 100);
    assert_int_equal(http_status(b.url, "/readyz"), 200);
    /* the mark may have gone with the restart: the agent's instance sets it again within one
     * refresh (DESK_LIST_REFRESH_MS), and the subscriber resubscribes on reconnecting */
    assert_true(ts_redis_wait(&st.redis, "1", 10000, "EXISTS parley:desk:listing"));
    /* both instances had agents in this suite: both subscribe again */
    if (!ts_redis_wait(&st.redis, "\n2", 10000, "PUBSUB NUMSUB parley:desk:sessions")) {
        char *n = ts_redis_query(&st.redis, "PUBSUB NUMSUB parley:desk:sessions");
        fail_msg("subscribers of the desk channel after the restart: %s", n ? n : "?");
    }
    assert_int_equal(ts_caller_open(&caller, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&caller, "r1", "Is a cracked windscreen covered?", 10000, &t),
                     0);
    ts_turn_free(&t);
    json_t *u = expect_update(&desk, caller.session_id, "state", "bot");
    json_decref(u);
    ts_caller_close(&caller);
    ts_caller_close(&desk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_published_while_nobody_lists),
        cmocka_unit_test(test_updates_reach_an_agent_on_another_instance),
        cmocka_unit_test(test_handoff_packet),
        cmocka_unit_test(test_updates_resume_after_redis_restarts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
