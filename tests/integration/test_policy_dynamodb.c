/* Policy records from a DynamoDB table (docs/security.md "Policy records from DynamoDB"): a real
 * redis-server, the model's double, the DynamoDB double (tests/fakes/fake_dynamodb.c, which
 * checks every request's SigV4 signature, target and content type) and parleyd started with
 * --policy-source dynamodb:Policies. A session bound by its token's policy claim gets the
 * table's item, as plain JSON, in its system prompt; a second turn within the cache's TTL sends
 * no second GetItem (the double's request log); throttling twice is retried and then answered;
 * a slow reply and a 500 are sent again; a missing table or denied access ends the turn
 * upstream_unavailable (retryable) after one request, explained in the log, and the next turn
 * reads again; a missing item is answered without a record; PUT is refused with the table's
 * name, also through `parley policy put`; a typed policy number loads nothing; bad options stop
 * parleyd at start; the container endpoint's temporary credentials sign with their token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static char workdir[512];
static struct ts_redis redis;
static struct ts_upstream upstream;
static struct ts_parleyd parleyd;
static struct ts_proc ddb;
static int ddb_port;
static char ddb_url[64], ddb_log[600];

/* Ada's item in DynamoDB's AttributeValue JSON, and the plain JSON the prompt must show. */
#define ADA_ITEM                                                                                   \
    "{\"policy_number\":{\"S\":\"POL-100001\"},\"holder\":{\"M\":{\"name\":{\"S\":\"Ada "          \
    "Lovelace\"}}},\"product\":{\"S\":\"motor\"},\"windscreen_excess\":{\"N\":\"75.00\"},"         \
    "\"drivers\":{\"L\":[{\"S\":\"Ada\"},{\"N\":\"2\"}]},\"tags\":{\"SS\":[\"glass\"]},"           \
    "\"lapsed\":{\"BOOL\":false},\"broker\":{\"NULL\":true}}"
#define ADA_PLAIN                                                                                  \
    "{\"policy_number\":\"POL-100001\",\"holder\":{\"name\":\"Ada Lovelace\"},\"product\":"        \
    "\"motor\",\"windscreen_excess\":75.00,\"drivers\":[\"Ada\",2],\"tags\":[\"glass\"],"          \
    "\"lapsed\":false,\"broker\":null}"
#define NEIGHBOUR_ITEM                                                                             \
    "{\"policy_number\":{\"S\":\"POL-200002\"},\"holder\":{\"M\":{\"name\":{\"S\":\"Zed "          \
    "Neighbour\"}}},\"cover\":{\"S\":\"contents to GBP 41414\"}}"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof workdir, "%s", ts_workdir("policy_dynamodb"));
    if (ts_redis_start(&redis, workdir))
        return -1;
    static const char *const upstream_args[] = {"--pace-ms", "1", NULL};
    if (ts_upstream_start(&upstream, workdir, upstream_args))
        return -1;
    char items[600], log[600], port[16], bin[512];
    snprintf(items, sizeof items, "%s/items.json", workdir);
    write_text(items, "{\"Policies\":[" ADA_ITEM "," NEIGHBOUR_ITEM "]}");
    snprintf(ddb_log, sizeof ddb_log, "%s/dynamodb-requests.jsonl", workdir);
    snprintf(log, sizeof log, "%s/fake_dynamodb.log", workdir);
    ddb_port = ts_free_port();
    snprintf(port, sizeof port, "%d", ddb_port);
    snprintf(bin, sizeof bin, "%s", ts_bin("tests/fakes/fake_dynamodb"));
    const char *argv[] = {bin,       "--port", port,      "--log",    ddb_log,
                          "--items", items,    "--table", "Policies", NULL};
    if (ts_proc_spawn(&ddb, "fake_dynamodb", (char *const *)argv, NULL, log) ||
        ts_wait_port(&ddb, ddb_port, 10000))
        return -1;
    snprintf(ddb_url, sizeof ddb_url, "http://127.0.0.1:%d", ddb_port);
    static const char *args[8];
    args[0] = "--policy-source";
    args[1] = "dynamodb:Policies";
    args[2] = "--dynamodb-endpoint";
    args[3] = ddb_url;
    args[4] = "--aws-region";
    args[5] = "us-east-1";
    args[6] = NULL;
    static const char *const env[] = {
        "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_EC2_METADATA_DISABLED=true", NULL};
    return ts_parleyd_start_env(&parleyd, workdir, &redis, &upstream, args, env);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&parleyd);
    if (rc)
        ts_proc_dump_log(&parleyd.proc);
    int ddb_rc = ts_proc_stop(&ddb, 5000);
    ts_upstream_stop(&upstream);
    ts_redis_stop(&redis);
    return rc || ddb_rc ? -1 : 0;
}

