/* The session store against a real redis-server, through its API: what the scripts store and
 * what they give back (docs/redis-keys.md). */
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

static struct ts_redis redis;
static uv_loop_t loop;
static struct sess_store *store;

/* Run the loop until *done (at most 10 s). */
static void wait_for(const bool *done)
{
    for (uint64_t end = uv_now(&loop) + 10000; !*done && uv_now(&loop) < end;)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(*done);
}

static void on_store_state(void *ud, bool up)
{
    *(bool *)ud = up;
}

static bool store_up;

static int setup(void **state)
{
    (void)state;
    if (ts_redis_start(&redis, ts_workdir("session_store")))
        return -1;
    uv_loop_init(&loop);
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis.port);
    struct sess_store_opts opts = {.redis_url = url, .ttl_s = 3600};
    if (sess_store_create(&loop, &opts, on_store_state, &store_up, &store, err, sizeof(err)))
        return -1;
    for (uint64_t end = uv_now(&loop) + 10000; !store_up && uv_now(&loop) < end;)
        uv_run(&loop, UV_RUN_ONCE);
    return store_up ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sess_store_destroy(store);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    ts_redis_stop(&redis);
    return rc == 0 ? 0 : -1;
}

/* ---- blocking helpers ---- */

struct created {
    bool done;
    int status;
    char sid[SESS_ID_LEN + 1];
};

static void on_created(void *ud, int status, const struct sess_record *rec)
{
    struct created *c = ud;
    c->done = true;
    c->status = status;
    if (rec)
        snprintf(c->sid, sizeof(c->sid), "%s", rec->id);
}

static void new_session(char sid[SESS_ID_LEN + 1])
{
    struct created c = {0};
    assert_int_equal(sess_create(store, "web", NULL, on_created, &c), PL_OK);
    wait_for(&c.done);
    assert_int_equal(c.status, PL_OK);
    memcpy(sid, c.sid, SESS_ID_LEN + 1);
}

/* A transcript entry, copied out of the callback that lent it. */
struct entry_copy {
    char role[16];
    long turn;
    char *text;
    size_t text_len;
    char *citations;
    char stop_reason[32];
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
    assert_int_equal(sess_open(store, sid, 16, on_opened, o), PL_OK);
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
};

static void on_appended(void *ud, int status, long turn, bool duplicate,
                        struct sess_turn_context *begun)
{
    struct appended *a = ud;
    a->done = true;
    a->status = status;
    a->turn = turn;
    a->duplicate = duplicate;
    assert_null(begun);
}

static long append(const char *sid, const char *client_id, const char *text)
{
    struct appended a = {0};
    assert_int_equal(
        sess_append_caller(store, sid, client_id, text, strlen(text), NULL, on_appended, &a),
        PL_OK);
    wait_for(&a.done);
    assert_int_equal(a.status, PL_OK);
    assert_false(a.duplicate);
    return a.turn;
}

struct done {
    bool done;
    int status;
};

static void on_done(void *ud, int status)
{
    struct done *d = ud;
    d->done = true;
    d->status = status;
}

static int end_turn(const char *sid, const char *owner, const struct sess_answer *a)
{
    struct done d = {0};
    assert_int_equal(sess_turn_end(store, sid, owner, a, on_done, &d), PL_OK);
    wait_for(&d.done);
    return d.status;
}

static char *transcript(const char *sid)
{
    char *x = ts_redis_query(&redis, "XRANGE parley:{%s}:transcript - +", sid);
    assert_non_null(x);
    return x;
}

/* ---- citations ---- */

static void test_citations_are_stored_with_the_answer_and_read_back(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    new_session(sid);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_citations_are_stored_with_the_answer_and_read_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
