/* The policy source's cache (connectors/policy_source.h) over a scripted implementation: a
 * record kept for the TTL and read again after it, a missing record kept for the shorter
 * time, failures never kept, lookups of one number in flight sharing one read, the least
 * recently used record dropped at the bound, a TTL of 0 keeping nothing, stop ending reads in
 * flight with PL_ECANCELED, and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/policy_source.h"

/* The implementation: each read waits until the test answers it. */
struct pending {
    char number[65];
    policy_source_cb cb;
    void *ud;
    bool open;
};

static struct pending reads[16];
static size_t n_reads;
static bool refuse;

static int fake_get(void *impl, const char *number, policy_source_cb cb, void *ud)
{
    (void)impl;
    if (refuse)
        return PL_EBUSY;
    assert_true(n_reads < 16);
    struct pending *p = &reads[n_reads++];
    snprintf(p->number, sizeof p->number, "%s", number);
    p->cb = cb;
    p->ud = ud;
    p->open = true;
    return PL_OK;
}

static void fake_stop(void *impl)
{
    (void)impl;
    for (size_t i = 0; i < n_reads; i++)
        if (reads[i].open) {
            reads[i].open = false;
            reads[i].cb(reads[i].ud, PL_ECANCELED, NULL, 0);
        }
}

static const struct policy_source_ops fake_ops = {
    .kind = "fake", .get = fake_get, .stop = fake_stop};

static void answer(size_t i, int status, const char *record)
{
    assert_true(reads[i].open);
    reads[i].open = false;
    reads[i].cb(reads[i].ud, status, record, record ? strlen(record) : 0);
}

/* What a caller was told. */
struct told {
    int calls;
    int status;
    char record[128];
};

static void on_told(void *ud, int status, const char *record, size_t len)
{
    struct told *t = ud;
    t->calls++;
    t->status = status;
    snprintf(t->record, sizeof t->record, "%.*s", (int)len, record ? record : "");
}

static uv_loop_t loop;

static void on_wait(uv_timer_t *t)
{
    (void)t;
}

/* Let `ms` of loop time pass (the cache reads the loop's clock). */
static void pass(uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_wait, ms, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
}

static struct policy_source *make(uint32_t ttl, uint32_t neg, uint32_t entries)
{
    memset(reads, 0, sizeof reads);
    n_reads = 0;
    refuse = false;
    const struct policy_cache_opts c = {ttl, neg, entries};
    return policy_source_new(&loop, &fake_ops, NULL, &c, "the fake", false);
}

static int setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    return uv_loop_close(&loop);
}

static void test_kept_for_the_ttl(void **state)
{
    (void)state;
    struct policy_source *src = make(60, 20, 10);
    struct told a = {0}, b = {0}, c = {0};
    assert_int_equal(policy_source_get(src, "POL-1", on_told, &a), PL_OK);
    assert_int_equal(n_reads, 1);
    assert_int_equal(a.calls, 0);
    answer(0, PL_OK, "{\"a\":1}");
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, PL_OK);
    assert_string_equal(a.record, "{\"a\":1}");
    /* a hit is told before get returns */
    assert_int_equal(policy_source_get(src, "POL-1", on_told, &b), PL_OK);
    assert_int_equal(b.calls, 1);
    assert_string_equal(b.record, "{\"a\":1}");
    assert_int_equal(n_reads, 1);
    pass(70);
    assert_int_equal(policy_source_get(src, "POL-1", on_told, &c), PL_OK);
    assert_int_equal(n_reads, 2);
    assert_int_equal(c.calls, 0);
    answer(1, PL_OK, "{\"a\":2}");
    assert_string_equal(c.record, "{\"a\":2}");
    struct policy_source_stats st;
    policy_source_stats(src, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 1);
    assert_false(policy_source_writable(src));
    assert_string_equal(policy_source_kind(src), "fake");
    assert_string_equal(policy_source_description(src), "the fake");
    policy_source_stop(src);
    policy_source_free(src);
}

static void test_missing_kept_shorter_and_failures_not_kept(void **state)
{
    (void)state;
    struct policy_source *src = make(10000, 30, 10);
    struct told a = {0};
    policy_source_get(src, "POL-2", on_told, &a);
    answer(0, PL_ENOTFOUND, NULL);
    assert_int_equal(a.status, PL_ENOTFOUND);
    policy_source_get(src, "POL-2", on_told, &a);
    assert_int_equal(a.calls, 2);
    assert_int_equal(a.status, PL_ENOTFOUND);
    assert_int_equal(n_reads, 1);
    pass(40);
    policy_source_get(src, "POL-2", on_told, &a);
    assert_int_equal(n_reads, 2);
    answer(1, PL_EUPSTREAM, NULL);
    assert_int_equal(a.calls, 3);
    assert_int_equal(a.status, PL_EUPSTREAM);
    policy_source_get(src, "POL-2", on_told, &a);
    assert_int_equal(n_reads, 3); /* the failure was not kept */
    answer(2, PL_OK, "{}");
    struct policy_source_stats st;
    policy_source_stats(src, &st);
    assert_int_equal(st.failures, 1);
    policy_source_free(src);
}

