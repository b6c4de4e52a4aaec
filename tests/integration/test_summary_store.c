/* The session store's conversation summaries against a real redis-server (sessions/
 * session_store.h, docs/redis-keys.md): a summary is stored only when it covers more turns than
 * the stored one (never stepped back), its call's usage is counted to the session and its
 * tenant's day as a summary either way, and turn contexts and sess_summary_read give it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
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
    return ts_store_start(&fx, "summary_store");
}

static int teardown(void **state)
{
    (void)state;
    return ts_store_stop(&fx);
}

struct stored {
    bool done;
    int status;
    enum sess_summary_result result;
};

static void on_stored(void *ud, int status, enum sess_summary_result result)
{
    struct stored *s = ud;
    s->done = true;
    s->status = status;
    s->result = result;
}

/* Store `text` through `through` with 10 input and 5 output tokens costing 7 micros, counted
 * to tenant acme on 2026-11-30; the status, and the result in *result. */
static int put(const char *sid, long through, const char *text, enum sess_summary_result *result)
{
    const struct sess_summary sum = {.through = through,
                                     .text = text,
                                     .text_len = strlen(text),
                                     .model = "m1",
                                     .input_tokens = 10,
                                     .output_tokens = 5,
                                     .cost_micros = 7,
                                     .tenant = "acme",
                                     .day = "2026-11-30"};
    struct stored s = {0};
    assert_int_equal(sess_summary_store(fx.store, sid, &sum, on_stored, &s), PL_OK);
    wait_for(&s.done);
    *result = s.result;
    return s.status;
}

static void expect_field(const char *key, const char *field, const char *want)
{
    char *v = ts_redis_query(&fx.redis, "HGET %s %s", key, field);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

struct read {
    bool done;
    struct sess_turn_context *ctx;
};

static void on_read(void *ud, struct sess_turn_context *ctx)
{
    struct read *r = ud;
    r->done = true;
    r->ctx = ctx;
}

static void test_stored_only_forward_and_counted(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    char key[96];
    snprintf(key, sizeof(key), "parley:{%s}:session", sid);
    const char *day = "parley:tenant:{acme}:usage:2026-11-30";

    /* None yet. */
    struct read r = {0};
    assert_int_equal(sess_summary_read(fx.store, sid, 10, on_read, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.ctx->status, PL_OK);
    assert_null(r.ctx->summary);
    assert_int_equal(r.ctx->rec.summary_through, 0);
    sess_turn_context_free(r.ctx);

    enum sess_summary_result result;
    assert_int_equal(put(sid, 3, "Through three.", &result), PL_OK);
    assert_int_equal(result, SESS_SUMMARY_STORED);
    expect_field(key, "summary", "Through three.");
    expect_field(key, "summary_through", "3");
    expect_field(key, "summary_model", "m1");
    expect_field(key, "usage_input_tokens", "10");
    expect_field(key, "usage_output_tokens", "5");
    expect_field(key, "usage_cost_micros", "7");
    expect_field(day, "input_tokens", "10");
    expect_field(day, "summaries", "1");
    expect_field(day, "turns", "(nil)");

    /* An older or equal one is not stored (another instance got further), but it was paid. */
    assert_int_equal(put(sid, 2, "Through two.", &result), PL_OK);
    assert_int_equal(result, SESS_SUMMARY_STALE);
    assert_int_equal(put(sid, 3, "Three again.", &result), PL_OK);
    assert_int_equal(result, SESS_SUMMARY_STALE);
    expect_field(key, "summary", "Through three.");
    expect_field(key, "summary_through", "3");
    expect_field(key, "usage_input_tokens", "30");
    expect_field(day, "summaries", "3");
    expect_field(day, "cost_micros", "21");

    assert_int_equal(put(sid, 5, "Through five.", &result), PL_OK);
    assert_int_equal(result, SESS_SUMMARY_STORED);
    r.done = false;
    assert_int_equal(sess_summary_read(fx.store, sid, 10, on_read, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.ctx->status, PL_OK);
    assert_string_equal(r.ctx->summary, "Through five.");
    assert_int_equal(r.ctx->rec.summary_through, 5);
    sess_turn_context_free(r.ctx);
}

struct appended {
    bool done;
    int status;
};

static void on_appended(void *ud, struct sess_append_result *r)
{
    struct appended *a = ud;
    a->done = true;
    a->status = r->status;
    sess_turn_context_free(r->begun);
}

static void test_turn_context_carries_it(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(ts_store_new_session(&fx, sid), PL_OK);
    enum sess_summary_result result;
    assert_int_equal(put(sid, 1, "Ada asked about glass.", &result), PL_OK);
    struct appended a = {0};
    assert_int_equal(
        sess_append_caller(fx.store, sid, NULL, "c1", "hello", 5, NULL, on_appended, &a), PL_OK);
    wait_for(&a.done);
    assert_int_equal(a.status, PL_OK);
    const struct sess_begin_opts o = {
        .owner = "me", .lock_ttl_ms = 5000, .max_entries = 10, .turn = 1};
    struct read r = {0};
    assert_int_equal(sess_turn_begin(fx.store, sid, &o, on_read, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.ctx->status, PL_OK);
    assert_int_equal(r.ctx->result, SESS_BEGIN_LOCKED);
    assert_string_equal(r.ctx->summary, "Ada asked about glass.");
    assert_int_equal(r.ctx->rec.summary_through, 1);
    sess_turn_context_free(r.ctx);
}

static void test_no_session(void **state)
{
    (void)state;
    const char *sid = "0123456789abcdef0123456789abcdef";
    enum sess_summary_result result;
    assert_int_equal(put(sid, 2, "Nobody.", &result), PL_ENOTFOUND);
    char *v = ts_redis_query(&fx.redis, "EXISTS parley:{%s}:session", sid);
    assert_string_equal(v, "0");
    free(v);
    const struct sess_summary bad = {.through = 0, .text = "x"};
    assert_int_equal(sess_summary_store(fx.store, sid, &bad, NULL, NULL), PL_EINVAL);
    assert_int_equal(sess_summary_store(fx.store, "nope", &bad, NULL, NULL), PL_EINVAL);
    struct read r = {0};
    assert_int_equal(sess_summary_read(fx.store, sid, 10, on_read, &r), PL_OK);
    wait_for(&r.done);
    assert_int_equal(r.ctx->status, PL_ENOTFOUND);
    sess_turn_context_free(r.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_only_forward_and_counted),
        cmocka_unit_test(test_turn_context_carries_it),
        cmocka_unit_test(test_no_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
