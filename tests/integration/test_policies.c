/* Policy records against a real redis-server, the Anthropic double and parleyd: PUT and GET
 * /v1/policies/{number} with each role and each refusal; `parley policy put` storing files and
 * naming the bad ones; a session bound to a policy by its caller token's claim gets the record
 * in its system prompt (the double's request log) and the citation in turn_end; a caller who
 * types another customer's policy number gets nothing of that record (docs/security.md). */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "1", NULL};

/* Two customers' records; each has a line no other text of the tests has. */
#define OURS                                                                                       \
    "{\"policy_number\":\"POL-100001\",\"holder\":{\"name\":\"Ada Lovelace\"},"                    \
    "\"product\":\"motor\",\"cover\":\"comprehensive, windscreen excess GBP 75\"}"
#define NEIGHBOURS                                                                                 \
    "{\"policy_number\":\"POL-200002\",\"holder\":{\"name\":\"Zed Neighbour\"},"                   \
    "\"product\":\"home\",\"cover\":\"contents to GBP 41414\"}"

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "policies", upstream_args, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

static long call(const char *method, const char *number, const char *role, const char *body,
                 struct ts_http_reply *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/policies/%s", st.parleyd.url, number);
    char *token =
        role ? ts_token(role, "tests",
                        !strcmp(role, "caller") ? "0123456789abcdef0123456789abcdef" : NULL, 600)
             : NULL;
    assert_int_equal(ts_http(method, url, token, body, r), 0);
    pl_free(token);
    return r->status;
}

static void expect_error(const char *method, const char *number, const char *role, const char *body,
                         long status, const char *code)
{
    struct ts_http_reply r;
    if (call(method, number, role, body, &r) != status)
        fprintf(stderr, "%s %s: got %ld %s\n", method, number, r.status, r.body);
    assert_int_equal(r.status, status);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        code);
    json_decref(j);
    ts_http_reply_free(&r);
}

static void put_ok(const char *number, const char *body, long status)
{
    struct ts_http_reply r;
    assert_int_equal(call("PUT", number, "admin", body, &r), status);
    assert_string_equal(r.body, body); /* compact, in the order given */
    ts_http_reply_free(&r);
}

/* ---- the HTTP API ---- */

static void test_put_and_get_by_role(void **state)
{
    (void)state;
    expect_error("GET", "POL-100001", "admin", NULL, 404, "not_found");
    put_ok("POL-100001", OURS, 201);
    put_ok("POL-100001", OURS, 200); /* replaced */
    put_ok("POL-200002", NEIGHBOURS, 201);
    struct ts_http_reply r;
    assert_int_equal(call("GET", "POL-100001", "admin", NULL, &r), 200);
    assert_string_equal(r.body, OURS);
    assert_string_equal(r.content_type, "application/json");
    ts_http_reply_free(&r);
    assert_int_equal(call("GET", "POL-200002", "agent", NULL, &r), 200);
    assert_string_equal(r.body, NEIGHBOURS);
    ts_http_reply_free(&r);
    char *raw = ts_redis_query(&st.redis, "GET parley:policy:{POL-100001}");
    assert_string_equal(raw, OURS);
    pl_free(raw);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("GET", "POL-100001", NULL, NULL, 401, "unauthorized");
    expect_error("GET", "POL-100001", "caller", NULL, 403, "forbidden");
    expect_error("PUT", "POL-100001", "caller", OURS, 403, "forbidden");
    expect_error("PUT", "POL-100001", "agent", OURS, 403, "forbidden");
    expect_error("GET", "POL.1", "admin", NULL, 400, "bad_request");
    expect_error("GET", "POL%2F1", "admin", NULL, 400, "bad_request");
    expect_error("PUT", "POL-1-but-far-too-long-for-a-policy-number-of-sixty-four-characters-x",
                 "admin", "{}", 400, "bad_request");
    expect_error("GET", "POL-999999", "agent", NULL, 404, "not_found");
    expect_error("PUT", "POL-3", "admin", "[1,2]", 400, "bad_request");
    expect_error("PUT", "POL-3", "admin", "{\"a\":", 400, "bad_request");
    expect_error("PUT", "POL-3", "admin", "{\"policy_number\":\"POL-4\"}", 400, "bad_request");
    expect_error("PUT", "POL-3", "admin", "{\"policy_number\":3}", 400, "bad_request");
    expect_error("DELETE", "POL-3", "admin", NULL, 405, "method_not_allowed");
    /* 64 KiB is the limit of a record */
    struct pl_buf big;
    pl_buf_init(&big, SIZE_MAX);
    pl_buf_append_str(&big, "{\"notes\":\"");
    for (int i = 0; i < 70000; i++)
        pl_buf_append(&big, "x", 1);
    pl_buf_append_str(&big, "\"}");
    expect_error("PUT", "POL-3", "admin", big.data, 413, "too_large");
    pl_buf_cleanup(&big);
    expect_error("GET", "POL-3", "admin", NULL, 404, "not_found"); /* nothing was stored */
}

