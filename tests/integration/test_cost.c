/* Cost (docs/cost.md) against a real redis-server, the Anthropic double and parleyd: prompt
 * caching's tokens and each turn's exact cost in the HTTP answer, the WebSocket's turn_end, the
 * transcript and the session's totals; a tenant's day in Redis and through GET /v1/usage (admin
 * only, bad parameters refused); daily budgets with two instances racing for the last tokens
 * (exactly the turns that fit are answered, the rest end rate_limited naming the budget, totals
 * exact); the warning threshold once per tenant and day; reservations released by failed turns
 * and reclaimed after their instance stopped. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

/* Turns that fit in the budget of the race, and turns fired at it. */
#define FIT   3
#define FIRED 8

static struct ts_stack st; /* no budget */
static struct ts_parleyd budgeted[2];
static char budget_dirs[2][600];
static char budget_arg[32];
static const char *budget_args[] = {"--budget-tokens-per-day", budget_arg, "--max-output-tokens",
                                    "8", NULL};
static const char *const upstream_args[] = {"--pace-ms", "2", NULL};
/* One message text for every turn whose usage the race counts: same prompt, same usage. */
static const char race_text[] = "{\"text\":\"How much is left? [[tokens:8]]\"}";

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "cost", upstream_args, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (int i = 0; i < 2; i++)
        if (budgeted[i].port && ts_parleyd_stop(&budgeted[i]) != 0)
            rc = -1;
    return ts_stack_stop(&st) || rc ? -1 : 0;
}

static json_t *body_json(const struct ts_http_reply *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j)
        fprintf(stderr, "not JSON (%ld): %s\n", r->status, r->body);
    assert_non_null(j);
    return j;
}

static long long num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

/* A session created by an admin whose token's sub is `tenant`; its caller token in `token`. */
static void session_for(const char *base_url, const char *tenant, char sid[33], char **token)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/sessions", base_url);
    char *admin = ts_token("admin", tenant, NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin, "{}", &r), 0);
    assert_int_equal(r.status, 201);
    json_t *j = body_json(&r);
    snprintf(sid, 33, "%s", json_string_value(json_object_get(j, "session_id")));
    *token = pl_strdup(json_string_value(json_object_get(j, "token")));
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(admin);
}

/* POST a message and wait for its answer: the reply's status and JSON. */
static json_t *ask(const char *base_url, const char *sid, const char *token, const char *body,
                   long *status)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages", base_url, sid);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, token, body, &r), 0);
    *status = r.status;
    json_t *j = body_json(&r);
    ts_http_reply_free(&r);
    return j;
}

static void today(char day[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
}

/* GET /v1/usage on `base_url` with an admin token; status 200 expected. */
static json_t *usage_of(const char *base_url, const char *tenant)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/usage?tenant=%s", base_url, tenant);
    char *admin = ts_token("admin", "ops", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, admin, NULL, &r), 0);
    if (r.status != 200)
        fprintf(stderr, "GET /v1/usage: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    ts_http_reply_free(&r);
    pl_free(admin);
    return j;
}

/* The cost of `u` at the built-in prices of claude-sonnet-4-5 (USD 3, 15, 0.30 and 3.75 per
 * million tokens), rounded up to a whole micro-dollar. */
static long long sonnet_cost(json_t *u)
{
    long long pico = num(u, "input_tokens") * 3000000 + num(u, "output_tokens") * 15000000 +
                     num(u, "cache_read_input_tokens") * 300000 +
                     num(u, "cache_creation_input_tokens") * 3750000;
    return (pico + 999999) / 1000000;
}

static long long all_tokens(json_t *u)
{
    return num(u, "input_tokens") + num(u, "output_tokens") + num(u, "cache_read_input_tokens") +
           num(u, "cache_creation_input_tokens");
}

/* The value of the metric line starting with `name` (exact, up to the space), or -1. */
static long long metric(const char *base_url, const char *name)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/metrics", base_url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = strtoll(p + n + 1, NULL, 10);
            break;
        }
    }
    ts_http_reply_free(&r);
    return v;
}

/* ---- usage and cache tokens ---- */