/* ---- the double ---- */

/* POST a control request to the double (unsigned: /_fake/...). */
static void ddb_control(const char *path, const char *body)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", ddb_url, path);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, NULL, body, &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
}

/* The GetItem requests the double logged for `key`, as a JSON array of log lines. */
static json_t *get_items_for(const char *key)
{
    json_t *out = json_array();
    FILE *f = fopen(ddb_log, "r");
    if (!f)
        return out;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *k = json_string_value(json_object_get(j, "key"));
        const char *target = json_string_value(json_object_get(j, "target"));
        if (k && !strcmp(k, key) && target && !strcmp(target, "DynamoDB_20120810.GetItem"))
            json_array_append(out, j);
        json_decref(j);
    }
    free(line);
    fclose(f);
    return out;
}

static const char *outcome(json_t *lines, size_t i)
{
    return json_string_value(json_object_get(json_array_get(lines, i), "outcome"));
}

/* ---- callers ---- */

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

/* A caller on a new session bound to `policy` by its token's claim. */
static void open_bound(struct ts_caller *c, const char *policy)
{
    char sid[33];
    char *plain = ts_session_create(parleyd.url, sid);
    assert_non_null(plain);
    pl_free(plain);
    char *token = policy_token(sid, policy);
    assert_int_equal(ts_caller_open(c, parleyd.ws_url, token, 0, 0), 0);
    pl_free(token);
}

static void ask(struct ts_caller *c, const char *id, const char *text, struct ts_turn *t)
{
    assert_int_equal(ts_caller_ask(c, id, text, 15000, t), 0);
}

static char *system_prompt_for(const char *marker)
{
    char *s = ts_upstream_system_prompt(&upstream, marker);
    if (!s)
        fail_msg("no request with %s in the model double's log", marker);
    return s;
}

/* ---- tests ---- */

static void test_bound_session_gets_the_item_once_per_ttl(void **state)
{
    (void)state;
    struct ts_caller c;
    open_bound(&c, "POL-100001");
    struct ts_turn t;
    ask(&c, "d1", "ddb-bound-1: am I covered for a cracked windscreen?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-bound-1");
    assert_non_null(strstr(system, "<document id=\"policy:POL-100001\" title=\"Your policy "
                                   "POL-100001\">\n" ADA_PLAIN "\n</document>"));
    assert_null(strstr(system, "Zed Neighbour"));
    pl_free(system);
    json_t *lines = get_items_for("POL-100001");
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(outcome(lines, 0), "item");
    json_t *h = json_object_get(json_array_get(lines, 0), "headers");
    assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                        "application/x-amz-json-1.0");
    assert_string_equal(json_string_value(json_object_get(h, "x-amz-target")),
                        "DynamoDB_20120810.GetItem");
    json_decref(lines);

    /* Within the TTL: the record comes from memory. */
    ask(&c, "d2", "ddb-bound-2: and for a stolen wing mirror?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    system = system_prompt_for("ddb-bound-2");
    assert_non_null(strstr(system, ADA_PLAIN));
    pl_free(system);
    lines = get_items_for("POL-100001");
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
    ts_caller_close(&c);

    /* The agent's GET reads through the same source (and the same cache). */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/policies/POL-100001", parleyd.url);
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, ADA_PLAIN);
    ts_http_reply_free(&r);
    snprintf(url, sizeof url, "%s/v1/policies/POL-999999", parleyd.url);
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    ts_http_reply_free(&r);
    pl_free(agent);

    snprintf(url, sizeof url, "%s/metrics", parleyd.url);
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_non_null(
        strstr(r.body, "parley_policy_lookups_total{source=\"dynamodb\",cache=\"hit\"} 2\n"));
    assert_non_null(strstr(r.body, "parley_dynamodb_requests_total{table=\"Policies\"} "));
    ts_http_reply_free(&r);
}

