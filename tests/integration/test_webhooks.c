/* The Lex and Connect webhooks (docs/lex-connect.md) with a real redis-server, parleyd and the
 * upstream double (or the local provider):
 *  - a signed Lex text event is answered through the turn engine, in a session of its own;
 *  - verify_policy binds the policy only on a correct second factor, and then a Lex
 *    conversation and a web conversation with that policy get the same record in the prompt;
 *  - escalate closes with the attributes a flow routes on and marks the session;
 *  - unsigned, wrongly signed, stale and replayed requests get 401 and store nothing; a
 *    malformed event gets 400 with the parser's message;
 *  - Connect: ask within the budget, a transferred contact in the same session, the phone
 *    number masked in the log, escalate, an unknown action;
 *  - with a slow model: Lex holds and gives the stored answer with the next event; Connect
 *    answers pending and then done on poll; the summary packet is the exact extractive text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bot/webhook_auth.h"
#include "bot/webhook_sig.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"

#define SECRET "webhook-test-secret-0123456789abcdef-xyz"
#define ANSWER "Your policy covers that."
#define RECORD                                                                                     \
    "{\"policy_number\":\"POL-700007\",\"holder\":{\"name\":\"Ada Lovelace\",\"postcode\":\"ZZ1 "  \
    "4QT\"},"                                                                                      \
    "\"product\":\"home\"}"
#define INTENTS                                                                                    \
    "{\"intents\":{\"VerifyPolicy\":{\"action\":\"verify_policy\",\"policy_slot\":"                \
    "\"PolicyNumber\",\"check_slot\":\"Postcode\",\"check_field\":\"holder.postcode\"},"           \
    "\"TalkToAgent\":{\"action\":\"escalate\",\"reason\":\"the caller asked for a person\"},"      \
    "\"CloseIt\":{\"action\":\"answer\",\"then\":\"close\"},\"Handled\":{\"action\":"              \
    "\"delegate\"}}}"

static struct ts_stack st, slow;
static char intents_path[700];
static const char *const upstream_args[] = {"--pace-ms", "1", "--text", ANSWER, NULL};
static const char *const parleyd_args[] = {"--webhook-secret", SECRET, "--lex-intents",
                                           intents_path, NULL};
/* The local provider at 30 ms a word takes a few seconds per answer: past both budgets. */
static const char *const slow_args[] = {"--webhook-secret",
                                        SECRET,
                                        "--local-pace-ms",
                                        "30",
                                        "--lex-time-budget-ms",
                                        "300",
                                        "--connect-time-budget-ms",
                                        "300",
                                        "--lex-holding-message",
                                        "Hold on.",
                                        NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(intents_path, sizeof(intents_path), "%s/intents.json", ts_workdir("webhooks_cfg"));
    FILE *f = fopen(intents_path, "w");
    if (!f || fputs(INTENTS, f) < 0 || fclose(f) != 0)
        return -1;
    if (ts_stack_start(&st, "webhooks", upstream_args, parleyd_args) != 0)
        return -1;
    return ts_stack_start(&slow, "webhooks_slow", NULL, slow_args);
}

static int teardown(void **state)
{
    (void)state;
    int a = ts_stack_stop(&st), b = ts_stack_stop(&slow);
    return a || b ? -1 : 0;
}

/* ---- requests ---- */

enum signing { SIGNED, UNSIGNED, WRONG_SECRET, STALE };

/* POST `body` to `path` of `stack`, signed as `how` says at `ts` (0: now), with the signature
 * `sig_in` instead when not NULL. Returns the status; the body in `out` (new). */
static long post_as(struct ts_stack *s, const char *path, const char *body, enum signing how,
                    long long ts, const char *sig_in, char **out)
{
    char url[256], sigh[128], tsv[24], sig[WEBHOOK_SIG_HEX_LEN + 1];
    snprintf(url, sizeof(url), "%s%s", s->parleyd.url, path);
    if (!ts)
        ts = (long long)time(NULL) - (how == STALE ? 600 : 0);
    snprintf(tsv, sizeof(tsv), "%lld", ts);
    const char *secret = how == WRONG_SECRET ? "another-secret-0123456789abcdef-0000" : SECRET;
    webhook_sign(secret, strlen(secret), tsv, body, strlen(body), sig);
    snprintf(sigh, sizeof(sigh), "v1=%s", sig_in ? sig_in : sig);
    return ts_post_signed(url, how == UNSIGNED ? NULL : tsv, how == UNSIGNED ? NULL : sigh, body,
                          out);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* A Lex V2 response as Lex requires it (PROTOCOLS.md 4.2): a dialogAction of a known type (with
 * slotToElicit for ElicitSlot), the intent's name and state, messages where the type needs them,
 * at most 10 of 1 to 1024 characters, each PlainText or SSML; string session attributes. */
static void check_lex(json_t *r)
{
    json_t *st_ = json_object_get(r, "sessionState");
    const char *type = str(json_object_get(st_, "dialogAction"), "type");
    static const char *const types[] = {"Close", "ElicitIntent", "ElicitSlot", "ConfirmIntent",
                                        "Delegate"};
    size_t t = 0;
    while (t < 5 && strcmp(types[t], type) != 0)
        t++;
    assert_true(t < 5);
    if (t == 2)
        assert_true(*str(json_object_get(st_, "dialogAction"), "slotToElicit"));
    json_t *intent = json_object_get(st_, "intent");
    assert_true(*str(intent, "name"));
    assert_true(*str(intent, "state"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(st_, "sessionAttributes"), k, v)
        assert_true(json_is_string(v));
    json_t *msgs = json_object_get(r, "messages");
    if (t == 1 || t == 3)
        assert_true(json_array_size(msgs) >= 1);
    assert_true(json_array_size(msgs) <= 10);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *ct = str(m, "contentType");
        assert_true(!strcmp(ct, "PlainText") || !strcmp(ct, "SSML"));
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)str(m, "content"); *p; p++)
            chars += (*p & 0xC0) != 0x80;
        assert_true(chars >= 1 && chars <= 1024);
    }
}

