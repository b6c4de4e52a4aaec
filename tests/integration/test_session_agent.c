/* A human agent's actions against a real redis-server (sessions/session_agent.h): takeover,
 * say, release and watch change the record as docs/redis-keys.md says and leave entries naming
 * the agent; a second agent cannot take a held session (an admin can); say and release need
 * the session held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "sessions/session_agent.h"
#include "sessions/session_store.h"
#include "tests/support/fixtures.h"
#include "tests/support/store_fixture.h"

static struct ts_store fx;

static void wait_for(const bool *done)
{
    assert_true(ts_run_until(&fx.loop, done, 10000));
}

static int setup(void **state)
{
    (void)state;
    return ts_store_start(&fx, "session_agent");
}

static int teardown(void **state)
{
    (void)state;
    return ts_store_stop(&fx);
}

struct acted {
    bool done;
    int status;
    enum sess_agent_result result;
};

static void on_acted(void *ud, int status, enum sess_agent_result result, long turn)
{
    (void)turn;
    struct acted *a = ud;
    a->done = true;
    a->status = status;
    a->result = result;
}

/* Do `action` and return its result (the call must reach Redis and succeed). */
static enum sess_agent_result act(const char *sid, enum sess_agent_action action, const char *agent,
                                  bool override, const char *text)
{
    struct acted a = {0};
    assert_int_equal(sess_agent_act(fx.store, sid, action, agent, override, text,
                                    text ? strlen(text) : 0, on_acted, &a),
                     PL_OK);
    wait_for(&a.done);
    assert_int_equal(a.status, PL_OK);
    return a.result;
}

struct opened {
    bool done;
    char state[16];
    long answered;
    char log[1024]; /* "role:agent:text|" per entry */
};

static void on_opened(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct opened *o = ud;
    o->done = true;
    assert_int_equal(status, PL_OK);
    snprintf(o->state, sizeof(o->state), "%s", rec->state);
    o->answered = rec->answered;
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof(o->log); i++)
        at += (size_t)snprintf(o->log + at, sizeof(o->log) - at, "%s:%s:%s|", entries[i].role,
                               entries[i].agent, entries[i].text);
}

static void open_session(const char *sid, struct opened *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(sess_open(fx.store, sid, 50, on_opened, o), PL_OK);
    wait_for(&o->done);
}

static void test_takeover_say_release_leave_named_entries(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    struct opened o;
    assert_int_equal(act(sid, SESS_AGENT_WATCH, "ann", false, NULL), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_SAY, "ann", false, "hi"), SESS_AGENT_NOT_HELD);
    assert_int_equal(act(sid, SESS_AGENT_TAKEOVER, "ann", false, NULL), SESS_AGENT_DONE);
    open_session(sid, &o);
    assert_string_equal(o.state, "agent");
    assert_int_equal(act(sid, SESS_AGENT_SAY, "ann", false, "Hello, Ann here"), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_RELEASE, "ann", false, NULL), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_RELEASE, "ann", false, NULL), SESS_AGENT_NOT_HELD);
    open_session(sid, &o);
    assert_string_equal(o.state, "bot");
    assert_string_equal(o.log, "audit:ann:watch|audit:ann:takeover|agent:ann:Hello, Ann here|"
                               "audit:ann:release|");
}

static void on_released(void *ud, int status)
{
    assert_int_equal(status, PL_OK);
    *(bool *)ud = true;
}

static void test_a_held_session_is_the_holders_unless_admin(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(act(sid, SESS_AGENT_TAKEOVER, "ann", false, NULL), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_TAKEOVER, "bob", false, NULL), SESS_AGENT_HELD_BY_OTHER);
    assert_int_equal(act(sid, SESS_AGENT_SAY, "bob", false, "mine"), SESS_AGENT_HELD_BY_OTHER);
    assert_int_equal(act(sid, SESS_AGENT_RELEASE, "bob", false, NULL), SESS_AGENT_HELD_BY_OTHER);
    assert_int_equal(act(sid, SESS_AGENT_SAY, "root", true, "admin here"), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_TAKEOVER, "root", true, NULL), SESS_AGENT_DONE);
    assert_int_equal(act(sid, SESS_AGENT_RELEASE, "ann", false, NULL), SESS_AGENT_HELD_BY_OTHER);
    struct opened o;
    open_session(sid, &o);
    assert_string_equal(o.state, "agent");
    assert_string_equal(o.log, "audit:ann:takeover|agent:root:admin here|audit:root:takeover|");
}

struct appended {
    bool done;
    struct sess_append_result r;
};

static void on_appended(void *ud, struct sess_append_result *r)
{
    struct appended *a = ud;
    a->done = true;
    a->r = *r;
}

/* Append a caller message with its turn begun; the begin's result. */
static enum sess_begin_result append_begun(const char *sid, const char *text, long *turn)
{
    struct appended a = {0};
    const struct sess_begin_opts begin = {.owner = "i1", .lock_ttl_ms = 5000, .max_entries = 10};
    assert_int_equal(
        sess_append_caller(fx.store, sid, NULL, NULL, text, strlen(text), &begin, on_appended, &a),
        PL_OK);
    wait_for(&a.done);
    assert_int_equal(a.r.status, PL_OK);
    assert_non_null(a.r.begun);
    enum sess_begin_result res = a.r.begun->result;
    *turn = a.r.turn;
    sess_turn_context_free(a.r.begun);
    return res;
}

static void release_lock(const char *sid)
{
    bool done = false;
    assert_int_equal(sess_turn_release(fx.store, sid, "i1", on_released, &done), PL_OK);
    wait_for(&done);
}

static void test_a_held_sessions_messages_begin_no_turn(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    long turn;
    assert_int_equal(append_begun(sid, "hello", &turn), SESS_BEGIN_LOCKED);
    release_lock(sid);
    assert_int_equal(act(sid, SESS_AGENT_TAKEOVER, "ann", false, NULL), SESS_AGENT_DONE);
    assert_int_equal(append_begun(sid, "a person?", &turn), SESS_BEGIN_WITH_AGENT);
    assert_int_equal(turn, 2);
    assert_int_equal(act(sid, SESS_AGENT_RELEASE, "ann", false, NULL), SESS_AGENT_DONE);
    struct opened o;
    open_session(sid, &o);
    assert_string_equal(o.state, "bot");
    assert_int_equal(o.answered, 2); /* what the agent had is not given to the model later */
    assert_int_equal(append_begun(sid, "bye", &turn), SESS_BEGIN_LOCKED);
    assert_int_equal(turn, 3);
    release_lock(sid);
}

static void test_no_such_session(void **state)
{
    (void)state;
    struct acted a = {0};
    assert_int_equal(sess_agent_act(fx.store, "0123456789abcdef0123456789abcdef",
                                    SESS_AGENT_TAKEOVER, "ann", false, NULL, 0, on_acted, &a),
                     PL_OK);
    wait_for(&a.done);
    assert_int_equal(a.status, PL_ENOTFOUND);
    assert_int_equal(
        sess_agent_act(fx.store, "nope", SESS_AGENT_WATCH, "ann", false, NULL, 0, on_acted, &a),
        PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takeover_say_release_leave_named_entries),
        cmocka_unit_test(test_a_held_session_is_the_holders_unless_admin),
        cmocka_unit_test(test_a_held_sessions_messages_begin_no_turn),
        cmocka_unit_test(test_no_such_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
