/* The session store against a real redis-server, through its API: what the scripts store and
 * what they give back (docs/redis-keys.md): citations, how beginning a turn comes out (locked,
 * held elsewhere, already answered), the answer that covers a caller turn, and budget
 * reservations with the usage an answer adds to its session and its tenant's day. */
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
#include "sessions/session_store.h"
#include "tests/support/fixtures.h"
#include "tests/support/store_fixture.h"

static struct ts_store fx;

/* Run the loop until *done (at most 10 s). */
static void wait_for(const bool *done)
{
    assert_true(ts_run_until(&fx.loop, done, 10000));
}

static int setup(void **state)
{
    (void)state;
    return ts_store_start(&fx, "session_store");
}

static int teardown(void **state)
{
    (void)state;
    return ts_store_stop(&fx);
}

/* ---- blocking helpers ---- */

/* A transcript entry, copied out of the callback that lent it. */
struct entry_copy {
    char role[16];
    long turn;
    char *text;
    size_t text_len;
    char *citations;
    char stop_reason[32];
    long cache_creation_input_tokens;
    long long cost_micros;
};

static void copy_entry(struct entry_copy *out, const struct sess_entry *e)
{
    snprintf(out->role, sizeof(out->role), "%s", e->role);
    out->turn = e->turn;
    out->text = pl_malloc(e->text_len + 1);
    memcpy(out->text, e->text, e->text_len + 1);
    out->text_len = e->text_len;
    out->citations = pl_strdup(e->citations);
    snprintf(out->stop_reason, sizeof(out->stop_reason), "%s", e->stop_reason);
    out->cache_creation_input_tokens = e->cache_creation_input_tokens;
    out->cost_micros = e->cost_micros;
}

static void free_entry(struct entry_copy *e)
{
    pl_free(e->text);
    pl_free(e->citations);
    memset(e, 0, sizeof(*e));
}

struct opened {
    bool done;
    int status;
    struct sess_record rec;
    size_t n;
    struct entry_copy e[16];
};

static void on_opened(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct opened *o = ud;
    o->done = true;
    o->status = status;
    if (rec)
        o->rec = *rec;
    for (size_t i = 0; i < n && i < 16; i++)
        copy_entry(&o->e[o->n++], &entries[i]);
}

static void open_session(const char *sid, struct opened *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(sess_open(fx.store, sid, 16, on_opened, o), PL_OK);
    wait_for(&o->done);
}

static void opened_free(struct opened *o)
{
    for (size_t i = 0; i < o->n; i++)
        free_entry(&o->e[i]);
    o->n = 0;
}

struct appended {
    bool done;
    int status;
    long turn;
    bool duplicate;
    struct sess_turn_context *begun; /* taken from the callback */
};

static void on_appended(void *ud, struct sess_append_result *r)
{
    struct appended *a = ud;
    a->done = true;
    a->status = r->status;
    a->turn = r->turn;
    a->duplicate = r->duplicate;
    a->begun = r->begun;
}

static void append_begin(const char *sid, const char *client_id, const char *text,
                         const struct sess_begin_opts *begin, struct appended *a)
{
    memset(a, 0, sizeof(*a));
    assert_int_equal(sess_append_caller(fx.store, sid, NULL, client_id, text, strlen(text), begin,
                                        on_appended, a),
                     PL_OK);
    wait_for(&a->done);
    assert_int_equal(a->status, PL_OK);
}

static long append(const char *sid, const char *client_id, const char *text)
{
    struct appended a;
    append_begin(sid, client_id, text, NULL, &a);
    assert_false(a.duplicate);
    assert_null(a.begun);
    return a.turn;
}

static void append_agent(const char *sid, const char *text)
{
    struct ts_done d = {0};
    assert_int_equal(sess_append_agent(fx.store, sid, "ann", text, strlen(text), ts_on_done, &d),
                     PL_OK);
    wait_for(&d.done);
    assert_int_equal(d.status, PL_OK);
}