static void test_throttled_twice_then_answered(void **state)
{
    (void)state;
    ddb_control("/_fake/item", "{\"TableName\":\"Policies\",\"Item\":{\"policy_number\":{\"S\":"
                               "\"POL-300003\"},\"product\":{\"S\":\"travel\"}}}");
    ddb_control("/_fake/fault", "{\"mode\":\"throttle\",\"count\":2}");
    struct ts_caller c;
    open_bound(&c, "POL-300003");
    struct ts_turn t;
    ask(&c, "th1", "ddb-throttle-1: am I covered abroad?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-throttle-1");
    assert_non_null(strstr(system, "{\"policy_number\":\"POL-300003\",\"product\":\"travel\"}"));
    pl_free(system);
    json_t *lines = get_items_for("POL-300003");
    assert_int_equal(json_array_size(lines), 3);
    assert_string_equal(outcome(lines, 0), "throttled");
    assert_string_equal(outcome(lines, 1), "throttled");
    assert_string_equal(outcome(lines, 2), "item");
    /* Backoff: each retry waited (base 50 ms, jittered down to half at most). */
    json_int_t t0 = json_integer_value(json_object_get(json_array_get(lines, 0), "t_ms"));
    json_int_t t1 = json_integer_value(json_object_get(json_array_get(lines, 1), "t_ms"));
    json_int_t t2 = json_integer_value(json_object_get(json_array_get(lines, 2), "t_ms"));
    assert_true(t1 - t0 >= 20);
    assert_true(t2 - t1 >= 40);
    json_decref(lines);
    ts_caller_close(&c);
}

/* One reply slower than a request's timeout (2 s): the request is given up and sent again. */
static void test_slow_reply_is_sent_again(void **state)
{
    (void)state;
    ddb_control("/_fake/item", "{\"TableName\":\"Policies\",\"Item\":{\"policy_number\":{\"S\":"
                               "\"POL-600006\"},\"product\":{\"S\":\"pet\"}}}");
    ddb_control("/_fake/fault", "{\"mode\":\"slow\",\"count\":1,\"ms\":3000}");
    struct ts_caller c;
    open_bound(&c, "POL-600006");
    struct ts_turn t;
    ask(&c, "s1", "ddb-slow-1: is my dog covered?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-slow-1");
    assert_non_null(strstr(system, "{\"policy_number\":\"POL-600006\",\"product\":\"pet\"}"));
    pl_free(system);
    json_t *lines = get_items_for("POL-600006");
    assert_int_equal(json_array_size(lines), 2);
    json_int_t t0 = json_integer_value(json_object_get(json_array_get(lines, 0), "t_ms"));
    json_int_t t1 = json_integer_value(json_object_get(json_array_get(lines, 1), "t_ms"));
    assert_true(t1 - t0 >= 2000);
    json_decref(lines);
    ts_caller_close(&c);
}

static void test_missing_table_fails_the_turn_and_is_not_kept(void **state)
{
    (void)state;
    ddb_control("/_fake/fault", "{\"mode\":\"not_found\",\"count\":0}");
    struct ts_caller c;
    open_bound(&c, "POL-200002");
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&c, "m1", "ddb-missing-1: what is my cover?", 15000, &t), 0);
    assert_string_equal(t.error_code, "upstream_unavailable");
    assert_string_equal(t.error_message,
                        "your policy record cannot be read right now; please try again in a "
                        "moment");
    assert_true(t.error_retryable);
    ts_turn_free(&t);
    /* Never retried, and the model was never asked. */
    json_t *lines = get_items_for("POL-200002");
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(outcome(lines, 0), "no_table");
    json_decref(lines);
    assert_null(ts_upstream_system_prompt(&upstream, "ddb-missing-1"));
    assert_true(ts_log_contains(&parleyd.proc, "DynamoDB has no table Policies in region "
                                               "us-east-1"));
    /* An agent's GET meets the same failure, named. */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/policies/POL-200002", parleyd.url);
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"code\":\"upstream_unavailable\""));
    assert_non_null(strstr(r.body, "cannot be read from DynamoDB table Policies right now"));
    ts_http_reply_free(&r);
    pl_free(agent);
    /* The table is back: the failure was not kept, the next turn reads it. */
    ddb_control("/_fake/fault", "{\"mode\":\"\"}");
    ask(&c, "m2", "ddb-missing-2: what is my cover now?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-missing-2");
    assert_non_null(strstr(system, "contents to GBP 41414"));
    pl_free(system);
    ts_caller_close(&c);
}

