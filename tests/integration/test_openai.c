/* The openai provider against the double's OpenAI-compatible mode: a normal answer with the
 * server's usage (and the bearer key checked), the estimate when a server sends no usage, a cut
 * stream and a mid-stream error stored as partial answers, a 429 retried after the double's
 * Retry-After (timed from the double's request log), and --fallback local after a final
 * error; a cancel closes the upstream stream; --routes checked at start. */
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
#include "tests/support/process.h"

#define OPENAI_KEY "sk-parley-test"

static struct ts_stack st;
static char base_url[96];
static const char *const upstream_args[] = {"--pace-ms", "2", "--openai-key", OPENAI_KEY, NULL};
/* Breakers off: each fault on its own (test_breaker.c tests breakers). Two routes, checked at
 * start (test_routes_built_and_checked). */
static const char *parleyd_args[] = {"--provider",
                                     "openai",
                                     "--openai-base-url",
                                     base_url,
                                     "--model",
                                     "llama3.1",
                                     "--fallback",
                                     "local",
                                     "--upstream-retries",
                                     "1",
                                     "--local-pace-ms",
                                     "1",
                                     "--breaker-failures",
                                     "0",
                                     "--routes",
                                     "summary=local:tiny, extract=openai:qwen2.5",
                                     NULL};

static int setup(void **state)
{
    (void)state;
    /* Started by hand: parleyd's arguments need the double's port. */
    memset(&st, 0, sizeof(st));
    snprintf(st.workdir, sizeof(st.workdir), "%s", ts_workdir("openai"));
    setenv("OPENAI_API_KEY", OPENAI_KEY, 1); /* parleyd inherits it */
    if (ts_redis_start(&st.redis, st.workdir))
        return -1;
    st.with_upstream = true;
    if (ts_upstream_start(&st.upstream, st.workdir, upstream_args))
        return -1;
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/v1", st.upstream.port);
    st.parleyd_args = parleyd_args;
    return ts_parleyd_start(&st.parleyd, st.workdir, &st.redis, &st.upstream, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

/* Ask `text` on a new session; fill `t`; return the transcript (new string). */
static char *ask(const char *text, struct ts_turn *t)
{
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "o1", text, 20000, t), 0);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    ts_caller_close(&c);
    return x;
}

/* The double's logged requests whose last message contains `needle`, in order (new array of
 * the log's objects). */
static json_t *requests_with(const char *needle)
{
    json_t *out = json_array();
    FILE *f = fopen(st.upstream.log, "r");
    assert_non_null(f);
    char line[65536];
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *msgs = json_object_get(json_object_get(j, "body"), "messages");
        json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
        const char *text = json_string_value(json_object_get(last, "content"));
        if (text && strstr(text, needle))
            json_array_append(out, j);
        json_decref(j);
    }
    fclose(f);
    return out;
}

static void test_normal_answer_with_usage(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("Is hail covered? [[tokens:4]] #normal", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3 w4");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_true(t.seq_ok);
    assert_int_equal(t.output_tokens, 4);
    assert_true(t.input_tokens > 0);
    assert_non_null(strstr(x, "provider\nopenai"));
    /* What went upstream: the system prompt first, stream_options, and the key as a bearer. */
    json_t *reqs = requests_with("#normal");
    assert_int_equal(json_array_size(reqs), 1);
    json_t *r = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/chat/completions");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "headers"), "authorization")),
        "Bearer " OPENAI_KEY);
    json_t *body = json_object_get(r, "body");
    assert_string_equal(json_string_value(json_object_get(body, "model")), "llama3.1");
    json_t *first = json_array_get(json_object_get(body, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "role")), "system");
    assert_true(
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage")));
    assert_string_equal(json_string_value(json_object_get(r, "behaviour")), "normal");
    json_decref(reqs);
    ts_turn_free(&t);
    pl_free(x);
}

static void test_no_usage_is_estimated(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("Estimate me [[tokens:5]] [[no-usage]]", &t);
    assert_string_equal(t.text, "w1 w2 w3 w4 w5");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_int_equal(t.output_tokens, 5); /* one per delta */
    assert_true(t.input_tokens > 0);      /* the prompt's bytes / 4 */
    ts_turn_free(&t);
    pl_free(x);
}

static void expect_partial(const char *marker, const char *stop, const char *text)
{
    struct ts_turn t;
    char *x = ask(marker, &t);
    assert_string_equal(t.stop_reason, stop);
    assert_string_equal(t.text, text);
    assert_true(t.seq_ok);
    char *a = strstr(x, "assistant");
    assert_non_null(a);
    assert_non_null(strstr(a, text));
    assert_non_null(strstr(a, stop));
    ts_turn_free(&t);
    pl_free(x);
}

static void test_cut_is_stored_as_upstream_cut(void **state)
{
    (void)state;
    expect_partial("q [[cut]] [[tokens:10]]", "upstream_cut", "w1 w2 w3 ");
}

static void test_error_mid_stream(void **state)
{
    (void)state;
    expect_partial("q [[error-mid]] [[tokens:10]]", "upstream_error", "w1 w2 w3 ");
}

static void test_length_is_max_tokens(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[max-tokens]] [[tokens:2]]", &t);
    assert_string_equal(t.stop_reason, "max_tokens");
    ts_turn_free(&t);
    pl_free(x);
}