struct begun {
    bool done;
    struct sess_turn_context *ctx; /* taken from the callback */
};

static void on_begun(void *ud, struct sess_turn_context *ctx)
{
    struct begun *b = ud;
    b->done = true;
    b->ctx = ctx;
}

/* Begin caller turn `turn` for `owner`; the caller frees the context. */
static struct sess_turn_context *begin(const char *sid, const char *owner, long turn)
{
    struct sess_begin_opts o = {
        .owner = owner, .lock_ttl_ms = 15000, .max_entries = 10, .turn = turn};
    struct begun b = {0};
    assert_int_equal(sess_turn_begin(fx.store, sid, &o, on_begun, &b), PL_OK);
    wait_for(&b.done);
    assert_non_null(b.ctx);
    return b.ctx;
}

/* The answer that covers a turn, copied out. */
struct covering {
    bool done;
    int status;
    struct sess_record rec;
    bool has_answer;
    struct entry_copy answer;
};

static void on_covering(void *ud, int status, const struct sess_record *rec,
                        const struct sess_entry *answer, uint32_t retry_after_ms)
{
    (void)retry_after_ms;
    struct covering *c = ud;
    c->done = true;
    c->status = status;
    if (rec)
        c->rec = *rec;
    c->has_answer = answer != NULL;
    if (answer)
        copy_entry(&c->answer, answer);
}

static void covering_answer(const char *sid, long turn, struct covering *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(sess_turn_answer(fx.store, sid, turn, on_covering, c), PL_OK);
    wait_for(&c->done);
}

static char *lock_owner(const char *sid)
{
    char *x = ts_redis_query(&fx.redis, "GET parley:{%s}:lock", sid);
    assert_non_null(x);
    return x;
}

static int end_turn(const char *sid, const char *owner, const struct sess_answer *a)
{
    struct ts_done d = {0};
    assert_int_equal(sess_turn_end(fx.store, sid, owner, a, ts_on_done, &d), PL_OK);
    wait_for(&d.done);
    return d.status;
}

static char *transcript(const char *sid)
{
    char *x = ts_redis_query(&fx.redis, "XRANGE parley:{%s}:transcript - +", sid);
    assert_non_null(x);
    return x;
}

static void answer(const char *sid, const char *owner, long turn, const char *text)
{
    struct sess_answer a = {
        .turn = turn, .text = text, .text_len = strlen(text), .stop_reason = "end_turn"};
    assert_int_equal(end_turn(sid, owner, &a), PL_OK);
}

/* ---- citations ---- */

static void test_citations_are_stored_with_the_answer_and_read_back(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(append(sid, "c1", "is flood covered?"), 1);
    static const char cites[] =
        "[{\"source\":\"kb/flood.md\",\"title\":\"Flood \\u00e9\"},{\"source\":\"kb/x.md\","
        "\"title\":\"X\"}]";
    struct sess_answer a = {
        .turn = 1, .text = "yes", .text_len = 3, .stop_reason = "end_turn", .citations = cites};
    assert_int_equal(end_turn(sid, "owner-a", &a), PL_OK);
    assert_int_equal(append(sid, "c2", "and fire?"), 2);
    struct sess_answer b = {.turn = 2, .text = "no", .text_len = 2, .stop_reason = "end_turn"};
    assert_int_equal(end_turn(sid, "owner-a", &b), PL_OK);

    struct opened o;
    open_session(sid, &o);
    assert_int_equal(o.status, PL_OK);
    assert_int_equal(o.n, 4);
    assert_string_equal(o.e[1].role, "assistant");
    assert_string_equal(o.e[1].citations, cites);
    assert_string_equal(o.e[0].citations, "");
    assert_string_equal(o.e[3].role, "assistant");
    assert_string_equal(o.e[3].text, "no");
    assert_string_equal(o.e[3].citations, "");
    opened_free(&o);

    /* The field is in the stream only when there are citations. */
    char *x = transcript(sid);
    assert_non_null(strstr(x, "citations\n[{\"source\":\"kb/flood.md\""));
    const char *first = strstr(x, "citations");
    assert_null(strstr(first + 1, "citations"));
    pl_free(x);
}