/* A 500 is retried; access denied is not, and the log says which permission is missing. */
static void test_server_error_retried_access_denied_explained(void **state)
{
    (void)state;
    ddb_control("/_fake/item", "{\"TableName\":\"Policies\",\"Item\":{\"policy_number\":{\"S\":"
                               "\"POL-700007\"},\"product\":{\"S\":\"home\"}}}");
    ddb_control("/_fake/fault", "{\"mode\":\"500\",\"count\":1}");
    struct ts_caller c;
    open_bound(&c, "POL-700007");
    struct ts_turn t;
    ask(&c, "e1", "ddb-500-1: is my roof covered?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    json_t *lines = get_items_for("POL-700007");
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(outcome(lines, 0), "server_error");
    assert_string_equal(outcome(lines, 1), "item");
    json_decref(lines);
    ts_caller_close(&c);

    ddb_control("/_fake/fault", "{\"mode\":\"access_denied\",\"count\":0}");
    open_bound(&c, "POL-800008");
    assert_int_equal(ts_caller_ask(&c, "e2", "ddb-denied-1: my cover?", 15000, &t), 0);
    assert_string_equal(t.error_code, "upstream_unavailable");
    ts_turn_free(&t);
    ddb_control("/_fake/fault", "{\"mode\":\"\"}");
    lines = get_items_for("POL-800008");
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
    assert_true(ts_log_contains(&parleyd.proc, "need dynamodb:GetItem on the table's ARN"));
    ts_caller_close(&c);
}

static void test_missing_item_answers_without_a_record(void **state)
{
    (void)state;
    struct ts_caller c;
    open_bound(&c, "POL-555555");
    struct ts_turn t;
    ask(&c, "a1", "ddb-absent-1: what is my cover?", &t);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-absent-1");
    assert_null(strstr(system, "<document id=\"policy:"));
    pl_free(system);
    /* Found missing is kept too, for a shorter time: no second request at once. */
    ask(&c, "a2", "ddb-absent-2: and now?", &t);
    ts_turn_free(&t);
    json_t *lines = get_items_for("POL-555555");
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(outcome(lines, 0), "absent");
    json_decref(lines);
    ts_caller_close(&c);
}

static void test_put_is_refused(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/policies/POL-100001", parleyd.url);
    char *admin = ts_token("admin", "ops", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("PUT", url, admin, "{\"product\":\"home\"}", &r), 0);
    assert_int_equal(r.status, 405);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "method_not_allowed");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "policy records come from DynamoDB table Policies; change them there");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(admin);

    char file[600], cmd[2048];
    snprintf(file, sizeof file, "%s/POL-100001.json", workdir);
    write_text(file, "{\"policy_number\":\"POL-100001\",\"product\":\"home\"}");
    snprintf(cmd, sizeof cmd, "%s/parley policy put %s --url %s --jwt-secret %s 2>&1; echo exit=$?",
             getenv("PARLEY_BIN_DIR"), file, parleyd.url, TS_JWT_SECRET);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    if (!strstr(out, "policy records come from DynamoDB table Policies; change them there"))
        fail_msg("parley policy put said: %s", out);
    assert_non_null(strstr(out, "exit=1"));
}

