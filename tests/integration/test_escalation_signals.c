/* The escalation signals (docs/protocol.md "Escalation") on parleyd with a real
 * redis-server, the upstream double and the sample knowledge base: the bot's second unsure
 * answer, the second question in a row with no passage, a repeated question, and a turn that
 * fails with upstream_unavailable (a failing upstream, then its open circuit breaker) each put
 * the session in waiting_agent with their exact reason, as the record and the desk's `list`
 * show; a session meeting none (one unsure answer, misses not in a row) stays `bot`; the counts
 * hold when a second instance answers the session's next turn. Offline,
 * the local provider's answer counts as unsure; --escalation-signals none turns them off. */
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
#include <jansson.h>

#include "common/alloc.h"
#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "1", NULL};
static const char *const parleyd_args[] = {"--kb",
                                           PARLEY_KB_DIR,
                                           "--upstream-retries",
                                           "0",
                                           "--breaker-failures",
                                           "1",
                                           "--breaker-cooldown-ms",
                                           "600000",
                                           NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "escalation_signals", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st) == 0 ? 0 : -1;
}

/* The session record's `field` (new string; "(nil)" when absent). */
static char *field(const char *sid, const char *name)
{
    char *r = ts_redis_query(&st.redis, "HGET parley:{%s}:session %s", sid, name);
    assert_non_null(r);
    return r;
}

static void field_is(const char *sid, const char *name, const char *want)
{
    char *got = field(sid, name);
    assert_string_equal(got, want);
    free(got);
}

/* Poll the record until `name` is `want` (10 s at most). */
static void wait_field(const char *sid, const char *name, const char *want)
{
    for (int i = 0; i < 2000; i++) {
        char *r = field(sid, name);
        bool ok = strcmp(r, want) == 0;
        free(r);
        if (ok)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a condition with a deadline */
    }
    fail_msg("session %s: %s never became %s", sid, name, want);
}

/* Ask and read the turn; its error code ("" when answered) into `code`. */
static void ask(struct ts_caller *c, const char *id, const char *text, char *code, size_t cap)
{
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(c, id, text, 20000, &t), 0);
    snprintf(code, cap, "%s", t.error_code);
    ts_turn_free(&t);
}

static void ask_ok(struct ts_caller *c, const char *id, const char *text)
{
    char code[32];
    ask(c, id, text, code, sizeof(code));
    assert_string_equal(code, "");
}

/* Turn `n` is noted (the memory is written after the answer is stored, and an escalation it
 * decides is sent before the next turn's note on the same connection). */
static void noted(const char *sid, long n)
{
    char want[24];
    snprintf(want, sizeof(want), "%ld", n);
    wait_field(sid, "signal_turn", want);
}

static void escalated(const char *sid, const char *reason)
{
    wait_field(sid, "state", "waiting_agent");
    field_is(sid, "escalation_reason", reason);
    char *since = field(sid, "waiting_since");
    assert_true(strtoll(since, NULL, 10) > 1700000000000LL);
    free(since);
}

static char unsure_sid[72], miss_sid[72], repeat_sid[72], calm_sid[72], down_sid[72], open_sid[72];

static void test_unsure_twice(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(unsure_sid, sizeof(unsure_sid), "%s", c.session_id);
    ask_ok(&c, "u1",
           "Is my windscreen covered for a stone chip? [[text:I'm not sure about that.]]");
    noted(c.session_id, 1);
    field_is(c.session_id, "state", "bot"); /* once is not enough */
    field_is(c.session_id, "signal_unsure", "1");
    ask_ok(&c, "u2",
           "Will I get a courtesy car while my car is repaired? [[text:Sorry, I "
           "don\xE2\x80\x99t know that.]]");
    escalated(c.session_id, "the bot could not answer twice");
    field_is(c.session_id, "signal_unsure", "2");
    field_is(c.session_id, "signal_misses", "0");
    /* the bot goes on answering; a third unsure answer keeps the first reason */
    ask_ok(&c, "u3", "Can I choose a bigger excess? [[text:I do not know.]]");
    noted(c.session_id, 3);
    field_is(c.session_id, "escalation_reason", "the bot could not answer twice");
    ts_caller_close(&c);
}

