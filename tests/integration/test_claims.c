/* Claim extraction (docs/claims.md) against a real redis-server, the Anthropic double and
 * parleyd: POST /v1/claims/extract answered by the model on the first answer, after one re-ask
 * (the second prompt names what was wrong), or refused with upstream_error after two invalid
 * answers; by the offline pattern extractor with the local provider; and its refusals (caller
 * token, no token, oversized body, bad body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static struct ts_parleyd local;  /* no double: the local provider */
static struct ts_parleyd routed; /* the double for chat, --routes extract=local */
static const char *const routed_args[] = {"--routes", "extract=local", NULL};
static const char *const upstream_args[] = {"--pace-ms", "1", NULL};

static const char valid_claim[] =
    "{\"name\":\"John Doe\",\"policy_number\":\"12345\",\"damage_type\":\"Vehicle accident - "
    "front bumper\",\"incident_date\":\"2024-03-14\",\"summary\":\"Rear-ended at a light.\"}";

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "claims", upstream_args, NULL))
        return -1;
    if (ts_parleyd_start(&local, st.workdir, &st.redis, NULL, NULL))
        return -1;
    return ts_parleyd_start(&routed, st.workdir, &st.redis, &st.upstream, routed_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = local.port && ts_parleyd_stop(&local) != 0 ? -1 : 0;
    if (routed.port && ts_parleyd_stop(&routed) != 0)
        rc = -1;
    return ts_stack_stop(&st) || rc ? -1 : 0;
}

/* POST `text` as {"text":...} to `base` with `token`. */
static void extract(const char *base, const char *token, const char *text, struct ts_http_reply *r)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/claims/extract", base);
    json_t *body = json_pack("{s:s}", "text", text);
    char *b = json_dumps(body, JSON_COMPACT);
    assert_int_equal(ts_http("POST", url, token, b, r), 0);
    free(b);
    json_decref(body);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = pl_malloc(1 << 22);
    size_t n = fread(buf, 1, (1 << 22) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void model_valid_first(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    char text[1024];
    snprintf(text, sizeof(text), "Policy #12345, John Doe. Rear-ended on 14 March. [[text:%s]]",
             valid_claim);
    struct ts_http_reply r;
    extract(st.parleyd.url, agent, text, &r);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"claim\":%s,\"extractor\":\"model\",\"provider\":\"anthropic\",\"attempts\":1}",
             valid_claim);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    ts_http_reply_free(&r);
    /* an admin token may too; prose and a fence around the object are fine */
    char *admin = ts_token("admin", "ops", NULL, 600);
    snprintf(text, sizeof(text), "Another claim. [[text:Here you are: ```json %s ```]]",
             valid_claim);
    extract(st.parleyd.url, admin, text, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    ts_http_reply_free(&r);
    char *log = read_all(st.upstream.log);
    assert_true(count(log, "You extract insurance claims") >= 2); /* the system prompt */
    pl_free(log);
    pl_free(admin);
    pl_free(agent);
}

static void model_invalid_then_valid(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    char text[1024];
    snprintf(text, sizeof(text), "Claim two. [[seq:Sorry, I cannot do that.|%s]]", valid_claim);
    struct ts_http_reply r;
    extract(st.parleyd.url, agent, text, &r);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"claim\":%s,\"extractor\":\"model\",\"provider\":\"anthropic\",\"attempts\":2}",
             valid_claim);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    ts_http_reply_free(&r);
    char *log = read_all(st.upstream.log);
    assert_int_equal(count(log, "Claim two."), 2);
    assert_int_equal(count(log, "Your previous answer was not accepted: no JSON object in the "
                                "answer. Answer again with only the JSON object"),
                     1);
    pl_free(log);
    pl_free(agent);
}

static void model_invalid_twice(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    const char *text = "Claim three. [[seq:{\"name\": \"x\"|{\"name\":1,\"policy_number\":\"1\","
                       "\"damage_type\":\"x\",\"incident_date\":null,\"summary\":\"s\"}]]";
    struct ts_http_reply r;
    extract(st.parleyd.url, agent, text, &r);
    assert_int_equal(r.status, 502);
    assert_string_equal(r.body,
                        "{\"error\":{\"code\":\"upstream_error\",\"message\":\"the model's answer "
                        "was not a valid claim, twice (asked again once): name: must be a "
                        "string\",\"retryable\":false}}");
    ts_http_reply_free(&r);
    char *log = read_all(st.upstream.log);
    assert_int_equal(count(log, "Claim three."), 2);
    assert_int_equal(count(log, "not accepted: the JSON object is not closed."), 1);
    pl_free(log);
    pl_free(agent);
}

