/* The breaker registry: which outcomes count as failures, one breaker per provider and model
 * shared by every lookup, breakers off with 0 failures, and the exact /metrics lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/llm_breaker.h"

static void test_which_outcomes_are_failures(void **state)
{
    (void)state;
    struct llm_outcome ok = {.status = PL_OK};
    assert_int_equal(llm_breaker_result(&ok), BREAKER_SUCCESS);
    struct llm_outcome cancel = {.status = PL_ECANCELED, .stop = LLM_STOP_CANCELLED};
    assert_int_equal(llm_breaker_result(&cancel), BREAKER_NEUTRAL);
    struct llm_outcome unwell[] = {
        {.status = PL_EUPSTREAM, .error = API_ERR_UPSTREAM_UNAVAILABLE, .http_status = 529},
        {.status = PL_EUPSTREAM, .error = API_ERR_RATE_LIMITED, .http_status = 429},
        {.status = PL_ETIMEDOUT, .stop = LLM_STOP_TIMEOUT},
        {.status = PL_EIO, .stop = LLM_STOP_UPSTREAM_CUT},
        {.status = PL_EPROTO, .error = API_ERR_UPSTREAM_ERROR},
        {.status = PL_EUPSTREAM, .error = API_ERR_UPSTREAM_ERROR, .http_status = 501},
    };
    for (size_t i = 0; i < sizeof(unwell) / sizeof(unwell[0]); i++)
        assert_int_equal(llm_breaker_result(&unwell[i]), BREAKER_FAILURE);
    /* The upstream answered: the request was at fault, not the upstream. */
    struct llm_outcome bad_request = {
        .status = PL_EUPSTREAM, .error = API_ERR_UPSTREAM_ERROR, .http_status = 400};
    assert_int_equal(llm_breaker_result(&bad_request), BREAKER_SUCCESS);
    struct llm_outcome refused_in_stream = {
        .status = PL_EUPSTREAM, .stop = LLM_STOP_UPSTREAM_ERROR, .error = API_ERR_UPSTREAM_ERROR};
    assert_int_equal(llm_breaker_result(&refused_in_stream), BREAKER_SUCCESS);
}

static void test_registry_and_metrics(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct llm_breaker_options off = {.failures = 0, .cooldown_ms = 1000, .window_ms = 60000};
    struct llm_breakers *none = llm_breakers_create(&loop, &off);
    assert_null(llm_breakers_get(none, "anthropic", "m"));
    llm_breakers_destroy(none);
    assert_null(llm_breakers_get(NULL, "anthropic", "m"));

    struct llm_breaker_options o = {.failures = 1, .cooldown_ms = 60000, .window_ms = 60000};
    struct llm_breakers *r = llm_breakers_create(&loop, &o);
    struct llm_breaker *a = llm_breakers_get(r, "anthropic", "claude-x");
    struct llm_breaker *b = llm_breakers_get(r, "openai", "llama \"3\"");
    assert_ptr_equal(llm_breakers_get(r, "anthropic", "claude-x"), a);
    assert_ptr_not_equal(a, b);
    assert_int_equal(llm_breaker_admit(a), BREAKER_PASS);
    struct llm_outcome fail = {.status = PL_EUPSTREAM, .error = API_ERR_UPSTREAM_UNAVAILABLE};
    llm_breaker_record(a, false, &fail);
    assert_int_equal(llm_breaker_admit(a), BREAKER_SKIP);
    assert_true(llm_breaker_remaining_ms(a) > 0);
    struct pl_buf out;
    pl_buf_init(&out, 1 << 16);
    llm_breakers_metrics(r, &out);
    assert_string_equal(
        out.data,
        "# HELP parley_llm_breaker_state Circuit breaker per provider and model: 0 closed, 1 open, "
        "2 half-open.\n"
        "# TYPE parley_llm_breaker_state gauge\n"
        "parley_llm_breaker_state{provider=\"anthropic\",model=\"claude-x\"} 1\n"
        "parley_llm_breaker_state{provider=\"openai\",model=\"llama \\\"3\\\"\"} 0\n"
        "# HELP parley_llm_breaker_opened_total Times a provider's circuit breaker opened.\n"
        "# TYPE parley_llm_breaker_opened_total counter\n"
        "parley_llm_breaker_opened_total{provider=\"anthropic\",model=\"claude-x\"} 1\n"
        "parley_llm_breaker_opened_total{provider=\"openai\",model=\"llama \\\"3\\\"\"} 0\n");
    pl_buf_cleanup(&out);
    llm_breakers_destroy(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_outcomes_are_failures),
        cmocka_unit_test(test_registry_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
