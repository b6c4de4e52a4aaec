/* parley-lambda (docs/lambda.md) run as Lambda runs it: a real process talking to the Runtime
 * API double (tests/fakes/fake_lambda_runtime.h), forwarding to a stand-in for Parley's
 * /v1/lex and /v1/connect in this test, which checks the signature with webhook_verify and
 * answers fixed responses, or fails in the ways Parley can (slow, down, 503, not JSON). Every
 * wait polls a condition on the test's loop, with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include <jansson.h>

#include <cmocka.h>

#include "bot/webhook_sig.h"
#include "common/alloc.h"
#include "tests/fakes/fake_http.h"
#include "tests/fakes/fake_lambda_runtime.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

#define SECRET "lambda-test-secret-0123456789abcdef"
#define TRACE  "Root=1-6745f1a2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

#define LEX_EVENT                                                                                  \
    "{\"messageVersion\":\"1.0\",\"invocationSource\":\"FulfillmentCodeHook\",\"inputMode\":"      \
    "\"Speech\",\"responseContentType\":\"text/plain; charset=utf-8\",\"sessionId\":"              \
    "\"lex-sess-1\",\"inputTranscript\":\"is flood damage covered\",\"bot\":{\"id\":\"B0T1D\","    \
    "\"name\":\"Claims\",\"localeId\":\"en_GB\",\"version\":\"DRAFT\",\"aliasId\":\"TSTALIASID\"," \
    "\"aliasName\":\"TestBotAlias\"},\"interpretations\":[{\"intent\":{\"name\":"                  \
    "\"CheckCoverage\","                                                                           \
    "\"slots\":{\"PolicyNumber\":null},\"state\":\"ReadyForFulfillment\",\"confirmationState\":"   \
    "\"None\"},\"nluConfidence\":0.91}],\"sessionState\":{\"sessionAttributes\":{\"policy\":"      \
    "\"AB123\"},\"intent\":{\"name\":\"CheckCoverage\",\"slots\":{\"PolicyNumber\":null},"         \
    "\"state\":\"ReadyForFulfillment\",\"confirmationState\":\"None\"}}}"
#define CONNECT_EVENT                                                                              \
    "{\"Name\":\"ContactFlowEvent\",\"Details\":{\"ContactData\":{\"Attributes\":{},\"Channel\":"  \
    "\"VOICE\",\"ContactId\":\"4a573372-1f28-4e26-b97b-0e5a9b2c4d6f\",\"InitialContactId\":"       \
    "\"4a573372-1f28-4e26-b97b-0e5a9b2c4d6f\",\"CustomerEndpoint\":{\"Address\":"                  \
    "\"+447700900123\",\"Type\":\"TELEPHONE_NUMBER\"},\"InitiationMethod\":\"INBOUND\","           \
    "\"Queue\":null},\"Parameters\":{\"action\":\"ask\",\"text\":\"is flood damage covered\"}}}"
#define LEX_ANSWER                                                                                 \
    "{\"sessionState\":{\"sessionAttributes\":{\"policy\":\"AB123\"},\"dialogAction\":{\"type\":"  \
    "\"Close\"},\"intent\":{\"name\":\"CheckCoverage\",\"slots\":{\"PolicyNumber\":null},"         \
    "\"state\":\"Fulfilled\"}},\"messages\":[{\"contentType\":\"PlainText\",\"content\":"          \
    "\"Flood damage is covered up to \xc2\xa3"                                                     \
    "50,000.\"}]}"
#define CONNECT_ANSWER                                                                             \
    "{\"answer\":\"Flood damage is covered up to 50,000 pounds.\",\"status\":\"done\","            \
    "\"session_id\":\"c-4a573372\"}"
#define LEX_FALLBACK                                                                               \
    "{\"sessionState\":{\"sessionAttributes\":{\"policy\":\"AB123\",\"parley_error\":"             \
    "\"unavailable\"},\"dialogAction\":{\"type\":\"Close\"},\"intent\":{\"name\":"                 \
    "\"CheckCoverage\",\"slots\":{\"PolicyNumber\":null},\"state\":\"Failed\"}},\"messages\":[{"   \
    "\"contentType\":\"PlainText\",\"content\":\"Our assistant is unavailable; let me put you "    \
    "through.\"}]}"
#define CONNECT_FALLBACK(reason)                                                                   \
    "{\"error\":\"unavailable\",\"status\":\"error\",\"reason\":\"" reason "\"}"

static uv_loop_t loop;
static char workdir[512]; /* the logs of the runtimes */

