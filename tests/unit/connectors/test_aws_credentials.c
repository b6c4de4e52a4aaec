/* The AWS credentials chain (connectors/aws_credentials.h) on a real loop and the real HTTP
 * client, against the double of the container endpoint and instance metadata
 * (tests/fakes/fake_aws_metadata.h): the environment source, the shared files (AWS_PROFILE, the
 * credentials file beating the config file, the region), the container endpoint with a token
 * file re-read at each fetch and with a token variable, FULL_URI hosts allowed and refused, the
 * IMDSv2 flow, the IMDSv1 fallback, a 401 answered by a new token, a refresh ahead of the
 * expiry, a failing refresh keeping the old keys until they expire, slow endpoints, the waits,
 * and a log that never holds a key, secret or token. The environment is the test's own table;
 * HOME points at an empty scratch folder, so the machine's ~/.aws is never read. Waiting is
 * polling the loop for a condition with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/http_client.h"
#include "tests/fakes/fake_aws_metadata.h"

static uv_loop_t loop;
static uv_timer_t tick; /* wakes the loop, so a poll's deadline is always checked */
static struct http_client *http;
static struct fake_aws_metadata fake;
static struct aws_credentials *creds;
static char home[64];
static char files[8][128];
static size_t nfiles;
static char err[512];
static char base_url[64];

static struct {
    const char *name;
    char value[256];
} env[16];
static size_t nenv;

static const char *test_getenv(const char *name)
{
    for (size_t i = 0; i < nenv; i++)
        if (strcmp(env[i].name, name) == 0)
            return env[i].value;
    return NULL;
}

static void set_env(const char *name, const char *value)
{
    for (size_t i = 0; i < nenv; i++)
        if (strcmp(env[i].name, name) == 0) {
            snprintf(env[i].value, sizeof env[i].value, "%s", value);
            return;
        }
    assert_true(nenv < sizeof env / sizeof env[0]);
    env[nenv].name = name;
    snprintf(env[nenv].value, sizeof env[nenv].value, "%s", value);
    nenv++;
}

/* Write a scratch file under HOME; returns its path. */
static const char *write_file(const char *name, const char *text)
{
    char *path = NULL;
    for (size_t i = 0; i < nfiles; i++)
        if (strcmp(strrchr(files[i], '/') + 1, name) == 0)
            path = files[i];
    if (!path) {
        assert_true(nfiles < sizeof files / sizeof files[0]);
        path = files[nfiles++];
        snprintf(path, sizeof files[0], "%s/%s", home, name);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

#define RUN_UNTIL(expr, ms)                                                                        \
    do {                                                                                           \
        uint64_t deadline_ = uv_now(&loop) + (ms);                                                 \
        while (!(expr)) {                                                                          \
            assert_true(uv_now(&loop) < deadline_);                                                \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        }                                                                                          \
    } while (0)

static int setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    if (http_client_create(&loop, &http) || fake_aws_metadata_start(&fake, &loop))
        return -1;
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", fake.port);
    snprintf(home, sizeof home, "/tmp/parley-awscreds-XXXXXX");
    if (!mkdtemp(home))
        return -1;
    nfiles = 0;
    nenv = 0;
    set_env("HOME", home);
    creds = NULL;
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    aws_credentials_destroy(creds);
    fake_aws_metadata_stop(&fake);
    http_client_destroy(http);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < nfiles; i++)
        unlink(files[i]);
    char aws[128];
    snprintf(aws, sizeof aws, "%s/.aws", home);
    rmdir(aws);
    rmdir(home);
    return uv_loop_close(&loop) == 0 ? 0 : -1; /* no handle of ours left behind */
}

static int create(uint32_t refresh_before_ms)
{
    struct aws_credentials_options o = {.loop = &loop,
                                        .http = http,
                                        .getenv = test_getenv,
                                        .refresh_before_ms = refresh_before_ms,
                                        .retry_base_ms = 50,
                                        .retry_max_ms = 200,
                                        .fetch_timeout_ms = 1000};
    return aws_credentials_create(&o, &creds, err, sizeof err);
}

static struct pl_sigv4_creds k;
static const char *detail;

static int get(void)
{
    return aws_credentials_get(creds, &k, &detail);
}

static void assert_keys(const char *id, const char *secret, const char *token)
{
    assert_int_equal(get(), PL_OK);
    assert_string_equal(k.access_key_id, id);
    assert_string_equal(k.secret_access_key, secret);
    assert_string_equal(k.session_token, token);
}

static void use_imds(void)
{
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", base_url);
}

/* ---- the environment and the shared files ---- */