static void test_typed_policy_number_loads_nothing(void **state)
{
    (void)state;
    struct ts_caller c;
    open_bound(&c, "POL-100001");
    struct ts_turn t;
    ask(&c, "ty1", "ddb-typed-1: my policy number is POL-400004, what is my cover?", &t);
    ts_turn_free(&t);
    char *system = system_prompt_for("ddb-typed-1");
    assert_null(strstr(system, "POL-400004"));
    pl_free(system);
    ts_caller_close(&c);
    /* An unbound session typing a number: nothing is looked up at all. */
    char sid[33];
    char *token = ts_session_create(parleyd.url, sid);
    assert_int_equal(ts_caller_open(&c, parleyd.ws_url, token, 0, 0), 0);
    ask(&c, "ty2", "ddb-typed-2: I am POL-400004, tell me my cover", &t);
    ts_turn_free(&t);
    system = system_prompt_for("ddb-typed-2");
    assert_null(strstr(system, "<document id=\"policy:"));
    pl_free(system);
    ts_caller_close(&c);
    pl_free(token);
    json_t *lines = get_items_for("POL-400004");
    assert_int_equal(json_array_size(lines), 0);
    json_decref(lines);
}

/* Temporary credentials from the container endpoint (the credentials double): the first
 * GetItem may wait for their fetch, and carries the session token, signed, which the second
 * DynamoDB double requires. */