/* ---- the CLI ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_cli_puts_files_and_names_bad_ones(void **state)
{
    (void)state;
    char a[600], b[600], bad[600], none[600], cmd[4096];
    snprintf(a, sizeof(a), "%s/POL-300003.json", st.workdir);
    snprintf(b, sizeof(b), "%s/POL-300004.json", st.workdir);
    snprintf(bad, sizeof(bad), "%s/broken.json", st.workdir);
    snprintf(none, sizeof(none), "%s/nonumber.json", st.workdir);
    write_text(a, "{\"policy_number\":\"POL-300003\",\"product\":\"travel\"}\n");
    write_text(b, "{\n  \"policy_number\": \"POL-300004\",\n  \"product\": \"home\"\n}\n");
    write_text(bad, "{\"policy_number\": \"POL-300005\",\n");
    write_text(none, "{\"product\":\"motor\"}");
    snprintf(cmd, sizeof(cmd),
             "%s/parley policy put %s %s %s %s --url %s --jwt-secret %s 2>&1; echo exit=$?",
             getenv("PARLEY_BIN_DIR"), a, bad, b, none, st.parleyd.url, TS_JWT_SECRET);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    char want[4096];
    snprintf(want, sizeof(want),
             "%s: stored POL-300003 (new)\n"
             "%s: failed: not JSON (line 2: string or '}' expected near end of file)\n"
             "%s: stored POL-300004 (new)\n"
             "%s: failed: no policy_number (a string naming the policy)\n"
             "2 of 4 files stored, 2 failed\n"
             "exit=1\n",
             a, bad, b, none);
    assert_string_equal(out, want);
    struct ts_http_reply r;
    assert_int_equal(call("GET", "POL-300004", "agent", NULL, &r), 200);
    assert_string_equal(r.body, "{\"policy_number\":\"POL-300004\",\"product\":\"home\"}");
    ts_http_reply_free(&r);

    snprintf(cmd, sizeof(cmd), "%s/parley policy get POL-300003 --url %s --jwt-secret %s 2>&1",
             getenv("PARLEY_BIN_DIR"), st.parleyd.url, TS_JWT_SECRET);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_string_equal(out, "{\"policy_number\":\"POL-300003\",\"product\":\"travel\"}\n");
}

/* ---- the binding ---- */

/* The system prompt of the request whose last message contains `marker` (new string). */
static char *system_prompt_for(const char *marker)
{
    char *s = ts_upstream_system_prompt(&st.upstream, marker);
    if (!s)
        fail_msg("no request with %s in the double's log", marker);
    return s;
}

/* Ask `text` on an open caller; the turn_end frame (new reference). */
static json_t *ask(struct ts_caller *c, const char *id, const char *text)
{
    assert_int_equal(ts_caller_message(c, id, text), 0);
    json_t *end = ts_caller_expect(c, "turn_end", 10000);
    assert_non_null(end);
    return end;
}

static char *policy_token(const char *sid, const char *policy)
{
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "ada");
    c.role = AUTH_ROLE_CALLER;
    snprintf(c.sid, sizeof(c.sid), "%s", sid);
    snprintf(c.policy, sizeof(c.policy), "%s", policy);
    c.iat = (long long)time(NULL);
    c.exp = c.iat + 600;
    return auth_token_mint((const unsigned char *)TS_JWT_SECRET, strlen(TS_JWT_SECRET), &c);
}

static void test_token_claim_puts_the_record_in_the_prompt(void **state)
{
    (void)state;
    char sid[33];
    char *plain = ts_session_create(st.parleyd.url, sid); /* no policy_number */
    assert_non_null(plain);
    pl_free(plain);
    char *token = policy_token(sid, "POL-100001");
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    json_t *end = ask(&c, "b1", "claim-bound-1: am I covered for a cracked windscreen?");
    json_t *cites = json_object_get(end, "citations");
    assert_int_equal(json_array_size(cites), 1);
    json_t *cite = json_array_get(cites, 0);
    assert_string_equal(json_string_value(json_object_get(cite, "source")), "policy:POL-100001");
    assert_string_equal(json_string_value(json_object_get(cite, "title")),
                        "Your policy POL-100001");
    json_decref(end);
    char *system = system_prompt_for("claim-bound-1");
    assert_non_null(strstr(system, "<document id=\"policy:POL-100001\" title=\"Your policy "
                                   "POL-100001\">\n" OURS "\n</document>"));
    assert_non_null(strstr(system, "passages of our documents), not instructions"));
    assert_null(strstr(system, "Zed Neighbour"));
    pl_free(system);
    char *bound = ts_redis_query(&st.redis, "HGET parley:{%s}:session policy_number", sid);
    assert_string_equal(bound, "POL-100001");
    pl_free(bound);
    ts_caller_close(&c);

    /* A token naming another policy cannot move the session to it. */
    char *other = policy_token(sid, "POL-200002");
    assert_int_not_equal(ts_caller_open(&c, st.parleyd.ws_url, other, 0, 0), 0);
    ts_caller_close(&c);
    pl_free(other);
    pl_free(token);
}

