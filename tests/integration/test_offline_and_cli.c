/* The offline default and the terminal client: with no model configured parleyd answers with
 * the local provider's text, streamed word by word, and `parley chat` prints exactly that;
 * `parley token` mints tokens parleyd accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "connectors/local_reply.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const parleyd_args[] = {"--local-pace-ms", "2", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "offline", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st); /* fails unless parleyd exited cleanly */
}

/* Run a shell command; return its stdout (new) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        pl_buf_append(&b, chunk, n);
    int wait_status = pclose(p);
    *status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    if (!b.data)
        pl_buf_append_str(&b, "");
    return pl_buf_take(&b);
}

static void test_local_provider_streams_its_reply(void **state)
{
    (void)state;
    const char *q = "Does my home insurance cover a burst pipe?";
    char *want = local_reply_text(q, NULL);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "o1", q, 10000, &t), 0);
    assert_string_equal(t.text, want);
    assert_true(t.n_deltas > 5); /* word by word, not one block */
    assert_true(t.seq_ok);
    assert_string_equal(t.stop_reason, "end_turn");
    assert_non_null(strstr(t.text, "No AI model is configured"));
    ts_turn_free(&t);
    ts_caller_close(&c);
    pl_free(want);
}

static void test_parley_chat_prints_the_answer(void **state)
{
    (void)state;
    const char *q = "What is my excess?";
    char *want = local_reply_text(q, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' chat %s --message '%s' 2>/dev/null", ts_bin("parley"),
             st.parleyd.url, q);
    int status;
    char *out = run(cmd, &status);
    assert_int_equal(status, 0);
    struct pl_buf expect;
    pl_buf_init(&expect, SIZE_MAX);
    pl_buf_printf(&expect, "%s\n", want);
    assert_string_equal(out, expect.data);
    pl_buf_cleanup(&expect);
    pl_free(out);
    pl_free(want);
}

static void test_parley_token_is_accepted(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' token --role admin --sub ops --ttl 60 --jwt-secret '%s'",
             ts_bin("parley"), TS_JWT_SECRET);
    int status;
    char *tok = run(cmd, &status);
    assert_int_equal(status, 0);
    tok[strcspn(tok, "\n")] = 0;
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, tok, "{}", &r), 0);
    assert_int_equal(r.status, 201);
    ts_http_reply_free(&r);
    /* A caller token is not enough to create sessions. */
    snprintf(cmd, sizeof(cmd),
             "'%s' token --role caller --sub c --session 0123456789abcdef0123456789abcdef "
             "--jwt-secret '%s'",
             ts_bin("parley"), TS_JWT_SECRET);
    char *caller = run(cmd, &status);
    caller[strcspn(caller, "\n")] = 0;
    assert_int_equal(ts_http("POST", url, caller, "{}", &r), 0);
    assert_int_equal(r.status, 403);
    ts_http_reply_free(&r);
    pl_free(caller);
    pl_free(tok);
}

/* An option parleyd does not know stops it at start, with a message that names it: never
 * accepted and ignored. */
static void test_unknown_options_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        const char *args;
        const char *want;
    } cases[] = {
        {"", "--no-such-option", "unknown option \"--no-such-option\""},
        {"", "--web-dir=/tmp", "unknown option \"--web-dir=/tmp\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s '%s' %s 2>&1", cases[i].env, ts_bin("parleyd"),
                 cases[i].args);
        int status;
        char *out = run(cmd, &status);
        assert_int_equal(status, 2);
        if (!strstr(out, cases[i].want))
            fail_msg("%s said \"%s\"", cmd, out);
        pl_free(out);
    }
    /* In a config file too. */
    char path[700], cmd[1600];
    snprintf(path, sizeof(path), "%s/unknown-key.json", st.workdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"web_dir\":\"/tmp\"}", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s' --config '%s' 2>&1", ts_bin("parleyd"), path);
    int status;
    char *out = run(cmd, &status);
    assert_int_equal(status, 2);
    if (!strstr(out, "unknown option \"web_dir\""))
        fail_msg("%s said \"%s\"", cmd, out);
    pl_free(out);
    /* Ambient AWS credentials are no option: parleyd starts (and --help works). */
    snprintf(cmd, sizeof(cmd), "AWS_ACCESS_KEY_ID=x '%s' --help >/dev/null 2>&1",
             ts_bin("parleyd"));
    out = run(cmd, &status);
    assert_int_equal(status, 0);
    pl_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_provider_streams_its_reply),
        cmocka_unit_test(test_parley_chat_prints_the_answer),
        cmocka_unit_test(test_parley_token_is_accepted),
        cmocka_unit_test(test_unknown_options_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