static void test_usage_cache_tokens_and_cost(void **state)
{
    (void)state;
    char sid[33], *token;
    session_for(st.parleyd.url, "acme", sid, &token);
    long status;
    /* The first request with this system prompt writes it to the double's cache... */
    json_t *a = ask(st.parleyd.url, sid, token, "{\"text\":\"Hello [[tokens:3]]\"}", &status);
    assert_int_equal(status, 200);
    json_t *u1 = json_object_get(a, "usage");
    assert_int_equal(num(u1, "output_tokens"), 3);
    assert_true(num(u1, "input_tokens") > 0);
    long long written = num(u1, "cache_creation_input_tokens");
    assert_true(written > 100); /* the system prompt, a quarter of its bytes */
    assert_int_equal(num(u1, "cache_read_input_tokens"), 0);
    assert_int_equal(num(a, "cost_usd_micros"), sonnet_cost(u1));
    /* ... the next reads it. */
    json_t *b = ask(st.parleyd.url, sid, token, "{\"text\":\"And now? [[tokens:2]]\"}", &status);
    assert_int_equal(status, 200);
    json_t *u2 = json_object_get(b, "usage");
    assert_int_equal(num(u2, "cache_read_input_tokens"), written);
    assert_int_equal(num(u2, "cache_creation_input_tokens"), 0);
    assert_int_equal(num(b, "cost_usd_micros"), sonnet_cost(u2));
    long long cost = num(a, "cost_usd_micros") + num(b, "cost_usd_micros");

    /* The transcript keeps each answer's usage and cost; the session its totals and tenant. */
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s", st.parleyd.url, sid);
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    json_t *session = json_object_get(j, "session");
    assert_string_equal(json_string_value(json_object_get(session, "tenant")), "acme");
    json_t *su = json_object_get(session, "usage");
    long long input = num(su, "input_tokens");
    assert_int_equal(input, num(u1, "input_tokens") + num(u2, "input_tokens"));
    assert_int_equal(num(su, "output_tokens"), 5);
    assert_int_equal(num(su, "cache_read_input_tokens"), written);
    assert_int_equal(num(su, "cache_creation_input_tokens"), written);
    assert_int_equal(num(su, "cost_usd_micros"), cost);
    json_t *t = json_object_get(j, "transcript");
    assert_int_equal(json_array_size(t), 4);
    json_t *answer = json_array_get(t, 3);
    assert_string_equal(json_string_value(json_object_get(answer, "role")), "assistant");
    assert_true(json_equal(json_object_get(answer, "usage"), u2));
    assert_int_equal(num(answer, "cost_usd_micros"), num(b, "cost_usd_micros"));
    json_decref(j);
    ts_http_reply_free(&r);

    /* The tenant's day: in Redis under its own keys, and through GET /v1/usage. */
    char day[11], key[160];
    today(day);
    snprintf(key, sizeof(key), "parley:tenant:{acme}:usage:%s", day);
    char *v = ts_redis_query(&st.redis, "HGET %s cost_micros", key);
    assert_int_equal(strtoll(v, NULL, 10), cost);
    pl_free(v);
    v = ts_redis_query(&st.redis, "TTL %s", key);
    assert_true(strtoll(v, NULL, 10) > 39 * 24 * 3600);
    pl_free(v);
    json_t *d = usage_of(st.parleyd.url, "acme");
    assert_string_equal(json_string_value(json_object_get(d, "day")), day);
    json_t *want =
        json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", input, "output_tokens", 5LL,
                  "cache_read_input_tokens", written, "cache_creation_input_tokens", written);
    assert_true(json_equal(json_object_get(d, "usage"), want));
    json_decref(want);
    assert_int_equal(num(d, "tokens"), all_tokens(u1) + all_tokens(u2));
    assert_int_equal(num(d, "cost_usd_micros"), cost);
    assert_int_equal(num(d, "turns"), 2);
    assert_true(json_is_null(json_object_get(json_object_get(d, "budget"), "tokens")));
    assert_true(json_is_null(json_object_get(json_object_get(d, "remaining"), "tokens")));
    json_decref(d);

    /* This instance counted them. */
    assert_true(metric(st.parleyd.url, "parley_llm_tokens_total{kind=\"cache_read\"}") >= written);
    assert_true(metric(st.parleyd.url, "parley_llm_cost_usd_micros_total") >= cost);
    json_decref(a);
    json_decref(b);
    pl_free(agent);
    pl_free(token);
}