static void test_reads_in_flight_are_shared(void **state)
{
    (void)state;
    struct policy_source *src = make(1000, 100, 10);
    struct told t[3] = {{0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(policy_source_get(src, "POL-3", on_told, &t[i]), PL_OK);
    assert_int_equal(n_reads, 1);
    answer(0, PL_OK, "{\"x\":true}");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_string_equal(t[i].record, "{\"x\":true}");
    }
    struct policy_source_stats st;
    policy_source_stats(src, &st);
    assert_int_equal(st.shared, 2);
    assert_int_equal(st.misses, 1);
    policy_source_free(src);
}

static void test_least_recently_used_goes(void **state)
{
    (void)state;
    struct policy_source *src = make(100000, 100, 2);
    struct told t = {0};
    policy_source_get(src, "A", on_told, &t);
    answer(0, PL_OK, "{\"n\":\"A\"}");
    policy_source_get(src, "B", on_told, &t);
    answer(1, PL_OK, "{\"n\":\"B\"}");
    policy_source_get(src, "A", on_told, &t); /* A is now the more recent */
    assert_int_equal(n_reads, 2);
    policy_source_get(src, "C", on_told, &t); /* B goes */
    answer(2, PL_OK, "{\"n\":\"C\"}");
    policy_source_get(src, "A", on_told, &t);
    assert_int_equal(n_reads, 3);
    policy_source_get(src, "B", on_told, &t);
    assert_int_equal(n_reads, 4);
    assert_string_equal(reads[3].number, "B");
    answer(3, PL_OK, "{}");
    struct policy_source_stats st;
    policy_source_stats(src, &st);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.entries, 2);
    policy_source_free(src);
}

static void test_ttl_zero_keeps_nothing(void **state)
{
    (void)state;
    struct policy_source *src = make(0, 0, 10);
    struct told a = {0}, b = {0};
    policy_source_get(src, "POL-4", on_told, &a);
    policy_source_get(src, "POL-4", on_told, &b); /* still shared while in flight */
    assert_int_equal(n_reads, 1);
    answer(0, PL_OK, "{}");
    assert_int_equal(a.calls + b.calls, 2);
    policy_source_get(src, "POL-4", on_told, &a);
    assert_int_equal(n_reads, 2);
    answer(1, PL_OK, "{}");
    struct policy_source_stats st;
    policy_source_stats(src, &st);
    assert_int_equal(st.entries, 0);
    policy_source_free(src);
}

static void test_refusals_and_stop(void **state)
{
    (void)state;
    struct policy_source *src = make(1000, 100, 10);
    struct told a = {0}, b = {0};
    assert_int_equal(policy_source_get(src, "", on_told, &a), PL_EINVAL);
    char long_number[80];
    memset(long_number, '1', 65);
    long_number[65] = '\0';
    assert_int_equal(policy_source_get(src, long_number, on_told, &a), PL_EINVAL);
    refuse = true;
    assert_int_equal(policy_source_get(src, "POL-5", on_told, &a), PL_EBUSY);
    refuse = false;
    assert_int_equal(a.calls, 0);
    assert_int_equal(policy_source_get(src, "POL-5", on_told, &a), PL_OK);
    assert_int_equal(policy_source_get(src, "POL-5", on_told, &b), PL_OK);
    policy_source_stop(src);
    assert_int_equal(a.status, PL_ECANCELED);
    assert_int_equal(b.status, PL_ECANCELED);
    assert_int_equal(policy_source_get(src, "POL-5", on_told, &a), PL_ECLOSED);
    struct pl_buf m;
    pl_buf_init(&m, 1 << 20);
    policy_source_metrics(src, &m);
    assert_non_null(
        strstr(m.data, "parley_policy_lookups_total{source=\"fake\",cache=\"miss\"} 1\n"));
    assert_non_null(
        strstr(m.data, "parley_policy_lookups_total{source=\"fake\",cache=\"shared\"} 1\n"));
    assert_non_null(strstr(m.data, "parley_policy_lookup_failures_total{source=\"fake\"} 1\n"));
    pl_buf_cleanup(&m);
    policy_source_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_for_the_ttl),
        cmocka_unit_test(test_missing_kept_shorter_and_failures_not_kept),
        cmocka_unit_test(test_reads_in_flight_are_shared),
        cmocka_unit_test(test_least_recently_used_goes),
        cmocka_unit_test(test_ttl_zero_keeps_nothing),
        cmocka_unit_test(test_refusals_and_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
