/* The circuit breaker: with the double failing ([[500]]), --breaker-failures turns in a row open
 * the primary's breaker; the next turn goes straight to the fallback (the double sees no request
 * for it); once the cool-down is over /metrics shows half-open, one probe reaches the double and
 * its success closes the breaker. Without a fallback, a turn while every breaker is open fails at
 * once with upstream_unavailable, without a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/alloc.h"
#include "connectors/local_reply.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"

#define COOLDOWN_MS 1500

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "2", NULL};
static const char *parleyd_args[] = {"--fallback",
                                     "local",
                                     "--upstream-retries",
                                     "0",
                                     "--breaker-failures",
                                     "3",
                                     "--breaker-cooldown-ms",
                                     "1500",
                                     "--local-pace-ms",
                                     "1",
                                     "--routes",
                                     "summary=local:tiny",
                                     NULL};
static const char *const no_fallback_args[] = {
    "--upstream-retries", "0", "--breaker-failures", "2", "--breaker-cooldown-ms", "600000", NULL};

#define STATE_LINE "parley_llm_breaker_state{provider=\"anthropic\",model=\"claude-sonnet-4-5\"} "
#define OPENED_LINE                                                                                \
    "parley_llm_breaker_opened_total{provider=\"anthropic\",model=\"claude-sonnet-4-5\"} "

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "breaker", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

static char *ask(const char *text, struct ts_turn *t)
{
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "b1", text, 20000, t), 0);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    ts_caller_close(&c);
    return x;
}

/* The breaker's state on /metrics (-1 when absent). */
static long metric(const char *line_start)
{
    struct ts_http_reply r;
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", st.parleyd.url);
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    const char *m = strstr(r.body, line_start);
    long v = m ? strtol(m + strlen(line_start), NULL, 10) : -1;
    ts_http_reply_free(&r);
    return v;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The double's logged requests whose last message contains `needle`: their "t_ms" times. */
static size_t request_times(const char *needle, long long *times, size_t max)
{
    size_t n = 0;
    FILE *f = fopen(st.upstream.log, "r");
    assert_non_null(f);
    char line[65536];
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *msgs = json_object_get(json_object_get(j, "body"), "messages");
        json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
        const char *text = json_string_value(json_object_get(last, "content"));
        if (text && strstr(text, needle) && n < max)
            times[n++] = (long long)json_number_value(json_object_get(j, "t_ms"));
        json_decref(j);
    }
    fclose(f);
    return n;
}

static void test_opens_skips_probes_and_closes(void **state)
{
    (void)state;
    assert_int_equal(metric(STATE_LINE), 0);
    /* the summary route's chain has its breakers too (its provider, then the fallback's) */
    assert_int_equal(metric("parley_llm_breaker_state{provider=\"local\",model=\"tiny\"} "), 0);
    assert_int_equal(
        metric("parley_llm_breaker_state{provider=\"local\",model=\"parley-offline\"} "), 0);
    struct ts_turn t;
    char q[64];
    for (int i = 0; i < 3; i++) {
        snprintf(q, sizeof(q), "q [[500]] #fail%d", i);
        char *x = ask(q, &t);
        assert_string_equal(t.error_code, ""); /* the fallback answered */
        assert_non_null(strstr(x, "provider\nlocal"));
        ts_turn_free(&t);
        pl_free(x);
    }
    long long times[8];
    assert_int_equal(request_times("#fail", times, 8), 3);
    assert_int_equal(metric(STATE_LINE), 1);
    assert_int_equal(metric(OPENED_LINE), 1);
    assert_true(ts_log_wait(&st.parleyd.proc,
                            "circuit breaker of anthropic:claude-sonnet-4-5 opened after 3", 5000));

    /* Open: straight to the fallback, nothing reaches the double. */
    const char *skip = "Is glass covered? [[tokens:2]] #skip";
    char *want = local_reply_text(skip, NULL);
    char *x = ask(skip, &t);
    assert_string_equal(t.text, want);
    assert_non_null(strstr(x, "provider\nlocal"));
    assert_int_equal(request_times("#skip", times, 8), 0);
    ts_turn_free(&t);
    pl_free(x);
    pl_free(want);

    /* After the cool-down the breaker shows half-open; poll for it. */
    long long deadline = now_ms() + COOLDOWN_MS + 10000;
    while (metric(STATE_LINE) != 2 && now_ms() < deadline) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL); /* between polls of a condition */
    }
    assert_int_equal(metric(STATE_LINE), 2);

    /* One probe goes to the double, succeeds, and closes the breaker. */
    x = ask("probe [[tokens:2]] #probe", &t);
    assert_string_equal(t.text, "w1 w2");
    assert_non_null(strstr(x, "provider\nanthropic"));
    ts_turn_free(&t);
    pl_free(x);
    long long fail_times[8], probe_times[8];
    assert_int_equal(request_times("#fail", fail_times, 8), 3);
    assert_int_equal(request_times("#probe", probe_times, 8), 1);
    assert_true(probe_times[0] - fail_times[2] >= COOLDOWN_MS);
    assert_int_equal(metric(STATE_LINE), 0);
    assert_int_equal(metric(OPENED_LINE), 1);
    assert_true(ts_log_wait(&st.parleyd.proc,
                            "circuit breaker of anthropic:claude-sonnet-4-5 closed", 5000));
    assert_int_equal(
        ts_log_count(&st.parleyd.proc, "circuit breaker of anthropic:claude-sonnet-4-5 opened"), 1);

    /* Closed again: the primary answers. */
    x = ask("again [[tokens:3]]", &t);
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);
    pl_free(x);
}

static void test_every_breaker_open_fails_at_once(void **state)
{
    (void)state;
    assert_int_equal(ts_parleyd_stop(&st.parleyd), 0);
    assert_int_equal(
        ts_parleyd_restart(&st.parleyd, st.workdir, &st.redis, &st.upstream, no_fallback_args), 0);
    struct ts_turn t;
    for (int i = 0; i < 2; i++) {
        char *x = ask("q [[500]] #nofb", &t);
        assert_string_equal(t.error_code, "upstream_unavailable");
        ts_turn_free(&t);
        pl_free(x);
    }
    assert_int_equal(metric(STATE_LINE), 1);
    long long t0 = now_ms();
    char *x = ask("q [[tokens:2]] #allopen", &t);
    assert_string_equal(t.error_code, "upstream_unavailable");
    assert_true(t.error_retryable);
    assert_true(now_ms() - t0 < 5000); /* no waiting for the cool-down */
    /* The caller is told when the next probe may go: the rest of the 600 s cool-down. */
    assert_true(t.error_retry_after_ms > 590000 && t.error_retry_after_ms <= 600000);
    long long times[4];
    assert_int_equal(request_times("#allopen", times, 4), 0);
    assert_true(ts_log_wait(&st.parleyd.proc,
                            "failed before any text: circuit breaker open for every provider "
                            "(next probe in ",
                            5000));
    ts_turn_free(&t);
    pl_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_skips_probes_and_closes),
        cmocka_unit_test(test_every_breaker_open_fails_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
