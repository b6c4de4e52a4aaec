/* The bedrock provider against the upstream double's Bedrock mode, for each of its APIs
 * (converse, invoke, messages): real redis-server, real parleyd with --provider bedrock and test
 * credentials in its environment; the double checks every request's signature and shape. A
 * normal answer, a wrong secret (403: a final error, the message kept), each Bedrock fault with
 * its documented outcome, retry timing read from the double's request log (its times, no
 * sleeps), a guardrail intervention, the API key and session token, cancellation seen by the
 * double, and cache tokens. Each message carries a unique tag so its requests can be picked
 * out of the double's log. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "connectors/local_reply.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define AKID       "AKIDEXAMPLE"
#define SECRET     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define API_KEY    "ABSKfake-bedrock-api-key"
#define GUARDRAIL  "gr0test:1"
#define GR_MESSAGE "Sorry, the model cannot answer this question."
#define TURN_WAIT  20000

static char workdir[512];
static struct ts_redis redis;
static struct ts_upstream up;
static const char *const upstream_args[] = {"--pace-ms", "5", "--guardrail", GUARDRAIL, NULL};
static const char *const env_keys[] = {"AWS_ACCESS_KEY_ID=" AKID, "AWS_SECRET_ACCESS_KEY=" SECRET,
                                       NULL};

/* One parleyd per API, with --fallback local (started on first use, stopped at the end). */
static struct ts_parleyd main_instance[3];
static bool main_started[3];
static const char *const apis[] = {"converse", "invoke", "messages"};
static int tag_counter;

static int api_index(const char *api)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(apis[i], api))
            return i;
    return 0;
}

static int start_instance(struct ts_parleyd *p, const char *name, const char *api,
                          const char *const *extra, const char *const *env)
{
    char dir[700], endpoint[64];
    snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
    mkdir(dir, 0755);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", up.port);
    const char *args[40] = {"--provider", "bedrock", "--bedrock-api", api, "--bedrock-endpoint",
                            endpoint, "--aws-region", "us-east-1", "--upstream-retries", "2",
                            "--upstream-idle-timeout-ms", "2000", "--first-token-deadline-ms",
                            "8000", "--local-pace-ms", "1",
                            /* every caller here is 127.0.0.1, over 30 sessions a minute */
                            "--anon-sessions-per-minute", "0"};
    size_t n = 18;
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return ts_parleyd_start_env(p, dir, &redis, NULL, args, env);
}

static struct ts_parleyd *instance(const char *api)
{
    int i = api_index(api);
    if (!main_started[i]) {
        static const char *const extra[] = {"--fallback", "local", "--bedrock-guardrail", GUARDRAIL,
                                            NULL};
        /* The Messages API takes no guardrail. */
        static const char *const extra_messages[] = {"--fallback", "local", NULL};
        char name[32];
        snprintf(name, sizeof(name), "main-%s", api);
        assert_int_equal(start_instance(&main_instance[i], name, api,
                                        !strcmp(api, "messages") ? extra_messages : extra,
                                        env_keys),
                         0);
        main_started[i] = true;
    }
    return &main_instance[i];
}

/* Instances a test starts for itself: from a pool, so the group's teardown stops any that a
 * failed assertion left running. */
static struct ts_parleyd own_pool[8];
static bool own_running[8];

static struct ts_parleyd *own_instance(const char *name, const char *api, const char *const *extra,
                                       const char *const *env)
{
    for (int i = 0; i < 8; i++) {
        if (own_running[i])
            continue;
        own_running[i] = true;
        assert_int_equal(start_instance(&own_pool[i], name, api, extra, env), 0);
        return &own_pool[i];
    }
    fail_msg("no free instance slot");
    return NULL;
}

static void stop_own(struct ts_parleyd *p)
{
    own_running[p - own_pool] = false;
    assert_int_equal(ts_parleyd_stop(p), 0); /* a clean exit */
}

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("bedrock"));
    if (ts_redis_start(&redis, workdir))
        return -1;
    return ts_upstream_start(&up, workdir, upstream_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (int i = 0; i < 3; i++)
        if (main_started[i] && ts_parleyd_stop(&main_instance[i]) != 0)
            rc = -1; /* parleyd must exit cleanly */
    for (int i = 0; i < 8; i++)
        if (own_running[i])
            ts_parleyd_stop(&own_pool[i]); /* left by a failed test */
    ts_upstream_stop(&up);
    ts_redis_stop(&redis);
    return rc;
}