/* ---- the stand-in for Parley ---- */

enum standin_mode { ANSWER, SLOW, NOT_JSON, STATUS_503 };

static struct standin {
    struct fake_http http;
    enum standin_mode mode;
    uint32_t slow_ms;
    unsigned hits;
    /* the last request */
    char path[1024];
    char *body;
    size_t len;
    enum webhook_verdict verdict;
    char trace[600];
    char content_type[128];
} parley;

static void on_parley(void *ud, struct fake_http_req *req)
{
    struct standin *s = ud;
    s->hits++;
    snprintf(s->path, sizeof s->path, "%s", req->path);
    pl_free(s->body);
    s->body = pl_strndup(req->body, req->body_len);
    s->len = req->body_len;
    char ts[64] = "", sig[256] = "";
    bool has_ts = fake_http_header(req, "X-Parley-Timestamp", ts, sizeof ts);
    bool has_sig = fake_http_header(req, "X-Parley-Signature", sig, sizeof sig);
    s->verdict = webhook_verify(SECRET, strlen(SECRET), has_ts ? ts : NULL, has_sig ? sig : NULL,
                                req->body, req->body_len, (int64_t)time(NULL), NULL);
    s->trace[0] = s->content_type[0] = '\0';
    fake_http_header(req, "X-Amzn-Trace-Id", s->trace, sizeof s->trace);
    fake_http_header(req, "Content-Type", s->content_type, sizeof s->content_type);
    static const char json[] = "Content-Type: application/json\r\n";
    if (s->verdict != WEBHOOK_OK) {
        static const char e[] = "{\"error\":{\"code\":\"unauthorized\"}}";
        fake_http_reply(req, 401, json, e, strlen(e), 0);
        return;
    }
    const char *answer = strcmp(req->path, "/v1/lex") == 0 ? LEX_ANSWER : CONNECT_ANSWER;
    switch (s->mode) {
    case ANSWER:
        fake_http_reply(req, 200, json, answer, strlen(answer), 0);
        break;
    case SLOW:
        fake_http_reply(req, 200, json, answer, strlen(answer), s->slow_ms);
        break;
    case NOT_JSON:
        fake_http_reply(req, 200, "Content-Type: text/html\r\n", "<html>oops</html>", 17, 0);
        break;
    case STATUS_503: {
        static const char e[] = "{\"error\":{\"code\":\"unavailable\"}}";
        fake_http_reply(req, 503, json, e, strlen(e), 0);
        break;
    }
    }
}

/* ---- parley-lambda as a child process ---- */

struct lambda_proc {
    uv_process_t proc;
    bool exited;
    int64_t exit_status;
    char log[600];
};

static void on_lambda_exit(uv_process_t *p, int64_t status, int sig)
{
    struct lambda_proc *lp = p->data;
    lp->exited = true;
    lp->exit_status = sig ? -sig : status;
    uv_close((uv_handle_t *)p, NULL);
}

extern char **environ;