/* ---- beginning a turn ---- */

static void test_begin_locks_reenters_and_is_held_elsewhere(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(append(sid, "c1", "hello"), 1);

    struct sess_turn_context *a = begin(sid, "owner-a", 1);
    assert_int_equal(a->status, PL_OK);
    assert_int_equal(a->result, SESS_BEGIN_LOCKED);
    assert_string_equal(a->rec.id, sid);
    assert_int_equal(a->rec.turns, 1);
    assert_int_equal(a->rec.answered, 0);
    assert_int_equal(a->n, 1);
    assert_string_equal(a->entries[0].role, "caller");
    assert_string_equal(a->entries[0].text, "hello");
    assert_null(a->answer);
    char *owner = lock_owner(sid);
    assert_string_equal(owner, "owner-a");
    pl_free(owner);

    struct sess_turn_context *b = begin(sid, "owner-b", 1);
    assert_int_equal(b->status, PL_OK);
    assert_int_equal(b->result, SESS_BEGIN_HELD_ELSEWHERE);
    assert_int_equal(b->n, 0);
    assert_null(b->entries);
    assert_null(b->answer);
    sess_turn_context_free(b);

    struct sess_turn_context *again = begin(sid, "owner-a", 1); /* re-entrant */
    assert_int_equal(again->result, SESS_BEGIN_LOCKED);
    sess_turn_context_free(again);
    sess_turn_context_free(a); /* kept past its callback */
    sess_turn_context_free(NULL);
}

static void test_begin_of_an_answered_turn_takes_no_lock(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(append(sid, "c1", "first"), 1);
    sess_turn_context_free(begin(sid, "owner-a", 1));
    answer(sid, "owner-a", 1, "answer one");
    assert_int_equal(append(sid, "c2", "second"), 2);
    struct sess_turn_context *b = begin(sid, "owner-b", 2);
    assert_int_equal(b->result, SESS_BEGIN_LOCKED);
    sess_turn_context_free(b);

    /* Turn 1 is answered: owner-a learns it with the answer, though owner-b holds the lock. */
    struct sess_turn_context *a = begin(sid, "owner-a", 1);
    assert_int_equal(a->status, PL_OK);
    assert_int_equal(a->result, SESS_BEGIN_ANSWERED);
    assert_int_equal(a->rec.answered, 1);
    assert_int_equal(a->rec.turns, 2);
    assert_int_equal(a->n, 0);
    assert_null(a->entries);
    assert_non_null(a->answer);
    assert_string_equal(a->answer->role, "assistant");
    assert_int_equal(a->answer->turn, 1);
    assert_string_equal(a->answer->text, "answer one");
    sess_turn_context_free(a);
    char *owner = lock_owner(sid);
    assert_string_equal(owner, "owner-b");
    pl_free(owner);
}

static void test_append_begins_the_new_turn_in_the_same_call(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    struct sess_begin_opts o = {
        .owner = "owner-a", .lock_ttl_ms = 15000, .max_entries = 10, .turn = 99 /* ignored */};
    struct appended a;
    append_begin(sid, "c1", "question one", &o, &a);
    assert_int_equal(a.turn, 1);
    assert_false(a.duplicate);
    assert_non_null(a.begun);
    assert_int_equal(a.begun->status, PL_OK);
    assert_int_equal(a.begun->result, SESS_BEGIN_LOCKED);
    assert_int_equal(a.begun->rec.turns, 1);
    assert_int_equal(a.begun->n, 1);
    assert_string_equal(a.begun->entries[0].text, "question one");
    sess_turn_context_free(a.begun);

    append_begin(sid, "c1", "question one", &o, &a); /* the same client id again */
    assert_true(a.duplicate);
    assert_int_equal(a.turn, 1);
    assert_null(a.begun);

    o.owner = "owner-b";
    append_begin(sid, "c2", "question two", &o, &a);
    assert_int_equal(a.turn, 2);
    assert_non_null(a.begun);
    assert_int_equal(a.begun->status, PL_OK);
    assert_int_equal(a.begun->result, SESS_BEGIN_HELD_ELSEWHERE);
    sess_turn_context_free(a.begun);
}