static void test_container_credentials_and_session_token(void **state)
{
    (void)state;
    char dir[700], port_md[16], port_db[16], log[800], bin[512], items[800], reqlog[800];
    snprintf(dir, sizeof dir, "%s/container", workdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    struct ts_proc md, db;
    int md_port = ts_free_port();
    snprintf(port_md, sizeof port_md, "%d", md_port);
    snprintf(log, sizeof log, "%s/metadata.log", dir);
    snprintf(bin, sizeof bin, "%s", ts_bin("tests/fakes/fake_aws_metadata_server"));
    const char *const md_argv[] = {bin,
                                   "--port",
                                   port_md,
                                   "--keys",
                                   "AKIDEXAMPLE",
                                   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                   "FAKESESSIONTOKEN",
                                   NULL};
    assert_int_equal(ts_proc_spawn(&md, "fake_aws_metadata", (char *const *)md_argv, NULL, log), 0);
    assert_int_equal(ts_wait_port(&md, md_port, 10000), 0);
    int db_port = ts_free_port();
    snprintf(port_db, sizeof port_db, "%d", db_port);
    snprintf(items, sizeof items, "%s/items.json", dir);
    write_text(items, "{\"Policies\":[" ADA_ITEM "]}");
    snprintf(reqlog, sizeof reqlog, "%s/dynamodb-requests.jsonl", dir);
    snprintf(log, sizeof log, "%s/fake_dynamodb.log", dir);
    snprintf(bin, sizeof bin, "%s", ts_bin("tests/fakes/fake_dynamodb"));
    const char *const db_argv[] = {bin,
                                   "--port",
                                   port_db,
                                   "--items",
                                   items,
                                   "--log",
                                   reqlog,
                                   "--aws-session-token",
                                   "FAKESESSIONTOKEN",
                                   NULL};
    assert_int_equal(ts_proc_spawn(&db, "fake_dynamodb", (char *const *)db_argv, NULL, log), 0);
    assert_int_equal(ts_wait_port(&db, db_port, 10000), 0);

    char endpoint[64], full_uri[200];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", db_port);
    snprintf(full_uri, sizeof full_uri,
             "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:%d/container/creds", md_port);
    const char *const env[] = {"AWS_ACCESS_KEY_ID=",
                               "AWS_PROFILE=",
                               "AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials",
                               "AWS_CONFIG_FILE=/nonexistent/config",
                               full_uri,
                               NULL};
    const char *const args[] = {"--policy-source",
                                "dynamodb:Policies",
                                "--dynamodb-endpoint",
                                endpoint,
                                "--aws-region",
                                "us-east-1",
                                NULL};
    struct ts_parleyd p;
    assert_int_equal(ts_parleyd_start_env(&p, dir, &redis, &upstream, args, env), 0);
    char sid[33], url[256];
    char *plain = ts_session_create(p.url, sid);
    pl_free(plain);
    char *token = policy_token(sid, "POL-100001");
    snprintf(url, sizeof url, "%s/v1/sessions/%s/messages?wait_ms=15000", p.url, sid);
    struct ts_http_reply r;
    assert_int_equal(
        ts_http("POST", url, token, "{\"id\":\"c1\",\"text\":\"ddb-container-1: my cover?\"}", &r),
        0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
    pl_free(token);
    char *system = system_prompt_for("ddb-container-1");
    assert_non_null(strstr(system, ADA_PLAIN));
    pl_free(system);
    FILE *f = fopen(reqlog, "r");
    assert_non_null(f);
    char line[8192];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_non_null(strstr(line, "\"outcome\":\"item\""));
    assert_non_null(strstr(line, "\"x-amz-security-token\":\"FAKESESSIONTOKEN\""));
    assert_true(ts_log_contains(&p.proc, "first DynamoDB GetItem: table Policies at"));
    assert_true(ts_log_contains(&p.proc, "(container endpoint)"));
    assert_int_equal(ts_parleyd_stop(&p), 0);
    assert_int_equal(ts_proc_stop(&db, 5000), 0);
    ts_proc_stop(&md, 5000);
}

/* parleyd with `args` (and AWS keys, no region): its last line of output and its exit status. */
static int start_refused(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE AWS_ACCESS_KEY_ID=AKIDEXAMPLE "
             "AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true %s --listen 127.0.0.1:0 "
             "--provider local --log-format text %s 2>&1",
             ts_bin("parleyd"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024];
    out[0] = '\0';
    while (fgets(line, sizeof line, p))
        snprintf(out, cap, "%s", line);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bad_values_refused_at_start(void **state)
{
    (void)state;
    static const struct {
        const char *args, *said;
    } cases[] = {
        {"--policy-source mongodb:x",
         "parleyd: --policy-source must be redis or dynamodb:TABLE (a DynamoDB table name or ARN), "
         "not \"mongodb:x\"\n"},
        {"--policy-source dynamodb:ab",
         "parleyd: --policy-source dynamodb:TABLE: \"ab\" is not a DynamoDB table name (3 to 255 "
         "of A-Z a-z 0-9 _ . -) or table ARN\n"},
        {"--policy-source dynamodb:Policies",
         "parleyd: the DynamoDB policy source (--policy-source) needs a region: set --aws-region "
         "(or AWS_REGION, AWS_DEFAULT_REGION, or region in the AWS profile)\n"},
        {"--policy-source dynamodb:Policies --aws-region eu-west-2 --dynamodb-endpoint "
         "http://127.0.0.1:1/v1",
         "parleyd: --dynamodb-endpoint must be a URL such as https://host[:port] (no path): "
         "\"http://127.0.0.1:1/v1\"\n"},
        {"--policy-source dynamodb:Policies --aws-region eu-west-2 --policy-key-attribute ''",
         "parleyd: --policy-key-attribute must be an attribute name of 1 to 255 characters\n"},
        {"--policy-cache-entries 0", "parleyd: command line: policy-cache-entries expects a whole "
                                     "number from 1 to 10000000, got \"0\"\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[1024];
        int status = start_refused(cases[i].args, out, sizeof out);
        if (strcmp(out, cases[i].said) != 0)
            fail_msg("%s: said %s", cases[i].args, out);
        assert_int_not_equal(status, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_session_gets_the_item_once_per_ttl),
        cmocka_unit_test(test_throttled_twice_then_answered),
        cmocka_unit_test(test_slow_reply_is_sent_again),
        cmocka_unit_test(test_missing_table_fails_the_turn_and_is_not_kept),
        cmocka_unit_test(test_server_error_retried_access_denied_explained),
        cmocka_unit_test(test_missing_item_answers_without_a_record),
        cmocka_unit_test(test_put_is_refused),
        cmocka_unit_test(test_typed_policy_number_loads_nothing),
        cmocka_unit_test(test_bad_values_refused_at_start),
        cmocka_unit_test(test_container_credentials_and_session_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