/* Two requests carrying `needle`, the second at least the double's Retry-After (1 s) after the
 * first, by the double's own clock. */
static void expect_retry_after_one_second(const char *needle)
{
    json_t *reqs = requests_with(needle);
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "behaviour")),
                        "429");
    json_int_t t0 = (json_int_t)json_number_value(json_object_get(json_array_get(reqs, 0), "t_ms"));
    json_int_t t1 = (json_int_t)json_number_value(json_object_get(json_array_get(reqs, 1), "t_ms"));
    assert_true(t1 - t0 >= 1000);
    /* Not the 8 s backoff cap: a bound loose enough for a loaded machine (sanitizer builds). */
    assert_true(t1 - t0 < 7000);
    json_decref(reqs);
}

/* [[flaky:1]]: a 429 with retry-after: 1 for the first request, then the answer. */
static void test_429_then_success_after_retry_after(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[flaky:1]] [[tokens:2]] #flaky", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2");
    assert_non_null(strstr(x, "provider\nopenai"));
    expect_retry_after_one_second("#flaky");
    ts_turn_free(&t);
    pl_free(x);
}

/* A 429 on every request: the one retry waits the Retry-After, then the fallback answers. */
static void test_429_retried_then_fallback(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("q [[429]] #ratelimited", &t);
    expect_retry_after_one_second("#ratelimited");
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_non_null(strstr(x, "provider\nlocal"));
    ts_turn_free(&t);
    pl_free(x);
}

static void test_final_error_falls_back_to_local(void **state)
{
    (void)state;
    const char *q = "Is my boat covered? [[400]]";
    char *want = local_reply_text(q, NULL);
    struct ts_turn t;
    char *x = ask(q, &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, want);
    assert_non_null(strstr(x, "provider\nlocal"));
    /* A 400 is not retried: one request. */
    json_t *reqs = requests_with("Is my boat covered?");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    ts_turn_free(&t);
    pl_free(x);
    pl_free(want);
}

/* The double's count of streams still open (GET /stats). */
static long upstream_active_streams(void)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", st.upstream.port);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    long n = (long)json_integer_value(json_object_get(j, "active_streams"));
    json_decref(j);
    ts_http_reply_free(&r);
    return n;
}

/* A cancel mid-answer keeps the text so far, and the double sees its stream closed. */
static void test_cancel_closes_the_upstream_stream(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "c1", "long one [[tokens:200]] [[pace:40]]"), 0);
    for (int deltas = 0; deltas < 3; deltas++) {
        json_t *f = ts_caller_expect(&c, "delta", 10000);
        assert_non_null(f);
        json_decref(f);
    }
    assert_int_equal(upstream_active_streams(), 1);
    assert_int_equal(ts_caller_send(&c, "{\"type\":\"cancel\"}"), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
    assert_string_equal(t.stop_reason, "cancelled");
    ts_turn_free(&t);
    /* poll the double until it has seen the connection go (well before the answer's 8 s) */
    long active = 1;
    for (int i = 0; i < 200 && (active = upstream_active_streams()) != 0; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(active, 0);
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    assert_non_null(strstr(x, "cancelled"));
    assert_non_null(strstr(x, "w1 w2 w3"));
    pl_free(x);
    ts_caller_close(&c);
}

/* --routes: each route's chain is built at start (the log lists them; test_breaker.c sees their
 * breakers on /metrics), and a bad entry stops parleyd at start with a message. */
static void test_routes_built_and_checked(void **state)
{
    (void)state;
    assert_true(ts_log_wait(&st.parleyd.proc,
                            "model routes: chat=openai:llama3.1, summary=local:tiny, "
                            "extract=openai:qwen2.5 (unrouted purposes use chat's)",
                            5000));
    static const struct {
        const char *routes, *message;
    } bad[] = {
        {"greeting=local", "parleyd: --routes: unknown purpose \"greeting\" (known: summary, "
                           "extract)"},
        {"summary=gpt:4", "parleyd: --routes: unknown provider \"gpt\" for summary"},
        {"summary=openai", "parleyd: --routes summary=openai: the openai provider needs a model"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "'%s' --provider local --redis redis://127.0.0.1:%d/0 --jwt-secret %s "
                 "--listen 127.0.0.1:0 --openai-base-url http://127.0.0.1:9/v1 --routes '%s' 2>&1",
                 ts_bin("parleyd"), st.redis.port, TS_JWT_SECRET, bad[i].routes);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[8192];
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        int status = pclose(p);
        assert_int_not_equal(status, 0);
        if (!strstr(out, bad[i].message))
            fail_msg("parleyd --routes '%s' said: %s", bad[i].routes, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_answer_with_usage),
        cmocka_unit_test(test_no_usage_is_estimated),
        cmocka_unit_test(test_cut_is_stored_as_upstream_cut),
        cmocka_unit_test(test_error_mid_stream),
        cmocka_unit_test(test_length_is_max_tokens),
        cmocka_unit_test(test_429_then_success_after_retry_after),
        cmocka_unit_test(test_429_retried_then_fallback),
        cmocka_unit_test(test_final_error_falls_back_to_local),
        cmocka_unit_test(test_cancel_closes_the_upstream_stream),
        cmocka_unit_test(test_routes_built_and_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