/* A Connect response: a flat object of strings under 32,000 bytes. */
static void check_connect(json_t *r, size_t bytes)
{
    assert_true(json_is_object(r));
    assert_true(bytes < 32000);
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) assert_true(json_is_string(v));
}

/* A signed POST whose answer must be 200 JSON: the parsed body. */
static json_t *post_ok(struct ts_stack *s, const char *path, json_t *event)
{
    char *body = json_dumps(event, JSON_COMPACT);
    char *out;
    long status = post_as(s, path, body, SIGNED, 0, NULL, &out);
    if (status != 200)
        fail_msg("%s: status %ld: %s", path, status, out);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    if (!strcmp(path, "/v1/lex"))
        check_lex(j);
    else
        check_connect(j, strlen(out));
    free(body);
    pl_free(out);
    json_decref(event);
    return j;
}

/* ---- events ---- */

/* A Lex V2 event; slots a JSON object text (NULL: {}). */
static json_t *lex_event(const char *session, const char *intent, const char *mode,
                         const char *transcript, const char *slots)
{
    json_t *sl = json_loads(slots ? slots : "{}", 0, NULL);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:{s:s},s:{s:s,s:o,s:s}}}",
                     "messageVersion", "1.0", "invocationSource", "DialogCodeHook", "inputMode",
                     mode, "sessionId", session, "inputTranscript", transcript, "bot", "name",
                     "TestBot", "localeId", "en_GB", "id", "B1", "sessionState",
                     "sessionAttributes", "caller_language", "en", "intent", "name", intent,
                     "slots", sl, "state", "InProgress");
}

static char *slot(const char *name, const char *value, const char *name2, const char *value2)
{
    json_t *o = json_object();
    json_object_set_new(o, name,
                        json_pack("{s:s,s:{s:s,s:s}}", "shape", "Scalar", "value", "originalValue",
                                  value, "interpretedValue", value));
    if (name2)
        json_object_set_new(o, name2,
                            json_pack("{s:s,s:{s:s,s:s}}", "shape", "Scalar", "value",
                                      "originalValue", value2, "interpretedValue", value2));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static json_t *connect_event(const char *contact, const char *initial, const char *channel,
                             const char *action, const char *text)
{
    json_t *params = json_pack("{s:s}", "action", action);
    if (text)
        json_object_set_new(params, "text", json_string(text));
    return json_pack("{s:s,s:{s:{s:{s:s},s:s,s:s,s:s,s:s,s:{s:s,s:s},s:n},s:o}}", "Name",
                     "ContactFlowEvent", "Details", "ContactData", "Attributes", "segment", "gold",
                     "Channel", channel, "ContactId", contact, "InitialContactId", initial,
                     "InitiationMethod", strcmp(contact, initial) ? "TRANSFER" : "INBOUND",
                     "CustomerEndpoint", "Address", "+447700900123", "Type", "TELEPHONE_NUMBER",
                     "Queue", "Parameters", params);
}

/* The text of a Lex response's messages, joined by " ". */
static char *lex_text(json_t *resp)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(resp, "messages"), i, m)
    {
        if (i)
            pl_buf_append_str(&b, " ");
        pl_buf_append_str(&b, str(m, "content"));
    }
    pl_buf_append(&b, "", 1);
    return pl_buf_take(&b);
}

static const char *action_type(json_t *resp)
{
    return str(json_object_get(json_object_get(resp, "sessionState"), "dialogAction"), "type");
}

static const char *attribute(json_t *resp, const char *name)
{
    return str(json_object_get(json_object_get(resp, "sessionState"), "sessionAttributes"), name);
}

