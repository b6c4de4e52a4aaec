/* What parleyd takes from callers before it stores anything. Tokens are refused when their clock
 * claims do not hold or they live too long: an nbf or iat more than 60 s ahead, an exp further
 * ahead than --max-token-ttl; each refusal is 401 unauthorized with a message that says what is
 * wrong, on HTTP and on the caller WebSocket. The short strings a caller gives (a session's
 * channel and caller fields, a message's client id) may hold no control characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const parleyd_args[] = {"--max-token-ttl", "3600", "--token-ttl", "1800", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "auth_input", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

/* A token of `role` signed with the test secret, its clock claims relative to now (nbf left out
 * when nbf_in is 0). */
static char *token_at(const char *role, const char *sid, long iat_in, long nbf_in, long exp_in)
{
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    auth_role_parse(role, &c.role);
    snprintf(c.sub, sizeof(c.sub), "clock-test");
    if (sid)
        snprintf(c.sid, sizeof(c.sid), "%s", sid);
    long long now = (long long)time(NULL);
    c.iat = now + iat_in;
    c.nbf = nbf_in ? now + nbf_in : 0;
    c.exp = now + exp_in;
    return auth_token_mint((const unsigned char *)TS_JWT_SECRET, strlen(TS_JWT_SECRET), &c);
}

/* POST /v1/sessions with `token`: its status, and the error's message (or "") in msg. */
static long post_sessions(const char *token, char *msg, size_t cap)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, token, "{}", &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    snprintf(msg, cap, "%s", e ? json_string_value(json_object_get(e, "message")) : "");
    if (e) {
        assert_string_equal(json_string_value(json_object_get(e, "code")), "unauthorized");
        assert_true(json_is_false(json_object_get(e, "retryable")));
    }
    json_decref(j);
    long status = r.status;
    ts_http_reply_free(&r);
    return status;
}

static void expect_http(const char *token, long status, const char *message)
{
    char msg[400];
    assert_int_equal(post_sessions(token, msg, sizeof(msg)), status);
    assert_string_equal(msg, message);
}

static void test_http_clock_claims(void **state)
{
    (void)state;
    char *t = token_at("admin", NULL, 0, 3600, 1800);
    expect_http(t, 401,
                "the token is not valid yet (its nbf is in the future); check the clock of the "
                "system that made it");
    pl_free(t);
    t = token_at("admin", NULL, 600, 0, 1800);
    expect_http(t, 401,
                "the token was issued in the future (its iat is ahead of this server's clock); "
                "check the clock of the system that made it");
    pl_free(t);
    /* Within the 60 s leeway: a clock a little ahead is fine. */
    t = token_at("admin", NULL, 30, 30, 1800);
    expect_http(t, 201, "");
    pl_free(t);
}

static void test_http_maximum_lifetime(void **state)
{
    (void)state;
    char *t = token_at("admin", NULL, 0, 0, 2 * 86400);
    expect_http(t, 401,
                "the token lives too long (its exp is further ahead than this server's "
                "--max-token-ttl allows); mint one with a shorter lifetime");
    pl_free(t);
    t = token_at("admin", NULL, 0, 0, 3600);
    expect_http(t, 201, "");
    pl_free(t);
}

static void test_websocket_refusals_say_why(void **state)
{
    (void)state;
    char sid[33];
    char *caller = ts_session_create(st.parleyd.url, sid);
    assert_non_null(caller);
    struct {
        long iat, nbf, exp;
        const char *message;
    } cases[] = {
        {0, 3600, 1800,
         "the token is not valid yet (its nbf is in the future); check the clock of the system "
         "that made it"},
        {7200, 0, 1800,
         "the token was issued in the future (its iat is ahead of this server's clock); check "
         "the clock of the system that made it"},
        {0, 0, 7200,
         "the token lives too long (its exp is further ahead than this server's --max-token-ttl "
         "allows); mint one with a shorter lifetime"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = token_at("caller", sid, cases[i].iat, cases[i].nbf, cases[i].exp);
        char frame[2048];
        snprintf(frame, sizeof(frame), "{\"type\":\"hello\",\"token\":\"%s\"}", t);
        struct ts_caller c;
        assert_int_equal(ts_caller_connect(&c, st.parleyd.ws_url), 0);
        assert_int_equal(ts_caller_send(&c, frame), 0);
        json_t *e = ts_caller_expect(&c, "error", 5000);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "code")), "unauthorized");
        assert_string_equal(json_string_value(json_object_get(e, "message")), cases[i].message);
        json_decref(e);
        ts_caller_close(&c);
        pl_free(t);
    }
    /* The token the server issued is within its own limits. */
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, caller, 0, 0), 0);
    ts_caller_close(&c);
    pl_free(caller);
}

/* POST /v1/sessions with `body` and an admin token: 400 bad_request with `message`. */
static void expect_bad_request(const char *body, const char *message)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    char *admin = ts_token("admin", "ops", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin, body, &r), 0);
    assert_int_equal(r.status, 400);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_request");
    assert_string_equal(json_string_value(json_object_get(e, "message")), message);
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(admin);
}

static void test_session_fields_refuse_control_characters(void **state)
{
    (void)state;
    expect_bad_request("{\"channel\":\"web\\r\\nX: 1\"}",
                       "channel must not contain control characters (line breaks, tabs, escapes)");
    expect_bad_request("{\"channel\":\"voice\\u001b[2J\"}",
                       "channel must not contain control characters (line breaks, tabs, escapes)");
    expect_bad_request("{\"caller\":{\"name\":\"Ada\\nLovelace\"}}",
                       "caller.name must not contain control characters (line breaks, tabs, "
                       "escapes)");
    expect_bad_request(
        "{\"caller\":{\"id\":\"c\\t1\"}}",
        "caller.id must not contain control characters (line breaks, tabs, escapes)");
    expect_bad_request("{\"caller\":{\"policy_number\":\"P\\u009b1\"}}",
                       "caller.policy_number must not contain control characters (line breaks, "
                       "tabs, escapes)");
    /* Nothing was created by any of them; a clean one is. */
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    char *admin = ts_token("admin", "ops", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin,
                             "{\"channel\":\"voice\",\"caller\":{\"name\":\"Zo\u00eb\"}}", &r),
                     0);
    assert_int_equal(r.status, 201);
    ts_http_reply_free(&r);
    pl_free(admin);
}

static void test_client_ids_refuse_control_characters(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(
        ts_caller_send(&c, "{\"type\":\"message\",\"id\":\"m\\r\\n1\",\"text\":\"hi\"}"), 0);
    json_t *e = ts_caller_expect(&c, "error", 5000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_request");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "message: \"id\" must be a string of 1 to 128 bytes without control "
                        "characters (a client id to match the ack)");
    json_decref(e);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_clock_claims),
        cmocka_unit_test(test_http_maximum_lifetime),
        cmocka_unit_test(test_websocket_refusals_say_why),
        cmocka_unit_test(test_session_fields_refuse_control_characters),
        cmocka_unit_test(test_client_ids_refuse_control_characters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