/* A tag no other message carries, to find this message's requests in the double's log. */
static void new_tag(char *out, size_t len, const char *api)
{
    snprintf(out, len, "tag%s%d", api, ++tag_counter);
}

/* The double's log lines (parsed) that contain `needle`, in order. */
static json_t *log_lines(const char *needle)
{
    json_t *out = json_array();
    FILE *f = fopen(up.log, "r");
    if (!f)
        return out;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, needle))
            continue;
        json_t *j = json_loads(line, 0, NULL);
        if (j)
            json_array_append_new(out, j);
    }
    free(line);
    fclose(f);
    return out;
}

static const char *str_at(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Ask `text` on a new session of `p`; fill `t`; return the session's transcript (new). */
static char *ask_on(struct ts_parleyd *p, const char *text, struct ts_turn *t)
{
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, p->ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "m1", text, TURN_WAIT, t), 0);
    char *x = ts_redis_query(&redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    ts_caller_close(&c);
    return x;
}

static const char *wire_path_suffix(const char *api)
{
    if (!strcmp(api, "converse"))
        return "/converse-stream";
    if (!strcmp(api, "invoke"))
        return "/invoke-with-response-stream";
    return "/anthropic/v1/messages";
}

/* ---- per API ---- */

static void test_normal_answer(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "What does my policy cover? %s [[tokens:5]]", tag);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3 w4 w5");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_true(t.seq_ok);
    assert_int_equal(t.output_tokens, 5);
    assert_true(t.input_tokens > 0);
    /* Both sides stored. */
    assert_non_null(strstr(x, tag));
    assert_non_null(strstr(x, "w1 w2 w3 w4 w5"));
    /* One request, on this API's path, signed and accepted. */
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    json_t *r = json_array_get(l, 0);
    const char *path = str_at(r, "path");
    const char *suffix = wire_path_suffix(api);
    assert_true(strlen(path) >= strlen(suffix));
    assert_string_equal(path + strlen(path) - strlen(suffix), suffix);
    assert_non_null(strstr(str_at(r, "behaviour"), "normal"));
    assert_true(strncmp(str_at(json_object_get(r, "headers"), "authorization"),
                        "AWS4-HMAC-SHA256 Credential=" AKID "/", 29) == 0);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

static void test_wrong_secret_is_final(void **state)
{
    const char *api = *state;
    static const char *const env[] = {"AWS_ACCESS_KEY_ID=" AKID,
                                      "AWS_SECRET_ACCESS_KEY=not-the-secret", NULL};
    char name[32];
    snprintf(name, sizeof(name), "wrong-secret-%s", api);
    struct ts_parleyd *p = own_instance(name, api, NULL, env);
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "Am I covered? %s [[tokens:3]]", tag);
    struct ts_turn t;
    char *x = ask_on(p, q, &t);
    assert_string_equal(t.error_code, "upstream_error");
    assert_false(t.error_retryable);
    assert_int_equal(t.n_deltas, 0);
    /* The acknowledged message is kept. */
    assert_non_null(strstr(x, tag));
    /* Refused once with Bedrock's 403, never retried. */
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    char want[32];
    snprintf(want, sizeof(want), "%s:rejected", api);
    assert_string_equal(str_at(json_array_get(l, 0), "behaviour"), want);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
    stop_own(p);
}

/* [[throttle:2]]: two 429 ThrottlingException, then an answer; the waits between the double's
 * three requests are the chain's backoff (500 ms doubling, shortened by up to 25 %). */
static void test_throttle_retried_with_backoff(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[throttle:2]] [[tokens:3]]", tag);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3");
    assert_string_equal(t.stop_reason, "end_turn");
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 3);
    assert_non_null(strstr(str_at(json_array_get(l, 0), "behaviour"), "throttle"));
    assert_non_null(strstr(str_at(json_array_get(l, 1), "behaviour"), "throttle"));
    double t0 = json_number_value(json_object_get(json_array_get(l, 0), "t_ms"));
    double t1 = json_number_value(json_object_get(json_array_get(l, 1), "t_ms"));
    double t2 = json_number_value(json_object_get(json_array_get(l, 2), "t_ms"));
    /* The backoff's floors exactly (500 ms and 1 s, less a quarter of jitter); the ceilings only
     * loosely, so that a loaded machine (sanitizer builds) does not fail them. */
    assert_true(t1 - t0 >= 370 && t1 - t0 <= 4000);
    assert_true(t2 - t1 >= 740 && t2 - t1 <= 6000);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