static char *hget(struct ts_stack *s, const char *sid, const char *field)
{
    return ts_redis_query(&s->redis, "HGET parley:{%s}:session %s", sid, field);
}

static void expect_field(struct ts_stack *s, const char *sid, const char *field, const char *want)
{
    char *v = hget(s, sid, field);
    assert_non_null(v);
    assert_string_equal(v, want);
    pl_free(v);
}

static void sid_of(const char *kind, const char *id, char sid[SESS_ID_LEN + 1])
{
    webhook_session_id(SECRET, kind, id, sid);
}

/* ---- Lex ---- */

static void test_lex_text_answer(void **state)
{
    (void)state;
    json_t *r =
        post_ok(&st, "/v1/lex",
                lex_event("lex-text-1", "FallbackIntent", "Text", "lex-answer-1: hi", NULL));
    assert_string_equal(action_type(r), "ElicitIntent");
    char *text = lex_text(r);
    assert_string_equal(text, ANSWER);
    pl_free(text);
    assert_string_equal(attribute(r, "caller_language"), "en"); /* kept */
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-text-1", sid);
    assert_string_equal(attribute(r, "parley_session"), sid);
    json_decref(r);
    expect_field(&st, sid, "channel", "lex-text");
    expect_field(&st, sid, "hook_id", "lex-text-1");
    expect_field(&st, sid, "answered", "1");

    /* Configured to close; and a delegated intent is handed back to Lex with no message. */
    r = post_ok(&st, "/v1/lex", lex_event("lex-text-1", "CloseIt", "Text", "lex-answer-2", NULL));
    assert_string_equal(action_type(r), "Close");
    assert_string_equal(str(json_object_get(json_object_get(r, "sessionState"), "intent"), "state"),
                        "Fulfilled");
    json_decref(r);
    r = post_ok(&st, "/v1/lex", lex_event("lex-text-1", "Handled", "Text", "whatever", NULL));
    assert_string_equal(action_type(r), "Delegate");
    assert_null(json_object_get(r, "messages"));
    json_decref(r);
    expect_field(&st, sid, "turns", "2");
}

static char *document_block(const char *system)
{
    const char *a = strstr(system, "<document id=\"policy:POL-700007\"");
    assert_non_null(a);
    const char *b = strstr(a, "</document>");
    assert_non_null(b);
    return pl_strndup(a, (size_t)(b - a));
}

static void test_lex_verify_then_same_context_as_web(void **state)
{
    (void)state;
    char *admin = ts_token("admin", "ops", NULL, 600);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/policies/POL-700007", st.parleyd.url);
    struct ts_http_reply hr;
    assert_int_equal(ts_http("PUT", url, admin, RECORD, &hr), 0);
    assert_true(hr.status == 201 || hr.status == 200);
    ts_http_reply_free(&hr);
    pl_free(admin);
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-verify-1", sid);

    /* Nothing yet: the number is asked for; then the second factor. */
    json_t *r = post_ok(&st, "/v1/lex",
                        lex_event("lex-verify-1", "VerifyPolicy", "Text", "verify me", NULL));
    assert_string_equal(action_type(r), "ElicitSlot");
    assert_string_equal(
        str(json_object_get(json_object_get(r, "sessionState"), "dialogAction"), "slotToElicit"),
        "PolicyNumber");
    json_decref(r);
    char *slots = slot("PolicyNumber", "POL-700007", NULL, NULL);
    r = post_ok(&st, "/v1/lex",
                lex_event("lex-verify-1", "VerifyPolicy", "Text", "POL-700007", slots));
    pl_free(slots);
    assert_string_equal(
        str(json_object_get(json_object_get(r, "sessionState"), "dialogAction"), "slotToElicit"),
        "Postcode");
    json_decref(r);

    /* A wrong postcode, and an unknown number: the same re-ask, nothing bound. */
    const char *wrong[][2] = {{"POL-700007", "ZZ9 9ZZ"}, {"POL-999999", "ZZ1 4QT"}};
    char *first = NULL;
    for (size_t i = 0; i < 2; i++) {
        slots = slot("PolicyNumber", wrong[i][0], "Postcode", wrong[i][1]);
        r = post_ok(&st, "/v1/lex",
                    lex_event("lex-verify-1", "VerifyPolicy", "Text", "ZZ1", slots));
        pl_free(slots);
        assert_string_equal(action_type(r), "ElicitSlot");
        json_t *sl =
            json_object_get(json_object_get(json_object_get(r, "sessionState"), "intent"), "slots");
        assert_true(json_is_null(json_object_get(sl, "PolicyNumber")));
        char *text = lex_text(r);
        if (first)
            assert_string_equal(text, first);
        else
            first = pl_strdup(text);
        pl_free(text);
        assert_string_equal(attribute(r, "parley_verified"), "");
        json_decref(r);
    }
    assert_string_equal(first,
                        "Sorry, I could not verify those details. What is your policy number?");
    pl_free(first);
    expect_field(&st, sid, "policy_number", "");

    /* Right: bound, and said so. */
    slots = slot("PolicyNumber", "POL-700007", "Postcode", "zz14qt");
    r = post_ok(&st, "/v1/lex", lex_event("lex-verify-1", "VerifyPolicy", "Text", "zz14qt", slots));
    pl_free(slots);
    assert_string_equal(action_type(r), "Close");
    assert_string_equal(attribute(r, "parley_verified"), "true");
    assert_string_equal(attribute(r, "parley_session"), sid);
    json_decref(r);
    expect_field(&st, sid, "policy_number", "POL-700007");
    expect_field(&st, sid, "hook_verified", "1");

    /* The Lex conversation and a web conversation with the same policy: the same record. */
    r = post_ok(
        &st, "/v1/lex",
        lex_event("lex-verify-1", "FallbackIntent", "Text", "lex-ctx-1: am I covered?", NULL));
    json_decref(r);
    /* a web caller bound to the policy at creation */
    char *admin2 = ts_token("admin", "ops", NULL, 600);
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    assert_int_equal(ts_http("POST", url, admin2,
                             "{\"caller\":{\"id\":\"ada\",\"policy_number\":\"POL-700007\"}}", &hr),
                     0);
    assert_int_equal(hr.status, 201);
    json_t *created = json_loads(hr.body, 0, NULL);
    ts_http_reply_free(&hr);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=10000", st.parleyd.url,
             str(created, "session_id"));
    assert_int_equal(
        ts_http("POST", url, str(created, "token"), "{\"text\":\"web-ctx-1: am I covered?\"}", &hr),
        0);
    assert_int_equal(hr.status, 200);
    ts_http_reply_free(&hr);
    json_decref(created);
    pl_free(admin2);
    char *sys_lex = ts_upstream_system_prompt(&st.upstream, "lex-ctx-1");
    char *sys_web = ts_upstream_system_prompt(&st.upstream, "web-ctx-1");
    assert_non_null(sys_lex);
    assert_non_null(sys_web);
    char *a = document_block(sys_lex), *b = document_block(sys_web);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "Ada Lovelace"));
    pl_free(a);
    pl_free(b);
    pl_free(sys_lex);
    pl_free(sys_web);
}

