/* The fallback chain across providers: parleyd asks Bedrock first, then the Anthropic API, then
 * an OpenAI-compatible server, then the offline provider, all before the first token
 * (--fallback anthropic,openai:MODEL,local). One upstream double serves the three remote APIs
 * on one port, so its request log shows the order in which the chain tried them. Each provider
 * fails as its own API does (Bedrock's ThrottlingException, Anthropic's 529, an OpenAI server's
 * 500) and the next one answers; the caller sees one answer and no error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define TURN_WAIT 20000

static char workdir[512];
static struct ts_redis redis;
static struct ts_upstream up;
static struct ts_parleyd parleyd;
static const char *const upstream_args[] = {"--pace-ms", "2", NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("provider_chain"));
    if (ts_redis_start(&redis, workdir) || ts_upstream_start(&up, workdir, upstream_args))
        return -1;
    static char endpoint[64], openai_url[80], anthropic_url[96];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", up.port);
    snprintf(openai_url, sizeof(openai_url), "http://127.0.0.1:%d/v1", up.port);
    snprintf(anthropic_url, sizeof(anthropic_url), "ANTHROPIC_BASE_URL=http://127.0.0.1:%d",
             up.port);
    static const char *args[] = {"--provider",
                                 "bedrock",
                                 "--bedrock-endpoint",
                                 NULL,
                                 "--aws-region",
                                 "us-east-1",
                                 "--openai-base-url",
                                 NULL,
                                 "--fallback",
                                 "anthropic,openai:chain-test-model,local",
                                 "--upstream-retries",
                                 "0",
                                 "--breaker-failures",
                                 "0",
                                 "--local-pace-ms",
                                 "1",
                                 NULL};
    args[3] = endpoint;
    args[7] = openai_url;
    static const char *env[] = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
                                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                "ANTHROPIC_API_KEY=test-key", NULL, NULL};
    env[3] = anthropic_url;
    return ts_parleyd_start_env(&parleyd, workdir, &redis, NULL, args, env);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&parleyd);
    ts_upstream_stop(&up);
    ts_redis_stop(&redis);
    return rc == 0 ? 0 : -1;
}

/* The paths and behaviours of the double's requests whose body contains `tag`, in order, as
 * "PATH BEHAVIOUR|..." with Bedrock's model path shortened to "bedrock". */
static char *requests_with(const char *tag)
{
    struct pl_buf out;
    pl_buf_init(&out, SIZE_MAX);
    pl_buf_append_str(&out, "");
    FILE *f = fopen(up.log, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, tag))
            continue;
        json_t *j = json_loads(line, 0, NULL);
        const char *path = json_string_value(json_object_get(j, "path"));
        const char *b = json_string_value(json_object_get(j, "behaviour"));
        pl_buf_printf(&out, "%s %s|", strncmp(path, "/model/", 7) == 0 ? "bedrock" : path,
                      b ? b : "?");
        json_decref(j);
    }
    free(line);
    fclose(f);
    return pl_buf_take(&out);
}

static char *ask(const char *text, struct ts_turn *t)
{
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "m1", text, TURN_WAIT, t), 0);
    char *x = ts_redis_query(&redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    ts_caller_close(&c);
    return x;
}

/* Bedrock throttles: the Anthropic API answers. */
static void test_bedrock_throttled_anthropic_answers(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("chainA [[throttle]] [[tokens:3]]", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3");
    assert_string_equal(t.stop_reason, "end_turn");
    char *r = requests_with("chainA");
    assert_string_equal(r, "bedrock converse:throttle|/v1/messages normal|");
    /* The stored answer names who gave it. */
    assert_non_null(strstr(x, "\nmodel\nclaude-sonnet-4-5\nprovider\nanthropic\n"));
    pl_free(r);
    pl_free(x);
    ts_turn_free(&t);
}

/* Bedrock throttles and the Anthropic API is overloaded (the double's first [[flaky:1]]
 * request gets 529): the OpenAI-compatible server answers. */
static void test_two_fail_openai_answers(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("chainB [[throttle]] [[flaky:1]] [[tokens:2]]", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2");
    char *r = requests_with("chainB");
    assert_string_equal(r, "bedrock converse:throttle|/v1/messages 529|"
                           "/v1/chat/completions normal|");
    assert_non_null(strstr(x, "\nmodel\nchain-test-model\nprovider\nopenai\n"));
    pl_free(r);
    pl_free(x);
    ts_turn_free(&t);
}

/* Every remote provider fails: the offline provider answers, and the caller is not told of the
 * failures behind it. */
static void test_all_remote_fail_local_answers(void **state)
{
    (void)state;
    struct ts_turn t;
    char *x = ask("chainC [[throttle]] [[500]]", &t);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_true(strlen(t.text) > 0);
    char *r = requests_with("chainC");
    assert_string_equal(r, "bedrock converse:throttle|/v1/messages 500|/v1/chat/completions 500|");
    assert_non_null(strstr(x, "\nmodel\nparley-offline\nprovider\nlocal\n"));
    pl_free(r);
    pl_free(x);
    ts_turn_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bedrock_throttled_anthropic_answers),
        cmocka_unit_test(test_two_fail_openai_answers),
        cmocka_unit_test(test_all_remote_fail_local_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