/* Start parley-lambda with the test's environment minus its own variables, plus `env`. */
static void spawn_lambda(struct lambda_proc *lp, const char *name, const char *const *env)
{
    memset(lp, 0, sizeof(*lp));
    snprintf(lp->log, sizeof lp->log, "%s/%s.log", workdir, name);
    char **all = pl_calloc(512, sizeof(char *));
    size_t n = 0;
    for (char **e = environ; *e && n < 480; e++)
        if (strncmp(*e, "PARLEY_", 7) != 0 && strncmp(*e, "AWS_LAMBDA_", 11) != 0 &&
            strncmp(*e, "_X_AMZN", 7) != 0)
            all[n++] = *e;
    for (; env && *env; env++)
        all[n++] = (char *)*env;
    FILE *log = fopen(lp->log, "w");
    assert_non_null(log);
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = fileno(log)},
                                     {.flags = UV_INHERIT_FD, .data.fd = fileno(log)}};
    /* PARLEY_LAMBDA_BOOTSTRAP: run a packaged bootstrap instead (scripts/package-lambda). */
    const char *bin = getenv("PARLEY_LAMBDA_BOOTSTRAP");
    char *args[] = {(char *)(bin && *bin ? bin : ts_bin("parley-lambda")), NULL};
    uv_process_options_t o = {.file = args[0],
                              .args = args,
                              .env = all,
                              .exit_cb = on_lambda_exit,
                              .stdio_count = 3,
                              .stdio = stdio};
    lp->proc.data = lp;
    int rc = uv_spawn(&loop, &lp->proc, &o);
    fclose(log);
    pl_free(all);
    if (rc)
        fail_msg("uv_spawn %s: %s", args[0], uv_strerror(rc));
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pl_strdup("");
    char *buf = pl_malloc(1024 * 1024);
    size_t n = fread(buf, 1, 1024 * 1024 - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- waiting on the loop ---- */

typedef bool (*cond_fn)(const void *ud);

static void on_expired(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Run the loop until `cond` holds or `timeout_ms` passes; returns whether it holds. */
static bool run_until(cond_fn cond, const void *ud, uint64_t timeout_ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(&loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_expired, timeout_ms, 0);
    while (!cond(ud) && !expired)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return cond(ud);
}

struct want_record {
    const struct fake_lambda_runtime *f;
    const char *id;
};

static bool has_record(const void *ud)
{
    const struct want_record *w = ud;
    return fake_lambda_runtime_record(w->f, w->id) != NULL;
}

static bool has_exited(const void *ud)
{
    return ((const struct lambda_proc *)ud)->exited;
}

/* A GET /next is held: the runtime is idle, waiting for work. */
static bool is_waiting(const void *ud)
{
    const struct fake_lambda_runtime *f = ud;
    return f->nexts > f->served;
}

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Queue an event on `f` and wait for what the runtime posts for it. */
static const struct fake_lambda_record *invoke(struct fake_lambda_runtime *f, const char *id,
                                               int64_t deadline_ms, const char *trace,
                                               const char *event)
{
    fake_lambda_runtime_push(f, id, deadline_ms, trace, event, strlen(event));
    struct want_record w = {f, id};
    if (!run_until(has_record, &w, 15000))
        fail_msg("no answer for %s", id);
    return fake_lambda_runtime_record(f, id);
}

/* ---- the main runtime: one process for most cases ---- */

static struct fake_lambda_runtime rt;
static struct lambda_proc main_proc;
static char parley_url[64];

static int setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    snprintf(workdir, sizeof workdir, "%s", ts_workdir("lambda"));
    if (fake_lambda_runtime_start(&rt, &loop) ||
        fake_http_start(&parley.http, &loop, on_parley, &parley))
        return -1;
    snprintf(parley_url, sizeof parley_url, "http://127.0.0.1:%d", parley.http.port);
    char api[128], url[128];
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt.api);
    snprintf(url, sizeof url, "PARLEY_WEBHOOK_URL=%s/", parley_url); /* a base URL */
    const char *env[] = {api, url, "PARLEY_WEBHOOK_SECRET=" SECRET,
                         "PARLEY_LEX_FALLBACK_MESSAGE=Our assistant is unavailable; let me put "
                         "you through.",
                         NULL};
    spawn_lambda(&main_proc, "main", env);
    /* Started once it waits on /next. */
    return run_until(is_waiting, &rt, 15000) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fake_lambda_runtime_fail(&rt); /* a 500 on /next: the runtime exits */
    bool exited = run_until(has_exited, &main_proc, 15000);
    int64_t status = main_proc.exit_status;
    char *log = read_file(main_proc.log);
    /* Neither the secret nor a caller's words reach the log. */
    bool clean = !strstr(log, SECRET) && !strstr(log, "flood") && !strstr(log, "+4477");
    if (!exited || status != 2 || !clean || rt.refused)
        fprintf(stderr, "parley-lambda log:\n%s\nrefused %u\n", log, rt.refused);
    pl_free(log);
    fake_lambda_runtime_stop(&rt);
    fake_http_stop(&parley.http);
    uv_run(&loop, UV_RUN_DEFAULT);
    fake_lambda_runtime_cleanup(&rt);
    pl_free(parley.body);
    int closed = uv_loop_close(&loop);
    return exited && status == 2 && clean && closed == 0 && rt.refused == 0 ? 0 : -1;
}