/* A 200 whose first frame is an exception is a failure before the first token: retried, and
 * answered by the fallback when the retries fail too. */
static void test_exception_first_retried_then_fallback(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "Is my car covered abroad? %s [[exception-first]]", tag);
    char *want = local_reply_text(q, NULL);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, want);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_non_null(strstr(x, "provider\nlocal"));
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 3); /* the first try and two retries */
    for (size_t i = 0; i < 3; i++)
        assert_non_null(strstr(str_at(json_array_get(l, i), "behaviour"), "exception-first"));
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
    pl_free(want);

    /* Once, then an answer from Bedrock itself. */
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[flaky-first:1]] [[tokens:2]]", tag);
    x = ask_on(instance(api), q, &t);
    assert_string_equal(t.text, "w1 w2");
    assert_null(strstr(x, "provider\nlocal"));
    l = log_lines(tag);
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

/* A 400 ValidationException is final: never retried on Bedrock (the fallback answers), and a
 * serviceUnavailableException as the first frame is retried like throttling. */
static void test_validation_not_retried(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[validation]]", tag);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.error_code, "");
    assert_non_null(strstr(x, "provider\nlocal"));
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    assert_non_null(strstr(str_at(json_array_get(l, 0), "behaviour"), "validation"));
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

static void test_unavailable_first_frame_retried(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[exception-first-unavailable]]", tag);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.error_code, "");
    assert_non_null(strstr(x, "provider\nlocal"));
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 3);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

/* A fault after the first token ends the turn with the partial answer stored, never retried. */
static void expect_partial_no_retry(const char *api, const char *marker, const char *stop)
{
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[%s]] [[tokens:10]]", tag, marker);
    struct ts_turn t;
    char *x = ask_on(instance(api), q, &t);
    assert_string_equal(t.stop_reason, stop);
    assert_string_equal(t.text, "w1 w2 w3 ");
    assert_true(t.seq_ok);
    char *a = strstr(x, "assistant");
    assert_non_null(a);
    assert_non_null(strstr(a, "w1 w2 w3 "));
    assert_non_null(strstr(a, stop));
    assert_null(strstr(x, "provider\nlocal"));
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
}

static void test_stream_error_mid_answer(void **state)
{
    expect_partial_no_retry(*state, "stream-error", "upstream_error");
}

static void test_bad_crc_mid_answer(void **state)
{
    expect_partial_no_retry(*state, "bad-crc", "upstream_error");
}

static void test_messages_error_mid_answer(void **state)
{
    (void)state;
    expect_partial_no_retry("messages", "error-mid", "upstream_error");
}

/* The value of metric line `name` on /metrics of `p` (-1 if absent). */
static long metric(const struct ts_parleyd *p, const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", p->url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    long v = -1;
    for (const char *s = r.body; s && (s = strstr(s, name)) != NULL; s += strlen(name)) {
        if ((s == r.body || s[-1] == '\n') && (s[strlen(name)] == ' ' || s[strlen(name)] == '{')) {
            const char *sp = strchr(s, ' ');
            v = sp ? strtol(sp + 1, NULL, 10) : -1;
            break;
        }
    }
    ts_http_reply_free(&r);
    return v;
}

static void test_guardrail_intervention(void **state)
{
    const char *api = *state;
    struct ts_parleyd *p = instance(api);
    long before = metric(p, "parley_llm_guardrail_interventions_total");
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "Tell me something rude %s [[guardrail]]", tag);
    struct ts_turn t;
    char *x = ask_on(p, q, &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.stop_reason, "refusal");
    assert_string_equal(t.text, GR_MESSAGE);
    char *a = strstr(x, "assistant");
    assert_non_null(a);
    assert_non_null(strstr(a, GR_MESSAGE));
    assert_non_null(strstr(a, "refusal"));
    /* The guardrail went with the request, and the intervention is counted. */
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    json_t *r = json_array_get(l, 0);
    if (!strcmp(api, "converse"))
        assert_string_equal(str_at(json_object_get(json_object_get(r, "body"), "guardrailConfig"),
                                   "guardrailIdentifier"),
                            "gr0test");
    else
        assert_string_equal(
            str_at(json_object_get(r, "headers"), "x-amzn-bedrock-guardrailidentifier"), "gr0test");
    json_decref(l);
    assert_int_equal(metric(p, "parley_llm_guardrail_interventions_total"),
                     (before < 0 ? 0 : before) + 1);
    ts_turn_free(&t);
    pl_free(x);
}