static void test_begin_of_a_missing_session(void **state)
{
    (void)state;
    struct sess_turn_context *c = begin("00000000000000000000000000000000", "owner-a", 1);
    assert_int_equal(c->status, PL_ENOTFOUND);
    assert_int_equal(c->n, 0);
    assert_null(c->entries);
    assert_null(c->answer);
    sess_turn_context_free(c);
}

/* ---- the covering answer ---- */

static void expect_covered_by(const char *sid, long turn, long answer_turn, const char *text)
{
    struct covering c;
    covering_answer(sid, turn, &c);
    assert_int_equal(c.status, PL_OK);
    assert_string_equal(c.rec.id, sid);
    assert_true(c.has_answer);
    assert_string_equal(c.answer.role, "assistant");
    assert_int_equal(c.answer.turn, answer_turn);
    assert_string_equal(c.answer.text, text);
    free_entry(&c.answer);
}

static void test_covering_answer_of_each_turn(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    struct covering c;
    covering_answer("00000000000000000000000000000000", 1, &c);
    assert_int_equal(c.status, PL_ENOTFOUND);

    /* Two messages, one answer for both (the prompt of turn 2 held them both). */
    assert_int_equal(append(sid, "c1", "one"), 1);
    covering_answer(sid, 1, &c);
    assert_int_equal(c.status, PL_OK);
    assert_int_equal(c.rec.turns, 1);
    assert_false(c.has_answer); /* not answered yet */
    assert_int_equal(append(sid, "c2", "two"), 2);
    answer(sid, "owner-a", 2, "answer to one and two");
    /* Two messages answered one by one, the second sent while the first was answered. */
    assert_int_equal(append(sid, "c3", "three"), 3);
    assert_int_equal(append(sid, "c4", "four"), 4);
    answer(sid, "owner-a", 3, "answer to three");
    answer(sid, "owner-a", 4, "answer to four");
    assert_int_equal(append(sid, "c5", "five"), 5);

    expect_covered_by(sid, 1, 2, "answer to one and two");
    expect_covered_by(sid, 2, 2, "answer to one and two");
    expect_covered_by(sid, 3, 3, "answer to three");
    expect_covered_by(sid, 4, 4, "answer to four");
    covering_answer(sid, 5, &c);
    assert_int_equal(c.status, PL_OK);
    assert_int_equal(c.rec.answered, 4);
    assert_false(c.has_answer);
}

static void test_covering_answer_far_back_and_gone(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(append(sid, "c1", "one"), 1);
    answer(sid, "owner-a", 1, "answer one");
    for (int i = 0; i < 150; i++) /* more than two pages of the scan */
        append_agent(sid, "an agent's note");
    expect_covered_by(sid, 1, 1, "answer one");
    struct sess_turn_context *ctx = begin(sid, "owner-a", 1);
    assert_int_equal(ctx->result, SESS_BEGIN_ANSWERED);
    assert_non_null(ctx->answer);
    assert_string_equal(ctx->answer->text, "answer one");
    sess_turn_context_free(ctx);

    /* Read only: the session's expiry is not refreshed. */
    pl_free(ts_redis_query(&fx.redis, "PEXPIRE parley:{%s}:session 100000", sid));
    expect_covered_by(sid, 1, 1, "answer one");
    char *pttl = ts_redis_query(&fx.redis, "PTTL parley:{%s}:session", sid);
    long left = strtol(pttl, NULL, 10);
    pl_free(pttl);
    assert_true(left > 0 && left <= 100000);

    /* The transcript no longer holds the answer: answered, but no answer to give. */
    pl_free(ts_redis_query(&fx.redis, "XTRIM parley:{%s}:transcript MAXLEN 0", sid));
    struct covering c;
    covering_answer(sid, 1, &c);
    assert_int_equal(c.status, PL_OK);
    assert_int_equal(c.rec.answered, 1);
    assert_false(c.has_answer);
    ctx = begin(sid, "owner-a", 1);
    assert_int_equal(ctx->status, PL_OK);
    assert_int_equal(ctx->result, SESS_BEGIN_ANSWERED);
    assert_null(ctx->answer);
    sess_turn_context_free(ctx);
}