static void test_lex_escalate(void **state)
{
    (void)state;
    json_t *r = post_ok(&st, "/v1/lex",
                        lex_event("lex-escalate-1", "TalkToAgent", "Speech", "agent please", NULL));
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-escalate-1", sid);
    assert_string_equal(action_type(r), "Close");
    assert_string_equal(attribute(r, "parley_escalate"), "true");
    assert_string_equal(attribute(r, "parley_session"), sid);
    /* spoken: SSML */
    json_t *m = json_array_get(json_object_get(r, "messages"), 0);
    assert_string_equal(str(m, "contentType"), "SSML");
    assert_string_equal(str(m, "content"), "<speak>I am transferring you to an agent now.</speak>");
    json_decref(r);
    expect_field(&st, sid, "state", "waiting_agent");
    expect_field(&st, sid, "escalation_reason", "the caller asked for a person");
    expect_field(&st, sid, "channel", "lex");
    /* the desk orders waiting sessions by the time they began to wait */
    char *since = ts_redis_query(&st.redis, "HGET parley:{%s}:session waiting_since", sid);
    assert_non_null(since);
    assert_true(strtoll(since, NULL, 10) > 1700000000000LL);
    free(since);
    /* a session an agent holds stays with the agent (docs/protocol.md "Escalation") */
    free(ts_redis_query(&st.redis, "HSET parley:{%s}:session state agent agent eve", sid));
    r = post_ok(&st, "/v1/lex",
                lex_event("lex-escalate-1", "TalkToAgent", "Speech", "an agent now", NULL));
    assert_string_equal(attribute(r, "parley_escalate"), "true");
    json_decref(r);
    expect_field(&st, sid, "state", "agent");
}

/* GET /metrics of `s` holds `line`. */
static void expect_metric(struct ts_stack *s, const char *line)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", s->parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    if (!strstr(r.body, line))
        fail_msg("/metrics lacks \"%s\"", line);
    ts_http_reply_free(&r);
}

/* ---- refusals ---- */

static long long sig_keys(struct ts_stack *s)
{
    char *n = ts_redis_query(&s->redis, "EVAL %s 0",
                             "return #redis.call('KEYS', "
                             "'parley:webhook:sig:*')");
    long long v = n ? strtoll(n, NULL, 10) : -1;
    pl_free(n);
    return v;
}

