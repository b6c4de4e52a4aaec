/* parleyd will not sign tokens with a secret anyone can guess: a short or sample secret stops it
 * at start (by flag, environment or config file) with a message that says how to make one, and
 * `parley token` refuses it the same way. Without any secret it makes a random one and warns.
 * And a SIGTERM that comes as soon as the port opens is a clean shutdown, not a kill. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"
#include "tests/support/redis_admin.h"

static char workdir[512];

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("safe_defaults"));
    return 0;
}

/* Run a shell command (killed after 10 s: a parleyd that accepted what it should refuse would
 * run for ever); its output (stdout and stderr, new) and exit status. */
static char *run(const char *cmd, int *status)
{
    char line[1500];
    snprintf(line, sizeof(line), "timeout 10 sh -c \"%s\"", cmd);
    FILE *p = popen(line, "r");
    assert_non_null(p);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        pl_buf_append(&b, chunk, n);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return pl_buf_take(&b);
}

static void expect_refused(const char *cmd, int want_status, const char *want)
{
    int status;
    char *out = run(cmd, &status);
    if (status != want_status || strcmp(out, want) != 0)
        fail_msg("%s\nexited %d, said:\n%s\nwanted %d and:\n%s", cmd, status, out, want_status,
                 want);
    pl_free(out);
}

static void test_parleyd_refuses_a_guessable_secret(void **state)
{
    (void)state;
    char cmd[1400], path[700];
    snprintf(cmd, sizeof(cmd), "'%s' --jwt-secret a 2>&1", ts_bin("parleyd"));
    expect_refused(cmd, 2,
                   "parleyd: --jwt-secret / PARLEY_JWT_SECRET is 1 bytes long; at least 32 are "
                   "needed, since whoever guesses it can mint admin tokens; make one with: "
                   "openssl rand -hex 32\n");
    snprintf(cmd, sizeof(cmd), "PARLEY_JWT_SECRET=change-me-to-a-long-random-secret '%s' 2>&1",
             ts_bin("parleyd"));
    expect_refused(cmd, 2,
                   "parleyd: --jwt-secret / PARLEY_JWT_SECRET looks like a sample secret (it "
                   "contains \"change-me\"), which anyone can read: whoever knows the secret can "
                   "mint admin tokens; make one with: openssl rand -hex 32\n");
    snprintf(path, sizeof(path), "%s/weak.json", workdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"jwt_secret\":\"changeme\"}", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s' --config '%s' 2>&1", ts_bin("parleyd"), path);
    expect_refused(cmd, 2,
                   "parleyd: --jwt-secret / PARLEY_JWT_SECRET looks like a sample secret (it "
                   "contains \"changeme\"), which anyone can read: whoever knows the secret can "
                   "mint admin tokens; make one with: openssl rand -hex 32\n");
}

/* A --trusted-proxies entry that is not a network (a typing mistake that would trust more or
 * less than meant) stops the server at start, naming it. */
static void test_parleyd_refuses_a_malformed_trusted_proxy(void **state)
{
    (void)state;
    char cmd[1400];
    snprintf(cmd, sizeof(cmd),
             "'%s' --jwt-secret 0123456789abcdef0123456789abcdef --trusted-proxies "
             "'10.0.0.0/8, 10.0.0.1/8' 2>&1",
             ts_bin("parleyd"));
    expect_refused(cmd, 1,
                   "parleyd: --trusted-proxies: \"10.0.0.1/8\" has bits set after its prefix "
                   "(write the network address, e.g. 10.0.0.0/8)\n");
    snprintf(cmd, sizeof(cmd),
             "'%s' --jwt-secret 0123456789abcdef0123456789abcdef --trusted-proxies lb.internal "
             "2>&1",
             ts_bin("parleyd"));
    expect_refused(cmd, 1,
                   "parleyd: --trusted-proxies: \"lb.internal\" is not an IPv4 or IPv6 "
                   "address\n");
}

static void test_parley_token_refuses_a_guessable_secret(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' token --role admin --sub ops --jwt-secret secret 2>&1",
             ts_bin("parley"));
    expect_refused(cmd, 2,
                   "parley token: the secret (--jwt-secret / PARLEY_JWT_SECRET) is 6 bytes long; "
                   "at least 32 are needed, since whoever guesses it can mint admin tokens; make "
                   "one with: openssl rand -hex 32\n");
}

static void test_without_a_secret_a_random_one_is_made_with_a_warning(void **state)
{
    (void)state;
    struct ts_redis redis;
    assert_int_equal(ts_redis_start_with(&redis, workdir, "redis", NULL), 0);
    char listen[64], url[64], log[700];
    int port = ts_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis.port);
    snprintf(log, sizeof(log), "%s/parleyd.log", workdir);
    char bin[512];
    snprintf(bin, sizeof(bin), "%s", ts_bin("parleyd"));
    const char *argv[] = {bin,    "--listen",   listen,  "--redis", url, "--log-format",
                          "text", "--provider", "local", NULL};
    struct ts_proc p;
    assert_int_equal(ts_proc_spawn(&p, "parleyd", (char *const *)argv, NULL, log), 0);
    assert_int_equal(ts_wait_port(&p, port, 15000), 0);
    assert_int_equal(ts_log_count(&p, " warn   auth     no --jwt-secret / PARLEY_JWT_SECRET: "
                                      "using a random secret, so tokens stop working when this "
                                      "process restarts and other instances reject them"),
                     1);
    assert_int_equal(ts_proc_stop(&p, 15000), 0);
    ts_redis_stop(&redis);
}

/* Try to connect without pausing between attempts, so the stop follows the listen() closely. */
static bool port_opens(int port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < timeout_ms);
    return false;
}

/* A supervisor or test may stop parleyd the moment its port accepts: the signal handlers are
 * installed before the port opens, so SIGTERM drains and exits 0 instead of killing the
 * process (which it did, now and then, when the handlers came after the listening socket). */
static void test_a_stop_right_after_the_port_opens_is_a_clean_shutdown(void **state)
{
    (void)state;
    struct ts_redis redis;
    assert_int_equal(ts_redis_start_with(&redis, workdir, "redis", NULL), 0);
    char url[64], log[700], bin[512];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis.port);
    snprintf(log, sizeof(log), "%s/parleyd-stop.log", workdir);
    snprintf(bin, sizeof(bin), "%s", ts_bin("parleyd"));
    for (int i = 0; i < 20; i++) {
        char listen[64];
        int port = ts_free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        const char *argv[] = {bin, "--listen", listen, "--redis", url, "--provider", "local", NULL};
        struct ts_proc p;
        assert_int_equal(ts_proc_spawn(&p, "parleyd", (char *const *)argv, NULL, log), 0);
        assert_true(port_opens(port, 15000));
        int rc = ts_proc_stop(&p, 15000);
        if (rc != 0)
            fail_msg("start %d: parleyd stopped right after its port opened exited %d", i, rc);
    }
    ts_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parleyd_refuses_a_guessable_secret),
        cmocka_unit_test(test_parley_token_refuses_a_guessable_secret),
        cmocka_unit_test(test_parleyd_refuses_a_malformed_trusted_proxy),
        cmocka_unit_test(test_without_a_secret_a_random_one_is_made_with_a_warning),
        cmocka_unit_test(test_a_stop_right_after_the_port_opens_is_a_clean_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