static void test_lex_event_is_forwarded_signed_and_answered(void **state)
{
    (void)state;
    parley.mode = ANSWER;
    int64_t deadline = epoch_ms() + 5000;
    const struct fake_lambda_record *r = invoke(&rt, "lex-req-1", deadline, TRACE, LEX_EVENT);
    /* Parley got the event byte for byte, signed, with the trace of the invocation. */
    assert_string_equal(parley.path, "/v1/lex");
    assert_int_equal(parley.len, strlen(LEX_EVENT));
    assert_memory_equal(parley.body, LEX_EVENT, parley.len);
    assert_int_equal(parley.verdict, WEBHOOK_OK);
    assert_string_equal(parley.content_type, "application/json");
    assert_string_equal(parley.trace, TRACE);
    /* Its answer went back as it was, in time. */
    assert_int_equal(r->kind, FAKE_LAMBDA_RESPONSE);
    assert_string_equal(r->body, LEX_ANSWER);
    assert_int_equal(r->len, strlen(LEX_ANSWER));
    assert_true(r->t_epoch_ms <= deadline);
}

static void test_connect_event_is_forwarded_signed_and_answered(void **state)
{
    (void)state;
    parley.mode = ANSWER;
    int64_t deadline = epoch_ms() + 8000;
    const struct fake_lambda_record *r = invoke(&rt, "con-req-1", deadline, NULL, CONNECT_EVENT);
    assert_string_equal(parley.path, "/v1/connect");
    assert_int_equal(parley.len, strlen(CONNECT_EVENT));
    assert_memory_equal(parley.body, CONNECT_EVENT, parley.len);
    assert_int_equal(parley.verdict, WEBHOOK_OK);
    assert_string_equal(parley.trace, ""); /* no trace for this invocation: none passed on */
    assert_int_equal(r->kind, FAKE_LAMBDA_RESPONSE);
    assert_string_equal(r->body, CONNECT_ANSWER);
    assert_true(r->t_epoch_ms <= deadline);
}

static void test_slow_parley_gets_the_fallback_in_time(void **state)
{
    (void)state;
    parley.mode = SLOW;
    parley.slow_ms = 6000;
    int64_t pushed = epoch_ms(), deadline = pushed + 1500; /* 1000 ms for Parley, 500 kept */
    const struct fake_lambda_record *r = invoke(&rt, "con-slow-1", deadline, NULL, CONNECT_EVENT);
    assert_int_equal(r->kind, FAKE_LAMBDA_RESPONSE);
    assert_string_equal(r->body, CONNECT_FALLBACK("timeout"));
    assert_true(r->t_epoch_ms <= deadline);
    assert_true(r->t_epoch_ms >= pushed + 900); /* it did wait for Parley's budget */
    r = invoke(&rt, "lex-slow-1", epoch_ms() + 1500, NULL, LEX_EVENT);
    assert_string_equal(r->body, LEX_FALLBACK);
    /* No time left at all: the fallback without asking Parley. */
    unsigned hits = parley.hits;
    r = invoke(&rt, "con-late-1", epoch_ms() + 200, NULL, CONNECT_EVENT);
    assert_string_equal(r->body, CONNECT_FALLBACK("no_time"));
    assert_int_equal(parley.hits, hits);
}

static void test_bad_answers_get_the_fallback(void **state)
{
    (void)state;
    parley.mode = NOT_JSON;
    const struct fake_lambda_record *r =
        invoke(&rt, "lex-html-1", epoch_ms() + 5000, NULL, LEX_EVENT);
    assert_string_equal(r->body, LEX_FALLBACK);
    r = invoke(&rt, "con-html-1", epoch_ms() + 5000, NULL, CONNECT_EVENT);
    assert_string_equal(r->body, CONNECT_FALLBACK("invalid_response"));
    parley.mode = STATUS_503;
    r = invoke(&rt, "con-503-1", epoch_ms() + 5000, NULL, CONNECT_EVENT);
    assert_string_equal(r->body, CONNECT_FALLBACK("http_status"));
    r = invoke(&rt, "lex-503-1", epoch_ms() + 5000, NULL, LEX_EVENT);
    assert_string_equal(r->body, LEX_FALLBACK);
    parley.mode = ANSWER;
}