static void expect_refused(enum signing how, const char *sig_in, long long ts, long want,
                           const char *message)
{
    json_t *ev = lex_event("lex-refused-1", "FallbackIntent", "Text", "refused", NULL);
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    long long before = sig_keys(&st);
    char *out;
    assert_int_equal(post_as(&st, "/v1/lex", body, how, ts, sig_in, &out), want);
    json_t *j = json_loads(out, 0, NULL);
    assert_string_equal(str(json_object_get(j, "error"), "code"),
                        want == 401 ? "unauthorized" : "bad_request");
    assert_string_equal(str(json_object_get(j, "error"), "message"), message);
    json_decref(j);
    pl_free(out);
    free(body);
    assert_int_equal(sig_keys(&st), before);
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-refused-1", sid);
    char *exists = ts_redis_query(&st.redis, "EXISTS parley:{%s}:session", sid);
    assert_string_equal(exists, "0");
    pl_free(exists);
}

static void test_refusals_store_nothing(void **state)
{
    (void)state;
    expect_refused(UNSIGNED, NULL, 0, 401, webhook_verdict_message(WEBHOOK_MISSING));
    expect_refused(WRONG_SECRET, NULL, 0, 401, webhook_verdict_message(WEBHOOK_MISMATCH));
    expect_refused(STALE, NULL, 0, 401, webhook_verdict_message(WEBHOOK_STALE));
    expect_refused(SIGNED, "nothex", 0, 401, webhook_verdict_message(WEBHOOK_MALFORMED));

    /* A replay: the first is answered, the same signed request again is not. */
    json_t *ev = lex_event("lex-replay-1", "FallbackIntent", "Text", "replay-1", NULL);
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    long long ts = (long long)time(NULL);
    char tsv[24], sig[WEBHOOK_SIG_HEX_LEN + 1];
    snprintf(tsv, sizeof(tsv), "%lld", ts);
    webhook_sign(SECRET, strlen(SECRET), tsv, body, strlen(body), sig);
    char *out;
    assert_int_equal(post_as(&st, "/v1/lex", body, SIGNED, ts, sig, &out), 200);
    pl_free(out);
    assert_int_equal(post_as(&st, "/v1/lex", body, SIGNED, ts, sig, &out), 401);
    assert_non_null(strstr(out, "accepted before"));
    pl_free(out);
    free(body);
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-replay-1", sid);
    expect_field(&st, sid, "turns", "1");
    char *ttl = ts_redis_query(&st.redis, "TTL parley:webhook:sig:{%s}", sig);
    long ttl_s = strtol(ttl, NULL, 10);
    assert_true(ttl_s > 500 && ttl_s <= 600);
    pl_free(ttl);
    expect_metric(&st, "parley_webhook_refused_total 5\n");
    /* the log names the reason, never the signature */
    char *log = ts_log_read(&st.parleyd.proc);
    assert_non_null(strstr(log, "a replayed signature"));
    assert_null(strstr(log, sig));
    pl_free(log);
}

static void test_malformed_events(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"/v1/lex", "{\"sessionId\":\"x\"", "not a Lex V2 event: "},
        {"/v1/lex", "{\"sessionId\":\"lex-bad-1\"}", "not a Lex V2 event: "},
        {"/v1/connect", "{\"Details\":{}}", "not an Amazon Connect event: "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long before = sig_keys(&st);
        char *out;
        assert_int_equal(post_as(&st, cases[i][0], cases[i][1], SIGNED, 0, NULL, &out), 400);
        json_t *j = json_loads(out, 0, NULL);
        const char *msg = str(json_object_get(j, "error"), "message");
        assert_int_equal(strncmp(msg, cases[i][2], strlen(cases[i][2])), 0);
        assert_true(strlen(msg) > strlen(cases[i][2]) + 5); /* the parser says what is wrong */
        json_decref(j);
        pl_free(out);
        assert_int_equal(sig_keys(&st), before);
    }
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-bad-1", sid);
    char *exists = ts_redis_query(&st.redis, "EXISTS parley:{%s}:session", sid);
    assert_string_equal(exists, "0");
    pl_free(exists);
}