/* The caller cancels: the answer ends `cancelled` with its text kept, and the double sees the
 * connection close before its stream ended. */
static void test_cancel_closes_upstream(void **state)
{
    const char *api = *state;
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "long one %s [[tokens:50]] [[pace:40]]", tag);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, instance(api)->ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "c1", q), 0);
    for (int deltas = 0; deltas < 3; deltas++) {
        json_t *f = ts_caller_expect(&c, "delta", 10000);
        assert_non_null(f);
        json_decref(f);
    }
    assert_int_equal(ts_caller_send(&c, "{\"type\":\"cancel\"}"), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
    assert_string_equal(t.stop_reason, "cancelled");
    ts_turn_free(&t);
    ts_caller_close(&c);
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    json_int_t n = json_integer_value(json_object_get(json_array_get(l, 0), "n"));
    json_decref(l);
    /* Poll the double's log for its close event, with a deadline. */
    bool seen = false;
    for (int waited = 0; waited < 5000 && !seen; waited += 20) {
        json_t *closes = log_lines("\"client_closed\"");
        size_t i;
        json_t *e;
        json_array_foreach(closes, i, e)
        {
            if (json_integer_value(json_object_get(e, "n")) == n &&
                !json_is_true(json_object_get(e, "complete")) &&
                json_integer_value(json_object_get(e, "steps_unsent")) +
                        json_integer_value(json_object_get(e, "events_unsent")) >
                    0)
                seen = true;
        }
        json_decref(closes);
        if (!seen)
            poll(NULL, 0, 20);
    }
    assert_true(seen);
}

/* Two turns with a system prompt no other test sends (its own company name): the first writes
 * the prompt's prefix to the cache, the second reads the same number of tokens, and turn_end
 * reports both; the requests mark the prefix (Converse cachePoint, Anthropic cache_control). */
static void test_cache_tokens_reported(void **state)
{
    const char *api = *state;
    char company[64], name[32];
    snprintf(company, sizeof(company), "Cache Test %s Mutual", api);
    snprintf(name, sizeof(name), "cache-%s", api);
    const char *extra[] = {"--company-name", company, NULL};
    struct ts_parleyd *p = own_instance(name, api, extra, env_keys);
    json_int_t read[2], created[2];
    for (int turn = 0; turn < 2; turn++) {
        char tag[32], q[128];
        new_tag(tag, sizeof(tag), api);
        snprintf(q, sizeof(q), "cache %s [[tokens:2]]", tag);
        struct ts_caller c;
        assert_int_equal(ts_caller_open(&c, p->ws_url, NULL, 0, 0), 0);
        assert_int_equal(ts_caller_message(&c, "k1", q), 0);
        json_t *end = ts_caller_expect(&c, "turn_end", TURN_WAIT);
        assert_non_null(end);
        json_t *u = json_object_get(end, "usage");
        assert_true(json_is_integer(json_object_get(u, "cache_read_input_tokens")));
        assert_true(json_is_integer(json_object_get(u, "cache_creation_input_tokens")));
        read[turn] = json_integer_value(json_object_get(u, "cache_read_input_tokens"));
        created[turn] = json_integer_value(json_object_get(u, "cache_creation_input_tokens"));
        assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 2);
        json_decref(end);
        ts_caller_close(&c);
        json_t *l = log_lines(tag);
        assert_int_equal(json_array_size(l), 1);
        char *body = json_dumps(json_object_get(json_array_get(l, 0), "body"), JSON_COMPACT);
        assert_non_null(
            strstr(body, !strcmp(api, "converse") ? "\"cachePoint\"" : "\"cache_control\""));
        assert_non_null(strstr(body, company));
        free(body);
        json_decref(l);
    }
    assert_true(created[0] > 0);
    assert_int_equal(read[0], 0);
    assert_int_equal(read[1], created[0]);
    assert_int_equal(created[1], 0);
    stop_own(p);
}

/* ---- credentials ---- */