static void test_unknown_event_is_an_invocation_error(void **state)
{
    (void)state;
    unsigned hits = parley.hits;
    const struct fake_lambda_record *r =
        invoke(&rt, "s3-req-1", epoch_ms() + 5000, NULL, "{\"Records\":[]}");
    assert_int_equal(r->kind, FAKE_LAMBDA_ERROR);
    assert_string_equal(r->error_type, "Parley.UnknownEvent");
    assert_string_equal(r->body, "{\"errorMessage\":\"the event is neither an Amazon Lex V2 nor an "
                                 "Amazon Connect event\",\"errorType\":\"Parley.UnknownEvent\","
                                 "\"stackTrace\":[]}");
    assert_int_equal(parley.hits, hits); /* not forwarded */
    /* The runtime goes on with the next one. */
    r = invoke(&rt, "con-after-1", epoch_ms() + 5000, NULL, CONNECT_EVENT);
    assert_string_equal(r->body, CONNECT_ANSWER);
}

static void test_one_log_line_per_invocation(void **state)
{
    (void)state;
    char *log = read_file(main_proc.log);
    assert_non_null(strstr(log, "request_id=lex-req-1 kind=lex status=200 outcome=forwarded "
                                "duration_ms="));
    assert_non_null(strstr(log, "request_id=con-slow-1 kind=connect status=0 outcome=fallback "
                                "reason=timeout duration_ms="));
    assert_non_null(strstr(log, "request_id=con-503-1 kind=connect status=503 outcome=fallback "
                                "reason=http_status duration_ms="));
    assert_non_null(strstr(log, "request_id=s3-req-1 kind=unknown status=0 outcome=error"));
    /* One line for an invocation, its reason in it. */
    const char *html = strstr(log, "request_id=lex-html-1 ");
    assert_non_null(html);
    assert_null(strstr(html + 1, "request_id=lex-html-1 "));
    assert_non_null(strstr(html, "reason=invalid_response duration_ms="));
    assert_non_null(strstr(html, " detail=the answer is not a JSON object\n"));
    assert_null(strstr(log, SECRET));
    assert_null(strstr(log, "is flood damage covered"));
    pl_free(log);
}

/* ---- processes of their own ---- */

static void test_parley_down_gets_the_fallbacks_and_a_500_ends_the_runtime(void **state)
{
    (void)state;
    struct fake_lambda_runtime rt2;
    struct lambda_proc p;
    assert_int_equal(fake_lambda_runtime_start(&rt2, &loop), 0);
    char api[128], url[128];
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt2.api);
    snprintf(url, sizeof url, "PARLEY_WEBHOOK_URL=http://127.0.0.1:%d", ts_free_port());
    const char *env[] = {api, url, "PARLEY_WEBHOOK_SECRET=" SECRET, NULL};
    spawn_lambda(&p, "down", env);
    const struct fake_lambda_record *r =
        invoke(&rt2, "lex-down-1", epoch_ms() + 5000, NULL, LEX_EVENT);
    assert_string_equal(
        r->body, "{\"sessionState\":{\"sessionAttributes\":{\"policy\":\"AB123\",\"parley_error\":"
                 "\"unavailable\"},\"dialogAction\":{\"type\":\"Close\"},\"intent\":{\"name\":"
                 "\"CheckCoverage\",\"slots\":{\"PolicyNumber\":null},\"state\":\"Failed\"}},"
                 "\"messages\":[{\"contentType\":\"PlainText\",\"content\":\"Sorry, I can't help "
                 "with that right now. Please try again in a moment.\"}]}");
    r = invoke(&rt2, "con-down-1", epoch_ms() + 5000, NULL, CONNECT_EVENT);
    assert_string_equal(r->body, CONNECT_FALLBACK("unreachable"));
    assert_true(run_until(is_waiting, &rt2, 15000));
    fake_lambda_runtime_fail(&rt2);
    assert_true(run_until(has_exited, &p, 15000));
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(rt2.refused, 0);
    /* The request log: two invocations, their answers, and the 500. */
    assert_non_null(strstr(rt2.log.data, "\"method\":\"GET\",\"path\":\"/2018-06-01/runtime/"
                                         "invocation/next\",\"status\":500"));
    assert_non_null(strstr(rt2.log.data, "\"path\":\"/2018-06-01/runtime/invocation/con-down-1/"
                                         "response\",\"status\":202"));
    fake_lambda_runtime_stop(&rt2);
    uv_run(&loop, UV_RUN_NOWAIT);
    fake_lambda_runtime_cleanup(&rt2);

    /* A 500 to the answer ends it too. */
    assert_int_equal(fake_lambda_runtime_start(&rt2, &loop), 0);
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt2.api);
    spawn_lambda(&p, "down2", env);
    rt2.post_status = 500;
    fake_lambda_runtime_push(&rt2, "con-down-2", epoch_ms() + 5000, NULL, CONNECT_EVENT,
                             strlen(CONNECT_EVENT));
    assert_true(run_until(has_exited, &p, 15000));
    assert_int_equal(p.exit_status, 2);
    assert_int_equal(rt2.n_records, 0);
    assert_non_null(strstr(rt2.log.data, "\"path\":\"/2018-06-01/runtime/invocation/con-down-2/"
                                         "response\",\"status\":500"));
    fake_lambda_runtime_stop(&rt2);
    uv_run(&loop, UV_RUN_NOWAIT);
    fake_lambda_runtime_cleanup(&rt2);
}

