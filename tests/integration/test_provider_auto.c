/* `--provider auto` (docs/configuration.md, "Notes"): parleyd picks anthropic when
 * ANTHROPIC_API_KEY is set, else bedrock when the environment shows AWS credentials (keys, a
 * named profile, a container endpoint, a Bedrock API key), else the offline provider. Each case
 * runs parleyd in an emptied environment for at most two seconds (it needs no Redis to choose)
 * and reads its log: the choice is logged as it is made, naming the variable that decided it,
 * and the listening line names the provider otherwise. */
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
#include "tests/support/process.h"

/* parleyd's log with only `env` (space-separated NAME=value words) in its environment. */
static char *log_of(const char *env)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "env -i PATH=\"$PATH\" HOME=/nonexistent %s timeout 2 '%s' --listen 127.0.0.1:0 "
             "--redis redis://127.0.0.1:1 2>&1",
             env, ts_bin("parleyd"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        pl_buf_append(&b, chunk, n);
    pclose(p);
    if (!b.data)
        pl_buf_append_str(&b, "");
    return pl_buf_take(&b);
}

static void expect_bedrock(const char *env, const char *why)
{
    char *log = log_of(env);
    char want[256];
    snprintf(want, sizeof want, "--provider auto: %s is set, using bedrock", why);
    if (!strstr(log, want)) {
        fprintf(stderr, "with %s, wanted \"%s\" in:\n%s", env, want, log);
        fail();
    }
    pl_free(log);
}

static void expect_provider(const char *env, const char *provider)
{
    char *log = log_of(env);
    char want[256];
    snprintf(want, sizeof want, "(provider %s:", provider);
    if (!strstr(log, want) || strstr(log, "using bedrock")) {
        fprintf(stderr, "with %s, wanted provider %s in:\n%s", env, provider, log);
        fail();
    }
    pl_free(log);
}

static void test_aws_signs_pick_bedrock(void **state)
{
    (void)state;
    expect_bedrock("AWS_ACCESS_KEY_ID=AKIDX AWS_SECRET_ACCESS_KEY=s", "AWS_ACCESS_KEY_ID");
    expect_bedrock("AWS_PROFILE=dev AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE");
    expect_bedrock("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    expect_bedrock("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/creds",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    expect_bedrock("AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-x", "AWS_BEARER_TOKEN_BEDROCK");
}

static void test_anthropic_key_wins_and_nothing_means_local(void **state)
{
    (void)state;
    expect_provider("ANTHROPIC_API_KEY=sk-test AWS_ACCESS_KEY_ID=AKIDX AWS_SECRET_ACCESS_KEY=s",
                    "anthropic");
    expect_provider("AWS_ACCESS_KEY_ID=AKIDX", "local"); /* a key id without its secret */
    expect_provider("", "local");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_signs_pick_bedrock),
        cmocka_unit_test(test_anthropic_key_wins_and_nothing_means_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