static void test_environment(void **state)
{
    (void)state;
    set_env("AWS_ACCESS_KEY_ID", "AKIDENV");
    set_env("AWS_SECRET_ACCESS_KEY", "envsecret");
    set_env("AWS_SESSION_TOKEN", "envtoken");
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "environment");
    assert_keys("AKIDENV", "envsecret", "envtoken");
    assert_null(aws_credentials_profile_region(creds));
    aws_credentials_destroy(creds);

    set_env("AWS_CREDENTIAL_EXPIRATION", "2001-01-01T00:00:00Z"); /* long gone */
    assert_int_equal(create(0), PL_OK);
    assert_int_equal(get(), PL_EUPSTREAM);
    assert_string_equal(detail, "AWS credentials from environment expired at 2001-01-01T00:00:00Z");
    assert_null(k.access_key_id);
    aws_credentials_destroy(creds);

    set_env("AWS_CREDENTIAL_EXPIRATION", "tomorrow");
    creds = NULL;
    assert_int_equal(create(0), PL_EINVAL);
    assert_null(creds);
    assert_string_equal(err, "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time");
    assert_int_equal(fake.puts + fake.container_gets, 0); /* nothing fetched */
}

static const char *const cred_text = "[default]\n"
                                     "aws_access_key_id = AKIDDEFAULT\n"
                                     "aws_secret_access_key = defaultsecret\n"
                                     "[dev]\n"
                                     "aws_access_key_id = AKIDDEVCRED\n"
                                     "aws_secret_access_key = devsecretcred\n";
static const char *const conf_text = "[default]\n"
                                     "region = eu-west-1\n"
                                     "[profile dev]\n"
                                     "region = eu-central-2\n"
                                     "aws_access_key_id = AKIDDEVCONF\n"
                                     "aws_secret_access_key = devsecretconf\n"
                                     "aws_session_token = devtokenconf\n";

static void test_profile_files(void **state)
{
    (void)state;
    set_env("AWS_SHARED_CREDENTIALS_FILE", write_file("creds", cred_text));
    set_env("AWS_CONFIG_FILE", write_file("conf", conf_text));
    set_env("AWS_PROFILE", "dev");
    /* A named profile skips the environment's keys, as the JS SDK does. */
    set_env("AWS_ACCESS_KEY_ID", "AKIDENV");
    set_env("AWS_SECRET_ACCESS_KEY", "envsecret");
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "profile dev");
    /* The credentials file's values win key by key; the token only the config file has. */
    assert_keys("AKIDDEVCRED", "devsecretcred", "devtokenconf");
    assert_string_equal(aws_credentials_profile_region(creds), "eu-central-2");
    aws_credentials_destroy(creds);

    /* Without AWS_PROFILE: the environment's keys, with the default profile's region. */
    set_env("AWS_PROFILE", "");
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "environment");
    assert_keys("AKIDENV", "envsecret", "");
    assert_string_equal(aws_credentials_profile_region(creds), "eu-west-1");
    aws_credentials_destroy(creds);

    /* A malformed file is refused, naming the line, never a value. */
    set_env("AWS_ACCESS_KEY_ID", "");
    write_file("conf", "[default]\nregion = eu-west-1\nnot a key line\n");
    creds = NULL;
    assert_int_equal(create(0), PL_EINVAL);
    assert_non_null(strstr(err, "config line 3"));
    assert_null(strstr(err, "eu-west-1"));
}

static void test_profile_under_home(void **state)
{
    (void)state;
    char aws[128];
    snprintf(aws, sizeof aws, "%s/.aws", home);
    assert_int_equal(mkdir(aws, 0700), 0);
    write_file(".aws/credentials", cred_text);
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "profile default");
    assert_keys("AKIDDEFAULT", "defaultsecret", "");
    assert_null(aws_credentials_profile_region(creds)); /* no ~/.aws/config */
}

static void test_profile_without_keys_goes_on(void **state)
{
    (void)state;
    set_env("AWS_CONFIG_FILE",
            write_file("conf", "[profile ops]\nrole_arn = arn:aws:iam::1:role/x\n"
                               "source_profile = default\nregion = us-east-2\n"));
    set_env("AWS_PROFILE", "ops");
    use_imds();
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "instance metadata");
    assert_string_equal(aws_credentials_profile_region(creds), "us-east-2");
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
}

/* ---- the container endpoint ---- */

static int wait_calls;
static void on_ready(void *ud)
{
    (void)ud;
    wait_calls++;
}