/* The double's count of streams still open (GET /stats). */
static long upstream_active_streams(void)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", st.upstream.port);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    long n = (long)json_integer_value(json_object_get(j, "active_streams"));
    json_decref(j);
    ts_http_reply_free(&r);
    return n;
}

/* A client that goes away cancels the model call: the double sees its stream closed long
 * before the 30 s idle timeout would have closed it. */
static void client_gone_cancels_the_call(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/claims/extract", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(
        ts_http_accept("POST", url, agent, "{\"text\":\"Claim four. [[stall]]\"}", NULL, 500, &r),
        -1); /* our own timeout: the client gives up */
    ts_http_reply_free(&r);
    long active = 1;
    for (int i = 0; i < 200 && (active = upstream_active_streams()) != 0; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(active, 0);
    pl_free(agent);
}

static void local_provider_patterns(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    struct ts_http_reply r;
    extract(local.url, agent,
            "Policy #12345 / Customer: John Doe / Claim: Vehicle accident, front bumper damage",
            &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"claim\":{\"name\":\"John Doe\",\"policy_number\":\"12345\","
                                "\"damage_type\":\"Vehicle accident - front bumper\","
                                "\"incident_date\":null,\"summary\":\"Vehicle accident, front "
                                "bumper damage\"},\"extractor\":\"local\"}");
    ts_http_reply_free(&r);
    pl_free(agent);
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct pl_buf *b = ud;
    pl_buf_append(b, data, size * n);
    return size * n;
}

/* POST the text itself as text/plain; the body answered in `out` (new). */
static long post_plain(const char *base, const char *token, const char *text, char **out)
{
    char url[160], auth[1024];
    snprintf(url, sizeof(url), "%s/v1/claims/extract", base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    h = curl_slist_append(h, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pl_buf_append(&b, "", 1);
    *out = pl_buf_take(&b);
    return status;
}

/* --routes extract=local: the pattern extractor although chat has a model; text/plain bodies. */
static void route_to_local_and_plain_text(void **state)
{
    (void)state;
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    char *body = NULL;
    assert_int_equal(post_plain(routed.url, agent,
                                "Policy number: POL-2291\nName: Ana Pereira\n"
                                "Incident date: 14 March 2024\nDamage: Water damage; burst pipe.",
                                &body),
                     200);
    assert_string_equal(body, "{\"claim\":{\"name\":\"Ana Pereira\",\"policy_number\":"
                              "\"POL-2291\",\"damage_type\":\"Water damage - burst pipe\","
                              "\"incident_date\":\"2024-03-14\",\"summary\":\"Water damage; "
                              "burst pipe.\"},\"extractor\":\"local\"}");
    pl_free(body);
    /* the model through the double answers the same text/plain body on the chat parleyd */
    char text[1024];
    snprintf(text, sizeof(text), "Plain claim. [[text:%s]]", valid_claim);
    assert_int_equal(post_plain(st.parleyd.url, agent, text, &body), 200);
    assert_non_null(strstr(body, "\"extractor\":\"model\""));
    pl_free(body);
    assert_int_equal(post_plain(st.parleyd.url, agent, "\xff\xfe", &body), 400);
    pl_free(body);
    pl_free(agent);
}

static void refusals(void **state)
{
    (void)state;
    char sid[33];
    char *caller = ts_session_create(st.parleyd.url, sid);
    assert_non_null(caller);
    char *agent = ts_token("agent", "desk-1", NULL, 600);
    struct ts_http_reply r;
    extract(st.parleyd.url, caller, "Policy #1", &r);
    assert_int_equal(r.status, 403);
    ts_http_reply_free(&r);
    extract(st.parleyd.url, NULL, "Policy #1", &r);
    assert_int_equal(r.status, 401);
    ts_http_reply_free(&r);

    char *big = pl_malloc(40 * 1024);
    memset(big, 'a', 40 * 1024 - 1);
    big[40 * 1024 - 1] = '\0';
    extract(st.parleyd.url, agent, big, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"code\":\"too_large\""));
    ts_http_reply_free(&r);
    pl_free(big);

    char url[160];
    snprintf(url, sizeof(url), "%s/v1/claims/extract", st.parleyd.url);
    assert_int_equal(ts_http("POST", url, agent, "{\"text\":5}", &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"code\":\"bad_request\""));
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, agent, "{\"text\":\"  \\n \"}", &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "the claim text is empty"));
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("GET", url, agent, NULL, &r), 0);
    assert_int_equal(r.status, 405);
    ts_http_reply_free(&r);
    pl_free(agent);
    pl_free(caller);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_valid_first),
        cmocka_unit_test(model_invalid_then_valid),
        cmocka_unit_test(model_invalid_twice),
        cmocka_unit_test(client_gone_cancels_the_call),
        cmocka_unit_test(local_provider_patterns),
        cmocka_unit_test(route_to_local_and_plain_text),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