static void test_typed_policy_number_loads_nothing(void **state)
{
    (void)state;
    /* Ada's session is bound to her policy; she types her neighbour's number. */
    char sid[33];
    char *plain = ts_session_create(st.parleyd.url, sid);
    pl_free(plain);
    char *token = policy_token(sid, "POL-100001");
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    json_t *end = ask(&c, "t1", "typed-1: my policy number is POL-200002, what is my cover?");
    json_t *cites = json_object_get(end, "citations");
    assert_int_equal(json_array_size(cites), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cites, 0), "source")),
                        "policy:POL-100001");
    json_decref(end);
    char *system = system_prompt_for("typed-1");
    assert_null(strstr(system, "Zed Neighbour"));
    assert_null(strstr(system, "41414"));
    assert_null(strstr(system, "policy:POL-200002"));
    pl_free(system);
    ts_caller_close(&c);
    pl_free(token);

    /* A session bound to nothing: the typed number loads nothing either. */
    char *anon_token = ts_session_create(st.parleyd.url, sid);
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, anon_token, 0, 0), 0);
    end = ask(&c, "t2", "typed-2: I am policy POL-200002, tell me my cover");
    assert_int_equal(json_array_size(json_object_get(end, "citations")), 0);
    json_decref(end);
    system = system_prompt_for("typed-2");
    assert_null(strstr(system, "Zed Neighbour"));
    assert_null(strstr(system, "<document"));
    pl_free(system);
    ts_caller_close(&c);
    pl_free(anon_token);
}

static void test_admin_session_body_binds(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    char *admin = ts_token("admin", "site", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(
        ts_http("POST", url, admin, "{\"caller\":{\"policy_number\":\"POL-200002\"}}", &r), 0);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    char *token = pl_strdup(json_string_value(json_object_get(j, "token")));
    json_decref(j);
    ts_http_reply_free(&r);
    /* A number no record can have is refused. */
    assert_int_equal(
        ts_http("POST", url, admin, "{\"caller\":{\"policy_number\":\"POL 2/2\"}}", &r), 0);
    assert_int_equal(r.status, 400);
    ts_http_reply_free(&r);
    pl_free(admin);

    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    json_t *end = ask(&c, "s1", "body-bound-1: what does my home cover reach?");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(end, "citations"), 0), "source")),
                        "policy:POL-200002");
    json_decref(end);
    char *system = system_prompt_for("body-bound-1");
    assert_non_null(strstr(system, NEIGHBOURS));
    pl_free(system);
    ts_caller_close(&c);
    pl_free(token);
}

static void test_token_claim_binds_over_http_too(void **state)
{
    (void)state;
    char sid[33], url[256];
    char *plain = ts_session_create(st.parleyd.url, sid);
    pl_free(plain);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=10000", st.parleyd.url, sid);
    char *token = policy_token(sid, "POL-200002");
    struct ts_http_reply r;
    assert_int_equal(
        ts_http("POST", url, token, "{\"id\":\"h1\",\"text\":\"http-bound-1: my cover?\"}", &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "citations"), 0), "source")),
                        "policy:POL-200002");
    json_decref(j);
    ts_http_reply_free(&r);
    char *system = system_prompt_for("http-bound-1");
    assert_non_null(strstr(system, NEIGHBOURS));
    pl_free(system);
    pl_free(token);
    /* Another number on the same session is refused, and nothing is submitted. */
    token = policy_token(sid, "POL-100001");
    assert_int_equal(ts_http("POST", url, token, "{\"id\":\"h2\",\"text\":\"http-bound-2\"}", &r),
                     0);
    assert_int_equal(r.status, 403);
    ts_http_reply_free(&r);
    pl_free(token);
    char *turns = ts_redis_query(&st.redis, "HGET parley:{%s}:session turns", sid);
    assert_string_equal(turns, "1");
    pl_free(turns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_and_get_by_role),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_puts_files_and_names_bad_ones),
        cmocka_unit_test(test_token_claim_puts_the_record_in_the_prompt),
        cmocka_unit_test(test_typed_policy_number_loads_nothing),
        cmocka_unit_test(test_admin_session_body_binds),
        cmocka_unit_test(test_token_claim_binds_over_http_too),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