static void test_container_token_file(void **state)
{
    (void)state;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/container/v2/credentials", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", write_file("token", "file-token-1\n"));
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token-loses");
    fake.container_auth = "file-token-1";
    fake.expires_in_ms = 1500;
    assert_int_equal(create(1000), PL_OK); /* refresh 0.5 s after the first fetch */
    assert_string_equal(aws_credentials_source_name(creds), "container endpoint");
    assert_int_equal(get(), PL_EBUSY);
    wait_calls = 0;
    aws_credentials_wait(creds, on_ready, NULL);
    RUN_UNTIL(wait_calls == 1, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    assert_string_equal(fake.last_authorization, "file-token-1"); /* raw: no "Bearer" */

    /* The file is read again for the refresh. */
    write_file("token", "file-token-2");
    fake.container_auth = "file-token-2";
    fake.expires_in_ms = 3600 * 1000;
    RUN_UNTIL(fake.container_gets == 2 && get() == PL_OK && strcmp(k.access_key_id, "AKID2") == 0,
              5000);
    assert_keys("AKID2", "SECRET2", "TOKEN2");
    assert_string_equal(fake.last_authorization, "file-token-2");
    assert_int_equal(fake.rejected, 0);
    assert_int_equal(wait_calls, 1);
}

static void test_container_token_env(void **state)
{
    (void)state;
    char rel_base[128];
    snprintf(rel_base, sizeof rel_base, "%s/container/creds", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", rel_base);
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc==");
    fake.container_auth = "Basic abc==";
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    assert_int_equal(fake.container_gets, 1);
    assert_string_equal(fake.last_authorization, "Basic abc==");
    aws_credentials_destroy(creds);

    /* A wrong token: a failed first fetch, explained without the token. */
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token");
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_int_equal(get(), PL_EUPSTREAM);
    assert_string_equal(detail,
                        "no AWS credentials from container endpoint: container endpoint answered "
                        "HTTP 401");
}

static void test_container_token_file_missing(void **state)
{
    (void)state;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/container/creds", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/parley/token");
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_int_equal(get(), PL_EUPSTREAM);
    assert_string_equal(detail,
                        "no AWS credentials from container endpoint: cannot read "
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: No such file or directory");
    assert_int_equal(fake.container_gets, 0);
}

static void test_full_uri_hosts(void **state)
{
    (void)state;
    const char *allowed[] = {"https://creds.example.com/x", "http://127.0.0.1:9/x",
                             "http://127.3.4.5/x",          "http://localhost:80/x",
                             "http://169.254.170.2/v2",     "http://169.254.170.23/v1/credentials",
                             "http://[fd00:ec2::23]/v1",    "http://[::1]:8080/x",
                             "HTTP://LOCALHOST/x"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed[i]);
        creds = NULL;
        assert_int_equal(create(0), PL_OK);
        aws_credentials_destroy(creds); /* before the loop runs: nothing was fetched */
        creds = NULL;
    }
    const char *refused[] = {"http://10.0.0.1/creds", "http://169.254.170.2.evil.example/x",
                             "http://127.0.0.1@evil.example/x", "http://[fd00:ec2::24]/x",
                             "http://metadata.internal/x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i]);
        assert_int_equal(create(0), PL_EINVAL);
        assert_null(creds);
    }
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds");
    create(0);
    assert_string_equal(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a "
                             "loopback address, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23], "
                             "not to 10.0.0.1; use https");
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/x");
    assert_int_equal(create(0), PL_EINVAL);
    assert_string_equal(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL");
    /* The relative URI wins, and goes to the ECS host. */
    set_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash");
    assert_int_equal(create(0), PL_EINVAL);
    assert_string_equal(err, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a path");
    set_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "container endpoint");
}

/* ---- instance metadata ---- */

static void test_imds_v2(void **state)
{
    (void)state;
    use_imds();
    assert_int_equal(create(0), PL_OK);
    assert_string_equal(aws_credentials_source_name(creds), "instance metadata");
    assert_int_equal(get(), PL_EBUSY);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    assert_int_equal(fake.puts, 1);
    assert_int_equal(fake.role_gets, 1);
    assert_int_equal(fake.creds_gets, 1);
    assert_int_equal(fake.v1_gets, 0);
    assert_int_equal(fake.rejected, 0);
}

static void test_imds_v1_fallback(void **state)
{
    (void)state;
    use_imds();
    const int statuses[] = {403, 404, 405};
    for (size_t i = 0; i < 3; i++) {
        fake.put_status = statuses[i];
        fake.puts = fake.v1_gets = 0;
        assert_int_equal(create(0), PL_OK);
        RUN_UNTIL(get() != PL_EBUSY, 5000);
        assert_int_equal(get(), PL_OK);
        assert_int_equal(fake.puts, 1);
        assert_int_equal(fake.v1_gets, 2); /* the role, then its keys, without a token */
        aws_credentials_destroy(creds);
        creds = NULL;
    }
    /* Another status of the PUT is a failure, not a fallback. */
    fake.put_status = 500;
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_int_equal(get(), PL_EUPSTREAM);
    assert_string_equal(detail, "no AWS credentials: environment, profile default, container "
                                "endpoint and instance metadata all absent (instance metadata: "
                                "instance metadata token answered HTTP 500)");
}

static void test_imds_v1_refused_goes_back_to_v2(void **state)
{
    (void)state;
    use_imds();
    fake.put_status = 405; /* no tokens: IMDSv1 */
    fake.expires_in_ms = 1500;
    assert_int_equal(create(1000), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    assert_int_equal(fake.v1_gets, 2);
    /* Now tokens are required (IMDSv1 answers 401): the refresh fetches one. */
    fake.put_status = 0;
    fake.expires_in_ms = 3600 * 1000;
    RUN_UNTIL(get() == PL_OK && strcmp(k.access_key_id, "AKID2") == 0, 5000);
    assert_int_equal(fake.puts, 2);
    assert_int_equal(fake.rejected, 1);
    assert_int_equal(fake.v1_gets, 3);
}

static void test_imds_401_refetches_token(void **state)
{
    (void)state;
    use_imds();
    fake.unauthorized_once = true;
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    assert_int_equal(fake.puts, 2);
    assert_int_equal(fake.role_gets, 2);
    assert_int_equal(fake.creds_gets, 1);
    assert_int_equal(fake.rejected, 1);
}

static void test_imds_refresh_reuses_token(void **state)
{
    (void)state;
    use_imds();
    fake.expires_in_ms = 1500;
    assert_int_equal(create(1000), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    fake.expires_in_ms = 3600 * 1000;
    RUN_UNTIL(fake.creds_gets == 2 && get() == PL_OK && strcmp(k.access_key_id, "AKID2") == 0,
              5000);
    assert_keys("AKID2", "SECRET2", "TOKEN2");
    assert_int_equal(fake.puts, 1); /* the session token lives six hours */
}

static void test_imds_disabled(void **state)
{
    (void)state;
    use_imds();
    set_env("AWS_EC2_METADATA_DISABLED", "TRUE");
    assert_int_equal(create(0), PL_ENOTFOUND);
    assert_null(creds);
    assert_string_equal(err, "no AWS credentials: environment, profile default and container "
                             "endpoint absent, and instance metadata disabled "
                             "(AWS_EC2_METADATA_DISABLED)");
    assert_int_equal(fake.puts, 0);
}

static void test_slow_endpoints(void **state)
{
    (void)state;
    use_imds();
    fake.delay_ms = 600;
    struct aws_credentials_options o = {
        .loop = &loop, .http = http, .getenv = test_getenv, .fetch_timeout_ms = 200};
    assert_int_equal(aws_credentials_create(&o, &creds, err, sizeof err), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_int_equal(get(), PL_EUPSTREAM);
    /* The PUT timed out (IMDSv1 then, as the SDKs do), and so did the GET. */
    assert_int_equal(fake.puts, 1);
    assert_int_equal(fake.v1_gets, 1);
    assert_non_null(strstr(detail, "instance metadata all absent (instance metadata: instance "
                                   "metadata: ETIMEDOUT"));
    /* Destroyed with a retry pending and answers still coming: nothing left behind. */
}

/* ---- refresh and failure ---- */

static void test_failed_refresh_keeps_keys(void **state)
{
    (void)state;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/container/creds", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    fake.expires_in_ms = 2500;
    assert_int_equal(create(2000), PL_OK); /* refresh at 0.5 s, expiry at 2.5 s */
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    fake.creds_status = 503;
    RUN_UNTIL(fake.container_gets >= 3, 5000); /* the refresh and a retry failed */
    assert_keys("AKID1", "SECRET1", "TOKEN1");
    RUN_UNTIL(get() == PL_EUPSTREAM, 5000); /* until they expire */
    assert_non_null(strstr(detail, "AWS credentials from container endpoint expired at "));
    assert_non_null(strstr(detail, "; refresh failing: container endpoint answered HTTP 503"));
    fake.creds_status = 0;
    RUN_UNTIL(get() == PL_OK, 5000); /* the retries go on, with backoff */
    assert_int_equal(k.access_key_id[0], 'A');
    assert_true(strcmp(k.access_key_id, "AKID1") != 0);
}

static void test_oversized_reply_is_retried(void **state)
{
    (void)state;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/container/creds", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    fake.pad_bytes = 70000;
    assert_int_equal(create(0), PL_OK);
    RUN_UNTIL(get() != PL_EBUSY, 5000);
    assert_int_equal(get(), PL_EUPSTREAM);
    assert_string_equal(detail, "no AWS credentials from container endpoint: reply larger than "
                                "65536 bytes");
    fake.pad_bytes = 1000; /* within the bound: the next retry succeeds */
    RUN_UNTIL(get() == PL_OK, 5000);
    assert_int_equal(k.access_key_id[0], 'A');
}

/* ---- waits ---- */

static void destroy_in_callback(void *ud)
{
    (void)ud;
    wait_calls++;
    aws_credentials_destroy(creds);
    creds = NULL;
}

static void test_waits(void **state)
{
    (void)state;
    use_imds();
    assert_int_equal(create(0), PL_OK);
    wait_calls = 0;
    struct aws_credentials_wait *cancelled = aws_credentials_wait(creds, on_ready, NULL);
    aws_credentials_wait(creds, on_ready, NULL);
    aws_credentials_wait(creds, on_ready, NULL);
    aws_credentials_wait_cancel(cancelled);
    RUN_UNTIL(wait_calls == 2, 5000);
    assert_int_equal(get(), PL_OK);
    /* Once ready, a wait is still answered from the loop, not from inside the call. */
    aws_credentials_wait(creds, on_ready, NULL);
    assert_int_equal(wait_calls, 2);
    RUN_UNTIL(wait_calls == 3, 1000);
    /* A callback may destroy the source, even with another waiter after it. */
    aws_credentials_wait(creds, destroy_in_callback, NULL);
    aws_credentials_wait(creds, on_ready, NULL);
    RUN_UNTIL(creds == NULL, 1000);
    assert_int_equal(wait_calls, 4);
}

/* ---- the log ---- */

static void test_log_never_holds_secrets(void **state)
{
    (void)state;
    enum pl_log_level was = pl_log_threshold;
    pl_log_setup(PL_LOG_DEBUG, PL_LOG_TEXT);
    char path[128];
    snprintf(path, sizeof path, "%s/log", home);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);

    fake.key_prefix = "AKIDFAKE";
    fake.secret_prefix = "fakesecretvalue";
    fake.token_prefix = "faketokenvalue";
    /* Every source and path that logs: environment, container with a token file (success,
     * refresh, failures), IMDS with the v1 fallback and a 401. */
    set_env("AWS_ACCESS_KEY_ID", "AKIDENVLOG");
    set_env("AWS_SECRET_ACCESS_KEY", "envsecretlog");
    set_env("AWS_SESSION_TOKEN", "envtokenlog");
    create(0);
    aws_credentials_destroy(creds);
    set_env("AWS_ACCESS_KEY_ID", "");
    char uri[128];
    snprintf(uri, sizeof uri, "%s/container/creds", base_url);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", write_file("token", "filetokenlog"));
    fake.container_auth = "filetokenlog";
    fake.expires_in_ms = 1500;
    create(1000);
    RUN_UNTIL(fake.container_gets == 1 && get() == PL_OK, 5000);
    fake.creds_status = 500;
    RUN_UNTIL(fake.container_gets == 3, 5000);
    aws_credentials_destroy(creds);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "");
    fake.creds_status = 0;
    use_imds();
    fake.unauthorized_once = true;
    create(0);
    RUN_UNTIL(get() == PL_OK, 5000);
    aws_credentials_destroy(creds);
    fake.put_status = 405;
    create(0);
    RUN_UNTIL(get() == PL_OK, 5000);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    pl_log_setup(was, PL_LOG_TEXT);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    unlink(path);
    const char *secrets[] = {"AKIDFAKE",     "fakesecretvalue", "faketokenvalue", "AKIDENVLOG",
                             "envsecretlog", "envtokenlog",     "filetokenlog",   "imds-token"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(text, secrets[i])) {
            fprintf(stderr, "log holds %s:\n%s", secrets[i], text);
            fail();
        }
    /* It does say where the keys came from and when they expire. */
    assert_non_null(strstr(text, "AWS credentials from environment (no expiry)"));
    assert_non_null(strstr(text, "AWS credentials from container endpoint, expiring 20"));
    assert_non_null(strstr(text, "AWS credentials from instance metadata, expiring 20"));
    assert_non_null(strstr(text, "using IMDSv1"));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_under_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_without_keys_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_token_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_token_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_token_file_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_uri_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v1_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v1_refused_goes_back_to_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_401_refetches_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_refresh_reuses_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_refresh_keeps_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_reply_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_never_holds_secrets, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