static void test_off_without_a_secret_and_body_limit(void **state)
{
    (void)state;
    struct ts_parleyd off;
    memset(&off, 0, sizeof(off));
    assert_int_equal(ts_parleyd_start(&off, ts_workdir("webhooks_off"), &st.redis, NULL, NULL), 0);
    const char *paths[] = {"/v1/lex", "/v1/connect"};
    for (size_t i = 0; i < 2; i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s%s", off.url, paths[i]);
        struct ts_http_reply r;
        assert_int_equal(ts_http("POST", url, NULL, "{}", &r), 0);
        assert_int_equal(r.status, 404);
        json_t *j = json_loads(r.body, 0, NULL);
        assert_string_equal(str(json_object_get(j, "error"), "message"),
                            "the webhooks are off: this server has no --webhook-secret "
                            "(PARLEY_WEBHOOK_SECRET)");
        json_decref(j);
        ts_http_reply_free(&r);
    }
    assert_int_equal(ts_parleyd_stop(&off), 0);

    /* Past 128 KiB: refused before it is read. */
    struct pl_buf big;
    pl_buf_init(&big, SIZE_MAX);
    pl_buf_append_str(&big, "{\"pad\":\"");
    while (big.len < 129 * 1024)
        pl_buf_append_str(&big, "xxxxxxxxxxxxxxxx");
    pl_buf_append_str(&big, "\"}");
    pl_buf_append(&big, "", 1);
    char *out;
    assert_int_equal(post_as(&st, "/v1/lex", big.data, SIGNED, 0, NULL, &out), 413);
    assert_non_null(strstr(out, "a webhook event is larger than 128 KiB"));
    pl_free(out);
    pl_buf_cleanup(&big);
    /* Only POST. */
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/connect", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    ts_http_reply_free(&r);
}

/* ---- Connect ---- */

static void test_connect_ask_transfer_escalate(void **state)
{
    (void)state;
    const char *contact = "c0ffee00-0000-4000-8000-000000000001";
    json_t *r = post_ok(&st, "/v1/connect",
                        connect_event(contact, contact, "VOICE", "ask", "connect-ask-1: covered?"));
    char sid[SESS_ID_LEN + 1];
    sid_of("connect", contact, sid);
    assert_string_equal(str(r, "status"), "done");
    assert_string_equal(str(r, "answer"), ANSWER);
    assert_string_equal(str(r, "session_id"), sid);
    assert_string_equal(str(r, "escalate"), "false");
    assert_string_equal(str(r, "turn"), "1");
    /* a flat map of strings */
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) assert_true(json_is_string(v));
    json_decref(r);
    expect_field(&st, sid, "channel", "voice");
    expect_field(&st, sid, "caller_phone", "+447700900123");
    expect_field(&st, sid, "contact_attributes", "{\"segment\":\"gold\"}");
    char *log = ts_log_read(&st.parleyd.proc);
    assert_non_null(strstr(log, "caller ***0123"));
    assert_null(strstr(log, "7700900123"));
    pl_free(log);

    /* Transferred: a new ContactId, the same InitialContactId, the same session. */
    r = post_ok(&st, "/v1/connect",
                connect_event("c0ffee00-0000-4000-8000-000000000002", contact, "CHAT", "ask",
                              "connect-ask-2"));
    assert_string_equal(str(r, "session_id"), sid);
    assert_string_equal(str(r, "turn"), "2");
    json_decref(r);

    r = post_ok(&st, "/v1/connect", connect_event(contact, contact, "VOICE", "escalate", NULL));
    assert_string_equal(str(r, "escalate"), "true");
    json_decref(r);
    expect_field(&st, sid, "state", "waiting_agent");

    r = post_ok(&st, "/v1/connect", connect_event(contact, contact, "VOICE", "dance", NULL));
    assert_string_equal(str(r, "status"), "error");
    assert_string_equal(str(r, "error"),
                        "unknown Parameters.action: it is ask, poll, summary or escalate");
    json_decref(r);
    r = post_ok(&st, "/v1/connect", connect_event(contact, contact, "VOICE", "ask", NULL));
    assert_string_equal(str(r, "error"), "action ask needs Parameters.text: the caller's words");
    json_decref(r);
    char *long_text = pl_malloc(4002);
    memset(long_text, 'a', 4001);
    long_text[4001] = '\0';
    r = post_ok(&st, "/v1/connect", connect_event(contact, contact, "VOICE", "ask", long_text));
    assert_string_equal(str(r, "error"),
                        "Parameters.text has 4001 characters and the limit is 4000");
    json_decref(r);
    r = post_ok(&st, "/v1/lex", lex_event("lex-long-1", "FallbackIntent", "Text", long_text, NULL));
    char *said = lex_text(r);
    assert_string_equal(said, "Sorry, that was too long for me. Could you say it in fewer words?");
    pl_free(said);
    json_decref(r);
    pl_free(long_text);
    expect_field(&st, sid, "turns", "2"); /* neither stored */
    char lex_sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-long-1", lex_sid);
    expect_field(&st, lex_sid, "turns", "0");
}

/* Two first events of one contact at once: one session, both messages in it. */
struct racer {
    const char *text;
    json_t *answer;
};

static void *race(void *ud)
{
    struct racer *r = ud;
    const char *contact = "c0ffee00-0000-4000-8000-0000000000ff";
    json_t *ev = connect_event(contact, contact, "VOICE", "ask", r->text);
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    char *out;
    if (post_as(&st, "/v1/connect", body, SIGNED, 0, NULL, &out) == 200)
        r->answer = json_loads(out, 0, NULL);
    pl_free(out);
    free(body);
    return NULL;
}