static void test_no_passages_twice_in_a_row(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(miss_sid, sizeof(miss_sid), "%s", c.session_id);
    ask_ok(&c, "m1", "zxqv flurbo");
    noted(c.session_id, 1);
    field_is(c.session_id, "state", "bot");
    field_is(c.session_id, "signal_misses", "1");
    ask_ok(&c, "m2", "qwzx blorf plimth");
    escalated(c.session_id, "no passage of the knowledge base matched twice");
    field_is(c.session_id, "signal_misses", "2");
    field_is(c.session_id, "signal_unsure", "0");
    ts_caller_close(&c);
}

static void test_repeated_question(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(repeat_sid, sizeof(repeat_sid), "%s", c.session_id);
    ask_ok(&c, "r1", "How do I make a claim?");
    noted(c.session_id, 1);
    field_is(c.session_id, "state", "bot");
    ask_ok(&c, "r2", "  how do I make a   CLAIM ?! ");
    escalated(c.session_id, "the caller repeated a question");
    ts_caller_close(&c);
}

/* One unsure answer, misses not in a row, no question twice: still the bot's. */
static void test_no_signal_stays_bot(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(calm_sid, sizeof(calm_sid), "%s", c.session_id);
    ask_ok(&c, "c1", "zxqv flurbo");
    ask_ok(&c, "c2", "Is my windscreen covered for a stone chip? [[text:I'm not sure.]]");
    ask_ok(&c, "c3", "qwzx blorf plimth");
    ask_ok(&c, "c4", "Will I get a courtesy car while my car is repaired?");
    ask_ok(&c, "c5", "zxqv flurbo"); /* asked before, but not just before */
    noted(c.session_id, 5);
    /* a turn costs one script more than its own two (test_chat.c): the note */
    long evals = ts_redis_calls(&st.redis, "evalsha"),
         renewals = ts_redis_calls(&st.redis, "pexpire");
    ask_ok(&c, "c6", "Can I choose a bigger excess?");
    /* the sixth turn noted: whatever the fifth decided was stored before it */
    noted(c.session_id, 6);
    long scripts = (ts_redis_calls(&st.redis, "evalsha") - evals) -
                   (ts_redis_calls(&st.redis, "pexpire") - renewals);
    assert_int_equal(scripts, 3);
    field_is(c.session_id, "state", "bot");
    field_is(c.session_id, "escalation_reason", "(nil)");
    field_is(c.session_id, "signal_unsure", "1");
    field_is(c.session_id, "signal_misses", "0");
    ts_caller_close(&c);
}