static void test_usage_route_refusals(void **state)
{
    (void)state;
    char *admin = ts_token("admin", "ops", NULL, 600);
    char *caller = ts_token("caller", "someone", NULL, 600);
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    static const struct {
        const char *query;
        int who; /* 0 admin, 1 caller, 2 agent, 3 none */
        long status;
        const char *code;
    } cases[] = {
        {"?tenant=acme", 1, 403, "forbidden"},
        {"?tenant=acme", 2, 403, "forbidden"},
        {"?tenant=acme", 3, 401, "unauthorized"},
        {"", 0, 400, "bad_request"},
        {"?tenant=", 0, 400, "bad_request"},
        {"?tenant=a%20b", 0, 400, "bad_request"},
        {"?tenant=a+b", 0, 400, "bad_request"}, /* a form-encoded space */
        {"?tenant=a%2", 0, 400, "bad_request"},
        {"?tenant=a%ZZ", 0, 400, "bad_request"},
        {"?tenant=a%00b", 0, 400, "bad_request"},
        {"?tenant=acme&day=yesterday", 0, 400, "bad_request"},
        {"?tenant=acme&day=2025-02-29", 0, 400, "bad_request"},
        {"?tenant=acme&day=2025-13-01", 0, 400, "bad_request"},
        {"?tenant=acme&day=2025-01-011", 0, 400, "bad_request"},
    };
    const char *tokens[] = {admin, caller, agent, NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s/v1/usage%s", st.parleyd.url, cases[i].query);
        struct ts_http_reply r;
        assert_int_equal(ts_http("GET", url, tokens[cases[i].who], NULL, &r), 0);
        if (r.status != cases[i].status)
            fail_msg("%s: %ld %s", cases[i].query, r.status, r.body);
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                            cases[i].code);
        json_decref(j);
        ts_http_reply_free(&r);
    }
    /* A past day with nothing in it, and a leap day that exists: all zero. */
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/usage?tenant=nobody&day=2024-02-29", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, admin, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_int_equal(num(j, "tokens"), 0);
    assert_int_equal(num(j, "turns"), 0);
    json_decref(j);
    ts_http_reply_free(&r);
    /* A percent-encoded tenant is decoded: "+" and "@" are tenant characters. */
    snprintf(url, sizeof(url), "%s/v1/usage?tenant=desk%%2Bone%%40acme.example&day=2024-02-29",
             st.parleyd.url);
    assert_int_equal(ts_http("GET", url, admin, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "tenant")), "desk+one@acme.example");
    json_decref(j);
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, admin, "{}", &r), 0);
    assert_int_equal(r.status, 405);
    ts_http_reply_free(&r);
    pl_free(admin);
    pl_free(caller);
    pl_free(agent);
}

/* ---- budgets ---- */

struct shot {
    const char *base_url;
    char sid[33];
    char *token;
    long status;
    json_t *reply;
};

static void *fire(void *ud)
{
    struct shot *s = ud;
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages", s->base_url, s->sid);
    struct ts_http_reply r;
    if (ts_http("POST", url, s->token, race_text, &r) == 0) {
        s->status = r.status;
        s->reply = json_loads(r.body, 0, NULL);
    }
    ts_http_reply_free(&r);
    return NULL;
}

/* Start the two budgeted instances, with a token budget that `FIT` turns of the race's usage
 * fit in and no more: each reserves at most 2 tokens more than it uses (its prompt estimated
 * a little high, its answer exactly max_tokens), so any FIT of them fit, and after FIT turns
 * no reservation does. */
static void start_budgeted(long long per_turn)
{
    snprintf(budget_arg, sizeof(budget_arg), "%lld", FIT * per_turn + per_turn / 2);
    for (int i = 0; i < 2; i++) {
        snprintf(budget_dirs[i], sizeof(budget_dirs[i]), "%s/budget%d", st.workdir, i);
        mkdir(budget_dirs[i], 0755);
        assert_int_equal(
            ts_parleyd_start(&budgeted[i], budget_dirs[i], &st.redis, &st.upstream, budget_args),
            0);
    }
}