static void test_missing_url_is_an_init_error(void **state)
{
    (void)state;
    struct fake_lambda_runtime rt3;
    struct lambda_proc p;
    assert_int_equal(fake_lambda_runtime_start(&rt3, &loop), 0);
    char api[128];
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt3.api);
    const char *env[] = {api, "PARLEY_WEBHOOK_SECRET=" SECRET, NULL};
    spawn_lambda(&p, "init", env);
    assert_true(run_until(has_exited, &p, 15000));
    assert_int_equal(p.exit_status, 1);
    const struct fake_lambda_record *r = fake_lambda_runtime_record(&rt3, "");
    assert_non_null(r);
    assert_int_equal(r->kind, FAKE_LAMBDA_INIT_ERROR);
    assert_string_equal(r->error_type, "Parley.ConfigError");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(r->body, "{\"errorMessage\":\"PARLEY_WEBHOOK_URL is not set\","
                                 "\"errorType\":\"Parley.ConfigError\",\"stackTrace\":[]}");
    assert_int_equal(rt3.nexts, 0); /* it never asked for work */
    /* A short secret is refused the same way, without the secret in the message. */
    fake_lambda_runtime_stop(&rt3);
    uv_run(&loop, UV_RUN_NOWAIT);
    fake_lambda_runtime_cleanup(&rt3);
    assert_int_equal(fake_lambda_runtime_start(&rt3, &loop), 0);
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt3.api);
    const char *env2[] = {api, "PARLEY_WEBHOOK_URL=https://parley.example/v1/lex",
                          "PARLEY_WEBHOOK_SECRET=short-one", NULL};
    spawn_lambda(&p, "init2", env2);
    assert_true(run_until(has_exited, &p, 15000));
    assert_int_equal(p.exit_status, 1);
    r = fake_lambda_runtime_record(&rt3, "");
    assert_non_null(r);
    assert_string_equal(r->body, "{\"errorMessage\":\"PARLEY_WEBHOOK_SECRET must be set, at least "
                                 "16 bytes\",\"errorType\":\"Parley.ConfigError\","
                                 "\"stackTrace\":[]}");
    fake_lambda_runtime_stop(&rt3);
    uv_run(&loop, UV_RUN_NOWAIT);
    fake_lambda_runtime_cleanup(&rt3);
}

/* End to end: parley-lambda in front of a real parleyd (its signed webhooks, the offline
 * provider answering from the sample knowledge base, a real redis-server). A Lex event gets a
 * Lex answer from the turn engine, naming the session, spoken without Markdown or citation
 * marks; a Connect ask gets the flat map. */