static void test_connect_first_events_at_once(void **state)
{
    (void)state;
    struct racer a = {.text = "race-1"}, b = {.text = "race-2"};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_non_null(a.answer);
    assert_non_null(b.answer);
    assert_string_equal(str(a.answer, "session_id"), str(b.answer, "session_id"));
    assert_string_not_equal(str(a.answer, "turn"), str(b.answer, "turn"));
    expect_field(&st, str(a.answer, "session_id"), "turns", "2");
    json_decref(a.answer);
    json_decref(b.answer);
}

/* The flow's policy attribute binds the policy; the handoff names it and the passages relied on. */
static void test_connect_policy_attribute_and_handoff(void **state)
{
    (void)state;
    const char *contact = "c0ffee00-0000-4000-8000-000000000003";
    json_t *ev = connect_event(contact, contact, "CHAT", "ask", "connect-policy-1: covered?");
    json_t *attrs = json_object_get(json_object_get(json_object_get(ev, "Details"), "ContactData"),
                                    "Attributes");
    json_object_set_new(attrs, "policy_number", json_string("POL-700007"));
    json_t *r = post_ok(&st, "/v1/connect", ev);
    assert_string_equal(str(r, "status"), "done");
    json_decref(r);
    char sid[SESS_ID_LEN + 1];
    sid_of("connect", contact, sid);
    expect_field(&st, sid, "policy_number", "POL-700007");
    char *system = ts_upstream_system_prompt(&st.upstream, "connect-policy-1");
    assert_non_null(system);
    assert_non_null(strstr(system, "Ada Lovelace"));
    pl_free(system);
    r = post_ok(&st, "/v1/connect", connect_event(contact, contact, "CHAT", "summary", NULL));
    const char *want = "Caller: identified by the contact flow, policy POL-700007. Escalated: no. "
                       "Summary: " ANSWER " Sources: Your policy POL-700007 (policy:POL-700007).";
    assert_string_equal(str(r, "summary"), want);
    assert_string_equal(str(r, "escalate"), "false");
    json_decref(r);
    expect_field(&st, sid, "handoff", want);
    /* ... and shown with the session to agents */
    char url[256], *agent = ts_token("agent", "ag", NULL, 600);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s", st.parleyd.url, sid);
    struct ts_http_reply hr;
    assert_int_equal(ts_http("GET", url, agent, NULL, &hr), 0);
    assert_int_equal(hr.status, 200);
    json_t *got = json_loads(hr.body, 0, NULL);
    assert_string_equal(str(json_object_get(got, "session"), "handoff"), want);
    json_decref(got);
    ts_http_reply_free(&hr);
    pl_free(agent);

    /* The session a Lex bot verified, named by the flow (its parley_session attribute). */
    char lex_sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-verify-1", lex_sid);
    ev = connect_event(contact, contact, "CHAT", "summary", NULL);
    json_object_set_new(json_object_get(json_object_get(ev, "Details"), "Parameters"), "session_id",
                        json_string(lex_sid));
    r = post_ok(&st, "/v1/connect", ev);
    assert_string_equal(str(r, "session_id"), lex_sid);
    assert_string_equal(str(r, "summary"),
                        "Caller: verified, policy POL-700007. Escalated: no. Summary: " ANSWER
                        " Sources: Your policy POL-700007 (policy:POL-700007).");
    json_decref(r);
    /* One that does not exist is not made. */
    ev = connect_event(contact, contact, "CHAT", "summary", NULL);
    json_object_set_new(json_object_get(json_object_get(ev, "Details"), "Parameters"), "session_id",
                        json_string("00000000000000000000000000000000"));
    r = post_ok(&st, "/v1/connect", ev);
    assert_string_equal(str(r, "error"),
                        "no such session: Parameters.session_id names none (or it expired)");
    json_decref(r);
    char *exists =
        ts_redis_query(&st.redis, "EXISTS parley:{00000000000000000000000000000000}:session");
    assert_string_equal(exists, "0");
    pl_free(exists);
}

/* ---- a slow model ---- */

#define OFFLINE_ANSWER_START "No AI model is configured on this server"