static void test_budget_race_between_two_instances(void **state)
{
    (void)state;
    /* What one turn of the race uses, measured on the instance without a budget. */
    char sid[33], *token;
    session_for(st.parleyd.url, "calibration", sid, &token);
    long status;
    json_t *a = ask(st.parleyd.url, sid, token, race_text, &status);
    assert_int_equal(status, 200);
    long long per_turn = all_tokens(json_object_get(a, "usage"));
    assert_true(per_turn > 100);
    json_decref(a);
    pl_free(token);
    start_budgeted(per_turn);

    struct shot shots[FIRED];
    pthread_t threads[FIRED];
    for (int i = 0; i < FIRED; i++) {
        memset(&shots[i], 0, sizeof(shots[i]));
        shots[i].base_url = budgeted[i % 2].url;
        session_for(shots[i].base_url, "racer", shots[i].sid, &shots[i].token);
    }
    for (int i = 0; i < FIRED; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, fire, &shots[i]), 0);
    for (int i = 0; i < FIRED; i++)
        pthread_join(threads[i], NULL);

    char want[160];
    snprintf(want, sizeof(want),
             "tenant racer has used its daily budget of %s tokens; it resets at 00:00 UTC",
             budget_arg);
    int answered = 0, refused = 0;
    const char *refused_sid = NULL;
    for (int i = 0; i < FIRED; i++) {
        json_t *j = shots[i].reply;
        assert_non_null(j);
        if (shots[i].status == 200) {
            answered++;
            assert_int_equal(all_tokens(json_object_get(j, "usage")), per_turn);
        } else {
            refused++;
            assert_int_equal(shots[i].status, 429);
            json_t *e = json_object_get(j, "error");
            assert_string_equal(json_string_value(json_object_get(e, "code")), "rate_limited");
            assert_string_equal(json_string_value(json_object_get(e, "message")), want);
            refused_sid = shots[i].sid;
        }
    }
    assert_int_equal(answered, FIT);
    assert_int_equal(refused, FIRED - FIT);

    /* The totals are exact, and nothing stays reserved. */
    json_t *d = usage_of(budgeted[0].url, "racer");
    assert_int_equal(num(d, "tokens"), FIT * per_turn);
    assert_int_equal(num(d, "turns"), FIT);
    json_t *reserved = json_object_get(d, "reserved");
    assert_int_equal(num(reserved, "tokens"), 0);
    assert_int_equal(num(json_object_get(d, "budget"), "tokens"), strtoll(budget_arg, NULL, 10));
    assert_int_equal(num(json_object_get(d, "remaining"), "tokens"),
                     strtoll(budget_arg, NULL, 10) - FIT * per_turn);
    json_decref(d);
    char day[11], key[160];
    today(day);
    snprintf(key, sizeof(key), "parley:tenant:{racer}:reservations:%s", day);
    char *v = ts_redis_query(&st.redis, "ZCARD %s", key);
    assert_string_equal(v, "0");
    pl_free(v);
    assert_int_equal(metric(budgeted[0].url, "parley_budget_refused_total") +
                         metric(budgeted[1].url, "parley_budget_refused_total"),
                     FIRED - FIT);

    /* A refused turn's message stays stored, answered by the refusal. */
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s", st.parleyd.url, refused_sid);
    char *agent = ts_token("agent", "agent-1", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    json_t *j = body_json(&r);
    json_t *t = json_object_get(j, "transcript");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "role")), "caller");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "error")),
                        "rate_limited");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(agent);
    for (int i = 0; i < FIRED; i++) {
        json_decref(shots[i].reply);
        pl_free(shots[i].token);
    }
}

/* The racer's day is past the warning threshold (80%): the next turn that asks for a
 * reservation on either instance warns, once; later ones do not. */
static void test_budget_warning_once_per_tenant_and_day(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        char sid[33], *token;
        session_for(budgeted[i % 2].url, "racer", sid, &token);
        long status;
        json_t *j = ask(budgeted[i % 2].url, sid, token, race_text, &status);
        assert_int_equal(status, 429);
        json_decref(j);
        pl_free(token);
    }
    assert_int_equal(metric(budgeted[0].url, "parley_budget_warnings_total") +
                         metric(budgeted[1].url, "parley_budget_warnings_total"),
                     1);
    int logged = ts_log_contains(&budgeted[0].proc, "tenant racer has used 80% of its daily") +
                 ts_log_contains(&budgeted[1].proc, "tenant racer has used 80% of its daily");
    assert_int_equal(logged, 1);
    json_t *d = usage_of(budgeted[1].url, "racer");
    assert_true(json_is_true(json_object_get(d, "warned")));
    json_decref(d);
}

/* On the WebSocket: turn_end carries the four counts and the cost; past the budget the error
 * frame names it, and the turn still ends. */
