/* The bedrock provider signing with credentials it fetched itself: real redis-server, real
 * parleyd with --provider bedrock and no keys in its environment, the upstream double's Bedrock
 * mode expecting one set of temporary keys, and the credentials endpoints' double
 * (fake_aws_metadata_server) handing those keys out, once as the ECS/EKS container endpoint
 * (with an authorization token file) and once as EC2 instance metadata (IMDSv2). Each answer
 * must come back whole, signed with the fetched key id and session token, and parleyd's log must
 * name the source and the expiry but never a key, secret or token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <jansson.h>

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define AKID       "ASIAFETCHEDKEY"
#define SECRET     "fetchedSecretKeyForTheDouble"
#define TOKEN      "FetchedSessionTokenForTheDouble"
#define AUTH_TOKEN "container-authorization-token"
#define TURN_WAIT  20000

static char workdir[512];
static struct ts_redis redis;
static struct ts_upstream up;
static struct ts_proc metadata;
static int metadata_port;
static const char *const upstream_args[] = {"--pace-ms",
                                            "5",
                                            "--aws-access-key-id",
                                            AKID,
                                            "--aws-secret-access-key",
                                            SECRET,
                                            "--aws-session-token",
                                            TOKEN,
                                            NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof workdir, "%s", ts_workdir("bedrock_credentials"));
    if (ts_redis_start(&redis, workdir) || ts_upstream_start(&up, workdir, upstream_args))
        return -1;
    metadata_port = ts_free_port();
    char port[16], log[600], bin[512];
    snprintf(port, sizeof port, "%d", metadata_port);
    snprintf(log, sizeof log, "%s/metadata.log", workdir);
    snprintf(bin, sizeof bin, "%s", ts_bin("tests/fakes/fake_aws_metadata_server"));
    const char *const argv[] = {bin,   "--port",           port,       "--keys", AKID, SECRET,
                                TOKEN, "--container-auth", AUTH_TOKEN, NULL};
    if (ts_proc_spawn(&metadata, "fake_aws_metadata", (char *const *)argv, NULL, log))
        return -1;
    return ts_wait_port(&metadata, metadata_port, 10000);
}

static int teardown(void **state)
{
    (void)state;
    ts_proc_stop(&metadata, 5000);
    ts_upstream_stop(&up);
    ts_redis_stop(&redis);
    return 0;
}

static int start_parleyd(struct ts_parleyd *p, const char *name, const char *const *env)
{
    char dir[700], endpoint[64];
    snprintf(dir, sizeof dir, "%s/%s", workdir, name);
    mkdir(dir, 0755);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", up.port);
    const char *const args[] = {"--provider",
                                "bedrock",
                                "--bedrock-endpoint",
                                endpoint,
                                "--aws-region",
                                "us-east-1",
                                "--upstream-retries",
                                "0",
                                NULL};
    return ts_parleyd_start_env(p, dir, &redis, NULL, args, env);
}

/* The double's request whose body holds `tag`: its headers (new), or NULL. */
static json_t *request_headers(const char *tag)
{
    FILE *f = fopen(up.log, "r");
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    json_t *headers = NULL;
    while (!headers && getline(&line, &cap, f) > 0) {
        if (!strstr(line, tag))
            continue;
        json_t *j = json_loads(line, 0, NULL);
        headers = json_incref(json_object_get(j, "headers"));
        json_decref(j);
    }
    free(line);
    fclose(f);
    return headers;
}

static const char *str_at(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Ask on `p`, then check the answer, the signature's key id and token, and parleyd's log. */
static void ask_and_check(struct ts_parleyd *p, const char *tag, const char *source)
{
    char q[128];
    snprintf(q, sizeof q, "Am I covered? %s [[tokens:3]]", tag);
    struct ts_caller c;
    struct ts_turn t;
    assert_int_equal(ts_caller_open(&c, p->ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "m1", q, TURN_WAIT, &t), 0);
    ts_caller_close(&c);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.text, "w1 w2 w3");
    ts_turn_free(&t);

    json_t *h = request_headers(tag);
    assert_non_null(h);
    assert_true(strncmp(str_at(h, "authorization"), "AWS4-HMAC-SHA256 Credential=" AKID "/",
                        strlen("AWS4-HMAC-SHA256 Credential=" AKID "/")) == 0);
    assert_string_equal(str_at(h, "x-amz-security-token"), TOKEN);
    json_decref(h);

    char want[128];
    snprintf(want, sizeof want, "AWS credentials from %s, expiring ", source);
    assert_true(ts_log_contains(&p->proc, want));
    const char *secrets[] = {AKID, SECRET, TOKEN, AUTH_TOKEN};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (ts_log_contains(&p->proc, secrets[i])) {
            ts_proc_dump_log(&p->proc);
            fail_msg("parleyd's log holds %s", secrets[i]);
        }
}

static void test_container_endpoint(void **state)
{
    (void)state;
    char uri[128], token_file[600], full_uri[200], file_env[640];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/container/v2/credentials", metadata_port);
    snprintf(full_uri, sizeof full_uri, "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s", uri);
    snprintf(token_file, sizeof token_file, "%s/container-token", workdir);
    FILE *f = fopen(token_file, "w");
    assert_non_null(f);
    fputs(AUTH_TOKEN "\n", f);
    fclose(f);
    snprintf(file_env, sizeof file_env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s", token_file);
    const char *const env[] = {"AWS_ACCESS_KEY_ID=",
                               "AWS_PROFILE=",
                               "AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials",
                               "AWS_CONFIG_FILE=/nonexistent/config",
                               full_uri,
                               file_env,
                               NULL};
    struct ts_parleyd p;
    assert_int_equal(start_parleyd(&p, "container", env), 0);
    ask_and_check(&p, "tagcontainer1", "container endpoint");
    assert_true(ts_log_contains(&p.proc, "credentials from container endpoint"));
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

static void test_instance_metadata(void **state)
{
    (void)state;
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d",
             metadata_port);
    const char *const env[] = {"AWS_ACCESS_KEY_ID=",
                               "AWS_PROFILE=",
                               "AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials",
                               "AWS_CONFIG_FILE=/nonexistent/config",
                               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI=",
                               endpoint,
                               NULL};
    struct ts_parleyd p;
    assert_int_equal(start_parleyd(&p, "imds", env), 0);
    ask_and_check(&p, "tagimds1", "instance metadata");
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_container_endpoint),
        cmocka_unit_test(test_instance_metadata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