/* ---- budget reservations (docs/cost.md) ---- */

struct reserved {
    bool done;
    int status;
    enum sess_reserve_result result;
    bool warn;
};

static void on_reserved(void *ud, int status, enum sess_reserve_result result, bool warn)
{
    struct reserved *r = ud;
    r->done = true;
    r->status = status;
    r->result = result;
    r->warn = warn;
}

static struct reserved reserve(const char *member, unsigned long long tokens,
                               unsigned long long micros, unsigned long long budget_tokens,
                               unsigned long long budget_micros)
{
    struct sess_reservation r = {.tenant = "t1",
                                 .day = "2026-01-02",
                                 .member = member,
                                 .expires_ms = (long long)time(NULL) * 1000 + 60000,
                                 .tokens = tokens,
                                 .micros = micros,
                                 .budget_tokens = budget_tokens,
                                 .budget_micros = budget_micros,
                                 .warn_percent = 50};
    struct reserved out = {0};
    assert_int_equal(sess_reserve(fx.store, &r, on_reserved, &out), PL_OK);
    wait_for(&out.done);
    assert_int_equal(out.status, PL_OK);
    return out;
}

static struct sess_tenant_day day_of(const char *tenant, const char *day);

/* Reserving is atomic against both budgets, a resent reservation holds once, and the answer's
 * store settles it and adds the real usage to the session and the tenant's day. */