static void test_websocket_turn_end_usage_and_refusal(void **state)
{
    (void)state;
    char sid[33], *token;
    session_for(st.parleyd.url, "acme", sid, &token);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "m1", "Over the socket [[tokens:2]]"), 0);
    json_t *end = ts_caller_expect(&c, "turn_end", 10000);
    assert_non_null(end);
    json_t *u = json_object_get(end, "usage");
    assert_int_equal(num(u, "output_tokens"), 2);
    assert_true(num(u, "cache_read_input_tokens") > 100); /* an earlier turn wrote it */
    assert_int_equal(num(u, "cache_creation_input_tokens"), 0);
    assert_int_equal(num(end, "cost_usd_micros"), sonnet_cost(u));
    json_decref(end);
    ts_caller_close(&c);
    pl_free(token);

    session_for(budgeted[1].url, "racer", sid, &token);
    assert_int_equal(ts_caller_open(&c, budgeted[1].ws_url, token, 0, 0), 0);
    assert_int_equal(ts_caller_message(&c, "m1", "One more? [[tokens:2]]"), 0);
    json_t *e = ts_caller_expect(&c, "error", 10000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "rate_limited");
    char want[160];
    snprintf(want, sizeof(want),
             "tenant racer has used its daily budget of %s tokens; it resets at 00:00 UTC",
             budget_arg);
    assert_string_equal(json_string_value(json_object_get(e, "message")), want);
    json_decref(e);
    end = ts_caller_expect(&c, "turn_end", 10000);
    assert_non_null(end);
    assert_int_equal(num(end, "turn"), 1);
    assert_int_equal(all_tokens(json_object_get(end, "usage")), 0);
    json_decref(end);
    ts_caller_close(&c);
    pl_free(token);
}

/* A turn whose model call fails settles its reservation: nothing used, nothing held. */
static void test_failed_turn_releases_its_reservation(void **state)
{
    (void)state;
    char sid[33], *token;
    session_for(budgeted[0].url, "failer", sid, &token);
    long status;
    json_t *j = ask(budgeted[0].url, sid, token, "{\"text\":\"[[400]]\"}", &status);
    assert_int_not_equal(status, 200);
    json_decref(j);
    json_t *d = usage_of(budgeted[0].url, "failer");
    assert_int_equal(num(d, "tokens"), 0);
    assert_int_equal(num(json_object_get(d, "reserved"), "tokens"), 0);
    json_decref(d);
    char day[11], key[160];
    today(day);
    snprintf(key, sizeof(key), "parley:tenant:{failer}:reservations:%s", day);
    char *v = ts_redis_query(&st.redis, "ZCARD %s", key);
    assert_string_equal(v, "0");
    pl_free(v);
    /* The budget is whole again: a real turn passes. */
    j = ask(budgeted[0].url, sid, token, race_text, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    pl_free(token);
}

/* An instance that stopped between reserving and settling: its reservation expires, and the
 * next look at the day reclaims it. */
static void test_expired_reservation_is_reclaimed(void **state)
{
    (void)state;
    char day[11], usage_key[160], res_key[160];
    today(day);
    snprintf(usage_key, sizeof(usage_key), "parley:tenant:{crashed}:usage:%s", day);
    snprintf(res_key, sizeof(res_key), "parley:tenant:{crashed}:reservations:%s", day);
    long long past = (long long)time(NULL) * 1000 - 1000;
    char *v = ts_redis_query(&st.redis, "ZADD %s %lld %s", res_key, past,
                             "0123456789abcdef0123456789abcdef:1:900:0");
    pl_free(v);
    v = ts_redis_query(&st.redis, "ZADD %s %lld %s", res_key, past + 3600 * 1000,
                       "0123456789abcdef0123456789abcdef:2:50:0");
    pl_free(v);
    v = ts_redis_query(&st.redis, "HSET %s reserved_tokens 950", usage_key);
    pl_free(v);
    json_t *d = usage_of(st.parleyd.url, "crashed");
    assert_int_equal(num(json_object_get(d, "reserved"), "tokens"), 50);
    json_decref(d);
    v = ts_redis_query(&st.redis, "ZCARD %s", res_key);
    assert_string_equal(v, "1");
    pl_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_cache_tokens_and_cost),
        cmocka_unit_test(test_usage_route_refusals),
        cmocka_unit_test(test_budget_race_between_two_instances),
        cmocka_unit_test(test_budget_warning_once_per_tenant_and_day),
        cmocka_unit_test(test_websocket_turn_end_usage_and_refusal),
        cmocka_unit_test(test_failed_turn_releases_its_reservation),
        cmocka_unit_test(test_expired_reservation_is_reclaimed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