static void test_bedrock_api_key(void **state)
{
    (void)state;
    static const char *const env[] = {"AWS_BEARER_TOKEN_BEDROCK=" API_KEY, NULL};
    struct ts_parleyd *p = own_instance("api-key", "converse", NULL, env);
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), "key");
    snprintf(q, sizeof(q), "q %s [[tokens:2]]", tag);
    struct ts_turn t;
    char *x = ask_on(p, q, &t);
    assert_string_equal(t.text, "w1 w2");
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(str_at(json_object_get(json_array_get(l, 0), "headers"), "authorization"),
                        "Bearer " API_KEY);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
    stop_own(p);
}

static void test_session_token_signed(void **state)
{
    (void)state;
    static const char *const env[] = {"AWS_ACCESS_KEY_ID=" AKID, "AWS_SECRET_ACCESS_KEY=" SECRET,
                                      "AWS_SESSION_TOKEN=FwoGZXIvYXdzEFAKESESSIONTOKEN", NULL};
    struct ts_parleyd *p = own_instance("session-token", "converse", NULL, env);
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), "sts");
    snprintf(q, sizeof(q), "q %s [[tokens:2]]", tag);
    struct ts_turn t;
    char *x = ask_on(p, q, &t);
    assert_string_equal(t.text, "w1 w2");
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    json_t *h = json_object_get(json_array_get(l, 0), "headers");
    assert_string_equal(str_at(h, "x-amz-security-token"), "FwoGZXIvYXdzEFAKESESSIONTOKEN");
    assert_non_null(strstr(str_at(h, "authorization"), "x-amz-security-token"));
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
    stop_own(p);
}

/* An inference-profile ARN as the model: its ':' and '/' go URI-encoded in the path (the double
 * refuses anything else) and the signature covers the path as sent. */
static void test_arn_model_path(void **state)
{
    const char *api = *state;
    static const char *const extra[] = {
        "--model",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-test-v1:0",
        NULL};
    char name[32];
    snprintf(name, sizeof(name), "arn-%s", api);
    struct ts_parleyd *p = own_instance(name, api, extra, env_keys);
    char tag[32], q[128];
    new_tag(tag, sizeof(tag), api);
    snprintf(q, sizeof(q), "q %s [[tokens:2]]", tag);
    struct ts_turn t;
    char *x = ask_on(p, q, &t);
    assert_string_equal(t.text, "w1 w2");
    json_t *l = log_lines(tag);
    assert_int_equal(json_array_size(l), 1);
    static const char want[] = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                               "inference-profile%2Fus.anthropic.claude-test-v1%3A0/";
    assert_true(strncmp(str_at(json_array_get(l, 0), "path"), want, sizeof(want) - 1) == 0);
    json_decref(l);
    ts_turn_free(&t);
    pl_free(x);
    stop_own(p);
}

#define PER_API(fn)                                                                                \
    cmocka_unit_test_prestate(fn, (void *)"converse"),                                             \
        cmocka_unit_test_prestate(fn, (void *)"invoke"),                                           \
        cmocka_unit_test_prestate(fn, (void *)"messages")
#define EVENTSTREAM_APIS(fn)                                                                       \
    cmocka_unit_test_prestate(fn, (void *)"converse"),                                             \
        cmocka_unit_test_prestate(fn, (void *)"invoke")

int main(void)
{
#ifndef PARLEY_HAVE_BEDROCK
    printf("the bedrock provider is not in this build: skipped\n");
    return 77;
#endif
    const struct CMUnitTest tests[] = {
        PER_API(test_normal_answer),
        PER_API(test_wrong_secret_is_final),
        PER_API(test_throttle_retried_with_backoff),
        EVENTSTREAM_APIS(test_exception_first_retried_then_fallback),
        PER_API(test_validation_not_retried),
        EVENTSTREAM_APIS(test_unavailable_first_frame_retried),
        EVENTSTREAM_APIS(test_stream_error_mid_answer),
        EVENTSTREAM_APIS(test_bad_crc_mid_answer),
        cmocka_unit_test(test_messages_error_mid_answer),
        EVENTSTREAM_APIS(test_guardrail_intervention),
        PER_API(test_cancel_closes_upstream),
        PER_API(test_cache_tokens_reported),
        EVENTSTREAM_APIS(test_arn_model_path),
        cmocka_unit_test(test_bedrock_api_key),
        cmocka_unit_test(test_session_token_signed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