static void test_reservations_hold_budgets_and_settle_with_the_answer(void **state)
{
    (void)state;
    struct reserved r = reserve("s:1:60:600", 60, 600, 100, 1000);
    assert_int_equal(r.result, SESS_RESERVED);
    assert_false(r.warn);
    r = reserve("s:1:60:600", 60, 600, 100, 1000); /* resent: held once */
    assert_int_equal(r.result, SESS_RESERVED);
    assert_int_equal(day_of("t1", "2026-01-02").reserved_tokens, 60);
    assert_int_equal(reserve("s:2:41:0", 41, 0, 100, 1000).result, SESS_REFUSED_TOKENS);
    assert_int_equal(reserve("s:2:40:401", 40, 401, 100, 1000).result, SESS_REFUSED_USD);
    assert_int_equal(reserve("s:2:40:400", 40, 400, 100, 1000).result, SESS_RESERVED);

    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    assert_int_equal(append(sid, "c1", "hello"), 1);
    struct sess_answer a = {.turn = 1,
                            .text = "hi",
                            .text_len = 2,
                            .stop_reason = "end_turn",
                            .input_tokens = 20,
                            .output_tokens = 5,
                            .cache_read_input_tokens = 0,
                            .cache_creation_input_tokens = 30,
                            .cost_micros = 250,
                            .tenant = "t1",
                            .day = "2026-01-02",
                            .reservation = "s:1:60:600"};
    assert_int_equal(end_turn(sid, "owner-a", &a), PL_OK);
    assert_int_equal(end_turn(sid, "owner-a", &a), PL_OK); /* a retried store counts once */
    struct sess_tenant_day d = day_of("t1", "2026-01-02");
    assert_int_equal(d.used.input_tokens, 20);
    assert_int_equal(d.used.output_tokens, 5);
    assert_int_equal(d.used.cache_read_input_tokens, 0);
    assert_int_equal(d.used.cache_creation_input_tokens, 30);
    assert_int_equal(d.used.cost_micros, 250);
    assert_int_equal(d.turns, 1);
    assert_int_equal(d.reserved_tokens, 40); /* s:2 still held */
    assert_int_equal(d.reserved_micros, 400);
    /* 55 used of 100: past the warning's 50%, said once. */
    assert_int_equal(reserve("s:3:5:0", 5, 0, 100, 1000).warn, true);
    assert_int_equal(reserve("s:4:0:0", 0, 0, 100, 1000).warn, false);
    /* Unreserving what no answer settles frees it; doing it again changes nothing. */
    struct ts_done done = {0};
    assert_int_equal(sess_unreserve(fx.store, "t1", "2026-01-02", "s:2:40:400", ts_on_done, &done),
                     PL_OK);
    wait_for(&done.done);
    done.done = false;
    assert_int_equal(sess_unreserve(fx.store, "t1", "2026-01-02", "s:2:40:400", ts_on_done, &done),
                     PL_OK);
    wait_for(&done.done);
    d = day_of("t1", "2026-01-02");
    assert_int_equal(d.reserved_tokens, 5);
    assert_int_equal(d.reserved_micros, 0);
    assert_true(d.warned);
    /* The session's own totals. */
    struct opened o;
    open_session(sid, &o);
    assert_int_equal(o.rec.usage.input_tokens, 20);
    assert_int_equal(o.rec.usage.cache_creation_input_tokens, 30);
    assert_int_equal(o.rec.usage.cost_micros, 250);
    assert_string_equal(o.rec.tenant, "anonymous"); /* new_session gives no tenant */
    assert_int_equal(o.e[1].cache_creation_input_tokens, 30);
    assert_int_equal(o.e[1].cost_micros, 250);
    opened_free(&o);
}

static void test_tenant_names(void **state)
{
    (void)state;
    char out[SESS_TENANT_MAX + 1];
    sess_tenant_name(out, "acme-corp.eu@x:1+2_3");
    assert_string_equal(out, "acme-corp.eu@x:1+2_3");
    sess_tenant_name(out, "a}b{c d\n");
    assert_string_equal(out, "a_b_c_d_");
    sess_tenant_name(out, NULL);
    assert_string_equal(out, "anonymous");
    sess_tenant_name(out, "");
    assert_string_equal(out, "anonymous");
    char longer[300];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    sess_tenant_name(out, longer);
    assert_int_equal(strlen(out), SESS_TENANT_MAX);
}

struct day_read {
    bool done;
    int status;
    struct sess_tenant_day d;
};

static void on_day(void *ud, int status, const struct sess_tenant_day *d)
{
    struct day_read *r = ud;
    r->done = true;
    r->status = status;
    if (d)
        r->d = *d;
}

static struct sess_tenant_day day_of(const char *tenant, const char *day)
{
    struct day_read r = {0};
    assert_int_equal(sess_tenant_usage(fx.store, tenant, day, on_day, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.status, PL_OK);
    return r.d;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_citations_are_stored_with_the_answer_and_read_back),
        cmocka_unit_test(test_begin_locks_reenters_and_is_held_elsewhere),
        cmocka_unit_test(test_begin_of_an_answered_turn_takes_no_lock),
        cmocka_unit_test(test_append_begins_the_new_turn_in_the_same_call),
        cmocka_unit_test(test_begin_of_a_missing_session),
        cmocka_unit_test(test_covering_answer_of_each_turn),
        cmocka_unit_test(test_covering_answer_far_back_and_gone),
        cmocka_unit_test(test_reservations_hold_budgets_and_settle_with_the_answer),
        cmocka_unit_test(test_tenant_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