/* Turns of one session answered by two instances: the counts are the session's, in Redis. */
static void test_across_instances(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/b", st.workdir);
    mkdir(dir, 0755);
    struct ts_parleyd other;
    assert_int_equal(ts_parleyd_start(&other, dir, &st.redis, &st.upstream, parleyd_args), 0);
    struct ts_caller a, b;
    /* unsure once here, once there */
    assert_int_equal(ts_caller_open(&a, st.parleyd.ws_url, NULL, 0, 0), 0);
    ask_ok(&a, "x1", "Is my windscreen covered for a stone chip? [[text:I'm not sure.]]");
    noted(a.session_id, 1);
    field_is(a.session_id, "state", "bot");
    assert_int_equal(ts_caller_open(&b, other.ws_url, a.token, 0, 0), 0);
    assert_string_equal(b.session_id, a.session_id);
    ask_ok(&b, "x2", "Will I get a courtesy car while my car is repaired? [[text:I don't know.]]");
    escalated(a.session_id, "the bot could not answer twice");
    ts_caller_close(&a);
    ts_caller_close(&b);
    /* asked here, asked again there */
    assert_int_equal(ts_caller_open(&a, other.ws_url, NULL, 0, 0), 0);
    ask_ok(&a, "y1", "How do I make a claim?");
    noted(a.session_id, 1);
    assert_int_equal(ts_caller_open(&b, st.parleyd.ws_url, a.token, 0, 0), 0);
    ask_ok(&b, "y2", "how do I make a claim");
    escalated(a.session_id, "the caller repeated a question");
    ts_caller_close(&a);
    ts_caller_close(&b);
    assert_int_equal(ts_parleyd_stop(&other), 0);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The desk's `list`: each session's state and reason as the agent sees them. */
static void list_shows(const char *sid, const char *state, const char *reason)
{
    struct ts_caller a;
    assert_int_equal(ts_agent_open(&a, st.parleyd.port, "agent", "ann", NULL), 0);
    assert_int_equal(ts_caller_send(&a, "{\"type\":\"list\"}"), 0);
    json_t *f = ts_caller_expect(&a, "sessions", 5000);
    assert_non_null(f);
    json_t *rows = json_object_get(f, "sessions"), *row = NULL;
    for (size_t i = 0; i < json_array_size(rows) && !row; i++)
        if (strcmp(str(json_array_get(rows, i), "session_id"), sid) == 0)
            row = json_array_get(rows, i);
    assert_non_null(row);
    assert_string_equal(str(row, "state"), state);
    if (reason)
        assert_string_equal(str(row, "reason"), reason);
    else
        assert_null(json_object_get(row, "reason"));
    json_decref(f);
    ts_caller_close(&a);
}

static void test_unavailable(void **state)
{
    (void)state;
    struct ts_caller c;
    char code[32];
    /* the upstream fails (no retry, no fallback): upstream_unavailable; its breaker opens */
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(down_sid, sizeof(down_sid), "%s", c.session_id);
    ask(&c, "d1", "Is glass covered? [[500]]", code, sizeof(code));
    assert_string_equal(code, "upstream_unavailable");
    escalated(c.session_id, "the assistant is unavailable");
    ts_caller_close(&c);
    /* every breaker open: the turn fails at once, no request, and escalates alike */
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    snprintf(open_sid, sizeof(open_sid), "%s", c.session_id);
    ask(&c, "o1", "Is glass covered? #allopen", code, sizeof(code));
    assert_string_equal(code, "upstream_unavailable");
    escalated(c.session_id, "the assistant is unavailable");
    assert_int_equal(ts_upstream_requests_with(&st.upstream, "#allopen"), 0);
    ts_caller_close(&c);

    /* the desk sees each with its reason; the calm one is the bot's with none */
    list_shows(unsure_sid, "waiting_agent", "the bot could not answer twice");
    list_shows(miss_sid, "waiting_agent", "no passage of the knowledge base matched twice");
    list_shows(repeat_sid, "waiting_agent", "the caller repeated a question");
    list_shows(down_sid, "waiting_agent", "the assistant is unavailable");
    list_shows(open_sid, "waiting_agent", "the assistant is unavailable");
    list_shows(calm_sid, "bot", NULL);
}

/* Offline (the local provider, no knowledge base): its answer says it cannot answer. */
static void test_offline_answer_is_unsure(void **state)
{
    (void)state;
    static const char *const offline[] = {"--local-pace-ms", "1", NULL};
    assert_int_equal(ts_parleyd_stop(&st.parleyd), 0);
    assert_int_equal(ts_parleyd_restart(&st.parleyd, st.workdir, &st.redis, NULL, offline), 0);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    ask_ok(&c, "f1", "Is glass covered?");
    noted(c.session_id, 1);
    field_is(c.session_id, "state", "bot");
    field_is(c.session_id, "signal_misses", "0"); /* no knowledge base: no miss */
    ask_ok(&c, "f2", "What about my excess?");
    escalated(c.session_id, "the bot could not answer twice");
    ts_caller_close(&c);
}

static void test_switched_off(void **state)
{
    (void)state;
    static const char *const off[] = {"--local-pace-ms", "1", "--escalation-signals", "none", NULL};
    assert_int_equal(ts_parleyd_stop(&st.parleyd), 0);
    /* an unknown signal stops parleyd at start */
    static const char *const bad[] = {"--escalation-signals", "unsure,sulky", NULL};
    struct ts_parleyd p;
    assert_int_not_equal(ts_parleyd_start(&p, st.workdir, &st.redis, NULL, bad), 0);
    assert_int_equal(ts_parleyd_restart(&st.parleyd, st.workdir, &st.redis, NULL, off), 0);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    for (int i = 0; i < 3; i++)
        ask_ok(&c, i == 0 ? "n1" : i == 1 ? "n2" : "n3", "Is glass covered?");
    /* nothing noted, nothing escalated: no signal is on, so no script runs */
    field_is(c.session_id, "signal_turn", "(nil)");
    field_is(c.session_id, "state", "bot");
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsure_twice),
        cmocka_unit_test(test_no_passages_twice_in_a_row),
        cmocka_unit_test(test_repeated_question),
        cmocka_unit_test(test_no_signal_stays_bot),
        cmocka_unit_test(test_across_instances),
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_offline_answer_is_unsure),
        cmocka_unit_test(test_switched_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
