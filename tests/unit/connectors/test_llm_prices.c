/* Prices and costs (docs/cost.md): exact micro-dollars from integer arithmetic, the longest
 * model id that matches, a price file's mistakes named, dollar amounts read exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/llm_prices.h"

static void test_builtin_sonnet_turn(void **state)
{
    (void)state;
    struct llm_price_table *t = llm_prices_default();
    const struct llm_price *p = llm_prices_find(t, "claude-sonnet-4-5");
    assert_non_null(p);
    assert_int_equal(p->input, 3000000);
    assert_int_equal(p->output, 15000000);
    assert_int_equal(p->cache_read, 300000);
    assert_int_equal(p->cache_write, 3750000);
    /* 1000 in at $3, 200 out at $15, 4000 read at $0.30, 100 written at $3.75 per MTok:
     * 3000 + 3000 + 1200 + 375 = 7575 micro-dollars. */
    struct llm_usage u = {.input_tokens = 1000,
                          .output_tokens = 200,
                          .cache_read_input_tokens = 4000,
                          .cache_creation_input_tokens = 100};
    assert_int_equal(llm_cost_micros(p, &u), 7575);
    /* A fraction of a micro-dollar is rounded up: one token of cache read is 0.3. */
    struct llm_usage one = {.cache_read_input_tokens = 1};
    assert_int_equal(llm_cost_micros(p, &one), 1);
    struct llm_usage none = {0};
    assert_int_equal(llm_cost_micros(p, &none), 0);
    assert_int_equal(llm_cost_micros(NULL, &u), 0);
    llm_prices_free(t);
}

static void test_longest_contained_id_matches(void **state)
{
    (void)state;
    struct llm_price_table *t = llm_prices_default();
    const struct llm_price *s45 = llm_prices_find(t, "claude-sonnet-4-5");
    assert_ptr_equal(llm_prices_find(t, "claude-sonnet-4-5-20250929"), s45);
    assert_ptr_equal(llm_prices_find(t, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), s45);
    assert_ptr_not_equal(llm_prices_find(t, "claude-sonnet-4-20250514"), s45);
    assert_int_equal(llm_prices_find(t, "claude-opus-4-1-20250805")->input, 15000000);
    assert_int_equal(llm_prices_find(t, "claude-opus-4-5")->input, 5000000);
    assert_null(llm_prices_find(t, "parley-offline"));
    assert_null(llm_prices_find(t, ""));
    llm_prices_free(t);
}

static void test_parse_file(void **state)
{
    (void)state;
    static const char json[] = "{\"my-model\":{\"input\":0.25,\"output\":1.5,\"cache_read\":0.025,"
                               "\"cache_write\":0.3125},\"other\":{\"input\":2,\"output\":8}}";
    struct llm_price_table *t = NULL;
    char err[256] = "";
    assert_int_equal(llm_prices_parse(json, strlen(json), &t, err, sizeof(err)), PL_OK);
    const struct llm_price *p = llm_prices_find(t, "my-model");
    assert_int_equal(p->input, 250000);
    assert_int_equal(p->output, 1500000);
    assert_int_equal(p->cache_read, 25000);
    assert_int_equal(p->cache_write, 312500);
    p = llm_prices_find(t, "other");
    assert_int_equal(p->cache_read, 200000);              /* a tenth of input */
    assert_int_equal(p->cache_write, 2500000);            /* 1.25 times */
    assert_null(llm_prices_find(t, "claude-sonnet-4-5")); /* a file replaces the built-in table */
    llm_prices_free(t);
}

static void test_parse_errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"{\"m\":{\"input\":1}}", "m.output"},
        {"{\"m\":{\"input\":-1,\"output\":1}}", "m.input"},
        {"{\"m\":{\"input\":\"3\",\"output\":1}}", "m.input"},
        {"{\"m\":{\"input\":1,\"output\":1,\"cache_read\":true}}", "m.cache_read"},
        {"{\"m\":5}", "\"m\""},
        {"{\"m\":", "price table:"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct llm_price_table *t = NULL;
        char err[256] = "";
        assert_int_equal(llm_prices_parse(bad[i].json, strlen(bad[i].json), &t, err, sizeof(err)),
                         PL_EINVAL);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: \"%s\" does not name %s", bad[i].json, err, bad[i].want);
        assert_null(t);
    }
}

static void test_usd_amounts(void **state)
{
    (void)state;
    uint64_t m = 0;
    assert_int_equal(llm_usd_parse("25", &m), PL_OK);
    assert_int_equal(m, 25000000);
    assert_int_equal(llm_usd_parse("0.5", &m), PL_OK);
    assert_int_equal(m, 500000);
    assert_int_equal(llm_usd_parse("12.345678", &m), PL_OK);
    assert_int_equal(m, 12345678);
    assert_int_equal(llm_usd_parse("0.000001", &m), PL_OK);
    assert_int_equal(m, 1);
    static const char *const bad[] = {
        "", "-1", "1.", ".5", "1.2345678", "1e3", "1,5", " 1", "1 ", "10000000000000", "abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (llm_usd_parse(bad[i], &m) != PL_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_sonnet_turn),
        cmocka_unit_test(test_longest_contained_id_matches),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_parse_errors_name_the_field),
        cmocka_unit_test(test_usd_amounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
