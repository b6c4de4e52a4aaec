/* Bad input from one caller gets its defined error and leaves every other session alone: a
 * second caller streams an answer throughout and must receive it complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static struct ts_caller bystander; /* streams a long answer while the others misbehave */
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "bad_input", upstream_args, NULL))
        return -1;
    if (ts_caller_open(&bystander, st.parleyd.ws_url, NULL, 0, 0))
        return -1;
    /* 400 tokens at 5 ms: streams for about two seconds, through all the tests below. */
    return ts_caller_message(&bystander, "long", "a long answer please [[tokens:400]]");
}

static int teardown(void **state)
{
    (void)state;
    struct ts_turn t;
    int ok = ts_caller_read_turn(&bystander, 30000, &t);
    /* The bystander's answer arrived whole, gap-free, despite everything. */
    if (ok || !t.seq_ok || t.n_deltas != 400 || strcmp(t.stop_reason, "end_turn") != 0) {
        fprintf(stderr, "bystander turn damaged: n=%ld seq_ok=%d stop=%s\n", t.n_deltas, t.seq_ok,
                t.stop_reason);
        ok = -1;
    }
    ts_turn_free(&t);
    ts_caller_close(&bystander);
    int rc = ts_stack_stop(&st);
    return ok == 0 && rc == 0 ? 0 : -1;
}

/* Send `frame` on a fresh connection (after hello when `ready`) and expect an error `code`. */
static void expect_error(const char *frame, size_t len, bool ready, const char *code)
{
    struct ts_caller c;
    if (ready)
        assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    else
        assert_int_equal(ts_caller_connect(&c, st.parleyd.ws_url), 0);
    assert_int_equal(wsc_send_text(c.ws, frame, len), 0);
    json_t *e = ts_caller_expect(&c, "error", 5000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_false(json_is_true(json_object_get(e, "retryable")));
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 10);
    json_decref(e);
    if (ready) {
        /* The connection survives a bad frame and keeps working. */
        struct ts_turn t;
        assert_int_equal(ts_caller_ask(&c, "after", "still there? [[tokens:2]]", 10000, &t), 0);
        assert_string_equal(t.text, "w1 w2");
        ts_turn_free(&t);
    }
    ts_caller_close(&c);
}

static void test_malformed_json(void **state)
{
    (void)state;
    const char f[] = "{\"type\":\"message\",\"text\":";
    expect_error(f, sizeof(f) - 1, true, "bad_request");
}

static void test_not_an_object(void **state)
{
    (void)state;
    expect_error("[1,2,3]", 7, true, "bad_request");
}

static void test_unknown_type(void **state)
{
    (void)state;
    const char f[] = "{\"type\":\"teleport\"}";
    expect_error(f, sizeof(f) - 1, true, "bad_request");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char f[] = "{\"type\":\"message\",\"id\":\"x\",\"text\":\"caf\xc3\x28\"}";
    expect_error(f, sizeof(f) - 1, true, "bad_request");
}

static void test_message_before_hello(void **state)
{
    (void)state;
    const char f[] = "{\"type\":\"message\",\"id\":\"x\",\"text\":\"hi\"}";
    expect_error(f, sizeof(f) - 1, false, "bad_request");
}

static void test_one_mib_frame(void **state)
{
    (void)state;
    size_t n = 1024 * 1024;
    char *big = pl_malloc(n + 64);
    int k = snprintf(big, n + 64, "{\"type\":\"message\",\"id\":\"big\",\"text\":\"");
    memset(big + k, 'a', n - (size_t)k - 2);
    memcpy(big + n - 2, "\"}", 2);
    expect_error(big, n, true, "too_large");
    pl_free(big);
}

static void test_too_many_characters(void **state)
{
    (void)state;
    char f[4100 + 64];
    int k = snprintf(f, sizeof(f), "{\"type\":\"message\",\"id\":\"long\",\"text\":\"");
    memset(f + k, 'b', 4001);
    memcpy(f + k + 4001, "\"}", 3);
    expect_error(f, strlen(f), true, "too_large");
}

static void test_forged_token(void **state)
{
    (void)state;
    char *tok = ts_token("caller", "mallory", "0123456789abcdef0123456789abcdef", 600);
    /* Flip one character of the signature. */
    size_t n = strlen(tok);
    tok[n - 3] = tok[n - 3] == 'A' ? 'B' : 'A';
    char f[2048];
    snprintf(f, sizeof(f), "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    expect_error(f, strlen(f), false, "unauthorized");
    pl_free(tok);
}

static void test_expired_token(void **state)
{
    (void)state;
    char *tok = ts_token("caller", "late", "0123456789abcdef0123456789abcdef", -10);
    char f[2048];
    snprintf(f, sizeof(f), "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    struct ts_caller c;
    assert_int_equal(ts_caller_connect(&c, st.parleyd.ws_url), 0);
    assert_int_equal(ts_caller_send(&c, f), 0);
    json_t *e = ts_caller_expect(&c, "error", 5000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "unauthorized");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "expired"));
    json_decref(e);
    ts_caller_close(&c);
    pl_free(tok);
}

static void test_agent_token_on_caller_endpoint(void **state)
{
    (void)state;
    char *tok = ts_token("agent", "agent-7", NULL, 600);
    char f[2048];
    snprintf(f, sizeof(f), "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    expect_error(f, strlen(f), false, "forbidden");
    pl_free(tok);
}

static void test_binary_frame(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(wsc_send_frame(c.ws, 0x2, true, "\x01\x02", 2), 0);
    json_t *e = ts_caller_expect(&c, "error", 5000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_request");
    json_decref(e);
    ts_caller_close(&c);
}

static void test_hello_twice(void **state)
{
    (void)state;
    expect_error("{\"type\":\"hello\"}", 16, true, "bad_request");
}

static void test_invalid_websocket_frame_closes_only_that_connection(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    /* A reserved opcode breaks RFC 6455: the server closes this connection. */
    assert_int_equal(wsc_send_frame(c.ws, 0x3, true, "hi", 2), 0);
    char *msg = NULL;
    size_t len;
    int op;
    int rc;
    while ((rc = wsc_recv(c.ws, 5000, &msg, &len, &op)) == 0)
        pl_free(msg);
    assert_int_equal(rc, PL_ECLOSED);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_message_before_hello),
        cmocka_unit_test(test_one_mib_frame),
        cmocka_unit_test(test_too_many_characters),
        cmocka_unit_test(test_forged_token),
        cmocka_unit_test(test_expired_token),
        cmocka_unit_test(test_agent_token_on_caller_endpoint),
        cmocka_unit_test(test_binary_frame),
        cmocka_unit_test(test_hello_twice),
        cmocka_unit_test(test_invalid_websocket_frame_closes_only_that_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