static void test_real_parley_behind_the_forwarder(void **state)
{
    (void)state;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/e2e", workdir);
    mkdir(dir, 0755);
    struct ts_redis redis;
    struct ts_parleyd p;
    assert_int_equal(ts_redis_start(&redis, dir), 0);
    const char *const args[] = {"--webhook-secret", SECRET, "--local-pace-ms", "0", "--kb",
                                PARLEY_KB_DIR,      NULL};
    assert_int_equal(ts_parleyd_start(&p, dir, &redis, NULL, args), 0);
    struct fake_lambda_runtime rt2;
    assert_int_equal(fake_lambda_runtime_start(&rt2, &loop), 0);
    char api[128], url[128];
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=%s", rt2.api);
    snprintf(url, sizeof url, "PARLEY_WEBHOOK_URL=%s", p.url);
    const char *env[] = {api, url, "PARLEY_WEBHOOK_SECRET=" SECRET, NULL};
    struct lambda_proc lp;
    spawn_lambda(&lp, "e2e", env);
    assert_true(run_until(is_waiting, &rt2, 15000));

    const struct fake_lambda_record *r =
        invoke(&rt2, "e2e-lex-1", epoch_ms() + 10000, NULL, LEX_EVENT);
    assert_int_equal(r->kind, FAKE_LAMBDA_RESPONSE);
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    json_t *st = json_object_get(j, "sessionState");
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "intent"), "name")),
                        "CheckCoverage");
    json_t *attrs = json_object_get(st, "sessionAttributes");
    assert_string_equal(json_string_value(json_object_get(attrs, "policy")), "AB123");
    const char *sid = json_string_value(json_object_get(attrs, "parley_session"));
    assert_non_null(sid);
    assert_int_equal(strlen(sid), 32);
    const char *said = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content"));
    /* The offline provider's answer, spoken (or, on a machine too slow for Lex's budget, the
     * holding message, the turn then finishing in the background). */
    assert_non_null(said);
    if (strncmp(said, "<speak>Here is what I found in ", 31) != 0)
        assert_string_equal(said,
                            "<speak>One moment please, I am still looking into that.</speak>");
    assert_string_equal(said + strlen(said) - 8, "</speak>"); /* spoken: SSML */
    assert_null(strstr(said, "[kb:")); /* the citations stay in the transcript */
    assert_null(strstr(said, "**"));
    /* The conversation is in Redis under that session, the caller's words as turn 1. */
    char *turns = ts_redis_query(&redis, "HGET parley:{%s}:session turns", sid);
    assert_string_equal(turns, "1");
    pl_free(turns);
    json_decref(j);

    r = invoke(&rt2, "e2e-con-1", epoch_ms() + 8000, NULL, CONNECT_EVENT);
    assert_int_equal(r->kind, FAKE_LAMBDA_RESPONSE);
    j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    const char *status = json_string_value(json_object_get(j, "status"));
    assert_true(status && (!strcmp(status, "done") || !strcmp(status, "pending")));
    assert_int_equal(strlen(json_string_value(json_object_get(j, "session_id"))), 32);
    json_decref(j);

    fake_lambda_runtime_fail(&rt2);
    assert_true(run_until(has_exited, &lp, 15000));
    assert_int_equal(lp.exit_status, 2);
    fake_lambda_runtime_stop(&rt2);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(rt2.refused, 0);
    fake_lambda_runtime_cleanup(&rt2);
    assert_int_equal(ts_parleyd_stop(&p), 0);
    ts_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_event_is_forwarded_signed_and_answered),
        cmocka_unit_test(test_connect_event_is_forwarded_signed_and_answered),
        cmocka_unit_test(test_slow_parley_gets_the_fallback_in_time),
        cmocka_unit_test(test_bad_answers_get_the_fallback),
        cmocka_unit_test(test_unknown_event_is_an_invocation_error),
        cmocka_unit_test(test_one_log_line_per_invocation),
        cmocka_unit_test(test_parley_down_gets_the_fallbacks_and_a_500_ends_the_runtime),
        cmocka_unit_test(test_missing_url_is_an_init_error),
        cmocka_unit_test(test_real_parley_behind_the_forwarder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