static void test_lex_holding_then_stored_answer(void **state)
{
    (void)state;
    json_t *r = post_ok(&slow, "/v1/lex",
                        lex_event("lex-slow-1", "FallbackIntent", "Speech", "slow one", NULL));
    assert_string_equal(action_type(r), "ElicitIntent");
    json_t *m = json_array_get(json_object_get(r, "messages"), 0);
    assert_string_equal(str(m, "content"), "<speak>Hold on.</speak>");
    json_decref(r);
    char sid[SESS_ID_LEN + 1];
    sid_of("lex", "lex-slow-1", sid);
    expect_field(&slow, sid, "hook_pending", "1");
    /* More words while the first is being answered: held again, the first stays pending. */
    r = post_ok(&slow, "/v1/lex",
                lex_event("lex-slow-1", "FallbackIntent", "Speech", "slow two", NULL));
    m = json_array_get(json_object_get(r, "messages"), 0);
    assert_string_equal(str(m, "content"), "<speak>Hold on.</speak>");
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 1);
    json_decref(r);
    expect_field(&slow, sid, "hook_pending", "1");
    /* Both turns complete and are stored without anyone waiting. */
    char *answered = NULL;
    for (int i = 0; i < 300; i++) {
        pl_free(answered);
        answered = hget(&slow, sid, "answered");
        if (answered && !strcmp(answered, "2"))
            break;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    assert_string_equal(answered, "2");
    pl_free(answered);
    /* The next event (no new words): both stored answers, in order, and nothing held. */
    r = post_ok(&slow, "/v1/lex", lex_event("lex-slow-1", "FallbackIntent", "Speech", "", NULL));
    char *text = lex_text(r);
    const char *first = strstr(text, OFFLINE_ANSWER_START);
    assert_non_null(first);
    assert_non_null(strstr(first + 1, OFFLINE_ANSWER_START));
    assert_null(strstr(text, "Hold on."));
    expect_metric(&slow, "parley_webhook_held_total{endpoint=\"lex\"} 2\n");
    pl_free(text);
    json_decref(r);
    expect_field(&slow, sid, "hook_pending", "0");
}

static void test_connect_pending_poll_summary(void **state)
{
    (void)state;
    const char *contact = "c0ffee00-0000-4000-8000-0000000000aa";
    json_t *r = post_ok(&slow, "/v1/connect",
                        connect_event(contact, contact, "CHAT", "ask", "Is my roof covered?"));
    assert_string_equal(str(r, "status"), "pending");
    assert_string_equal(str(r, "turn"), "1");
    assert_null(json_object_get(r, "answer"));
    json_decref(r);
    const char *status = "pending";
    json_t *polled = NULL;
    for (int i = 0; i < 30 && !strcmp(status, "pending"); i++) {
        json_decref(polled);
        polled =
            post_ok(&slow, "/v1/connect", connect_event(contact, contact, "CHAT", "poll", NULL));
        status = str(polled, "status");
        /* A poll is not refused as a replay: the same event signed in the same second (the
         * same signature) is answered again. */
        struct timespec t = {0, 100 * 1000 * 1000};
        if (!strcmp(status, "pending"))
            nanosleep(&t, NULL);
    }
    assert_string_equal(status, "done");
    assert_non_null(strstr(str(polled, "answer"), OFFLINE_ANSWER_START));
    json_decref(polled);
    /* The very same signed poll twice (a flow polling within one second): both answered. */
    json_t *ev = connect_event(contact, contact, "CHAT", "poll", NULL);
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    long long ts = (long long)time(NULL);
    char tsv[24], sig[WEBHOOK_SIG_HEX_LEN + 1];
    snprintf(tsv, sizeof(tsv), "%lld", ts);
    webhook_sign(SECRET, strlen(SECRET), tsv, body, strlen(body), sig);
    for (int i = 0; i < 2; i++) {
        char *out;
        assert_int_equal(post_as(&slow, "/v1/connect", body, SIGNED, ts, sig, &out), 200);
        assert_non_null(strstr(out, "\"status\":\"done\""));
        pl_free(out);
    }
    free(body);

    r = post_ok(&slow, "/v1/connect", connect_event(contact, contact, "CHAT", "escalate", NULL));
    json_decref(r);
    r = post_ok(&slow, "/v1/connect", connect_event(contact, contact, "CHAT", "summary", NULL));
    const char *want =
        "Caller: not verified. Escalated: the contact flow escalated. Summary: Caller asked: Is "
        "my roof covered?; Bot answered: No AI model is configured on this server, so I am "
        "running in offline demo mode a\xE2\x80\xA6";
    assert_string_equal(str(r, "summary"), want);
    assert_string_equal(str(r, "escalate"), "true");
    json_decref(r);
    char sid[SESS_ID_LEN + 1];
    sid_of("connect", contact, sid);
    expect_field(&slow, sid, "handoff", want);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_text_answer),
        cmocka_unit_test(test_lex_verify_then_same_context_as_web),
        cmocka_unit_test(test_lex_escalate),
        cmocka_unit_test(test_refusals_store_nothing),
        cmocka_unit_test(test_malformed_events),
        cmocka_unit_test(test_off_without_a_secret_and_body_limit),
        cmocka_unit_test(test_connect_ask_transfer_escalate),
        cmocka_unit_test(test_connect_policy_attribute_and_handoff),
        cmocka_unit_test(test_connect_first_events_at_once),
        cmocka_unit_test(test_lex_holding_then_stored_answer),
        cmocka_unit_test(test_connect_pending_poll_summary),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
