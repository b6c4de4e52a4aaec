/* The HTTP half of the remote providers (connectors/llm_http_call.h) with a provider of the
 * test's own (an ops table reading SSE events "text", "end", "error" and "bad") against a
 * one-answer HTTP server on a loopback port of the test's own loop (tests/unit/support): the
 * outcome of each way a call ends, with the provider's words, exactly; text relayed; the call
 * released once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/http_client.h"
#include "connectors/llm_http_call.h"
#include "loopback_http.h"

static uv_loop_t loop;
/* The whole request: its headers and the test's body, "{}". */
static struct loopback_http server = {.until = "\r\n\r\n{}"};

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&loop);
    return loopback_http_start(&server, &loop);
}

static int teardown(void **state)
{
    (void)state;
    loopback_http_close(&server);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop); /* every handle of the client and the server is gone */
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* ---- the test's provider ---- */

struct fake_call {
    struct llm_http_call http;
    bool ended; /* the "end" event came */
};

static int released;

static int sse_event(struct llm_http_call *hc, const char *event, const char *data, size_t len)
{
    struct fake_call *c = (struct fake_call *)hc;
    if (strcmp(event, "text") == 0)
        llm_http_call_emit_text(hc, data, len);
    else if (strcmp(event, "end") == 0)
        c->ended = true;
    else if (strcmp(event, "error") == 0)
        return PL_EUPSTREAM;
    else if (strcmp(event, "bad") == 0)
        return PL_EPROTO;
    return PL_OK;
}

static void usage(struct llm_http_call *hc, struct llm_outcome *o)
{
    o->usage.output_tokens = hc->text_deltas;
    o->usage.input_tokens = (long)hc->text_bytes;
}

static bool complete(struct llm_http_call *hc, struct llm_outcome *o)
{
    if (!((struct fake_call *)hc)->ended)
        return false;
    o->stop = LLM_STOP_MAX_TOKENS;
    return true;
}

static void http_error(struct llm_http_call *c, long long now_s, struct llm_outcome *o,
                       char *detail, size_t detail_len)
{
    assert_true(now_s > 1700000000);
    char ra[16];
    o->error = API_ERR_RATE_LIMITED;
    o->retryable = true;
    o->retry_after_ms = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra)) ? 7 : 0;
    snprintf(detail, detail_len, "Fake %d: %.*s", c->http_status, (int)c->error_body.len,
             c->error_body.data ? c->error_body.data : "");
}

static void stream_error(struct llm_http_call *c, struct llm_outcome *o, char *detail,
                         size_t detail_len)
{
    (void)c;
    o->error = API_ERR_UPSTREAM_UNAVAILABLE;
    o->retryable = false;
    snprintf(detail, detail_len, "Fake stream error");
}

static void release(struct llm_http_call *hc)
{
    llm_http_call_cleanup(hc);
    pl_free(hc);
    released++;
}

static const struct llm_http_call_ops fake_ops = {
    .provider = "fake",
    .stream_name = "Fake",
    .timeout_name = "Fake API",
    .missing_end = "no end",
    .sse_event = sse_event,
    .usage = usage,
    .complete = complete,
    .http_error = http_error,
    .stream_error = stream_error,
    .release = release,
};

static const struct llm_provider_ops no_provider_ops = {.kind = "fake"};

/* ---- what the sink saw ---- */

struct seen {
    int finishes;
    struct llm_outcome o; /* its strings copied below */
    char detail[400];
    char provider[16];
    char model[16];
    char text[64];
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct seen *s = ud;
    size_t have = strlen(s->text);
    assert_true(have + len < sizeof(s->text));
    memcpy(s->text + have, text, len);
    s->text[have + len] = '\0';
}

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct seen *s = ud;
    s->finishes++;
    s->o = *o;
    snprintf(s->detail, sizeof(s->detail), "%s", o->error_detail ? o->error_detail : "");
    snprintf(s->provider, sizeof(s->provider), "%s", o->provider);
    snprintf(s->model, sizeof(s->model), "%s", o->model);
    s->o.error_detail = NULL;
    s->o.provider = NULL;
    s->o.model = NULL;
}

/* One call to the server, answered with `with` (NULL: never), until its outcome. `cancel`: at
 * once, before any answer. */
static void call(const char *with, uint32_t idle_ms, bool cancel, struct seen *s)
{
    server.answer = with;
    released = 0;
    struct http_client *http;
    assert_int_equal(http_client_create(&loop, &http), PL_OK);
    struct llm_provider prov;
    llm__provider_init(&prov, &no_provider_ops, "fake", "m1");
    struct fake_call *c = pl_calloc(1, sizeof(*c));
    const struct llm_sink sink = {.on_text = on_text, .on_finish = on_finish, .ud = s};
    llm_http_call_init(&c->http, &prov, &sink, &fake_ops);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/x", server.port);
    const char *headers[] = {"content-type: application/json", NULL};
    const struct llm_http_timeouts t = {.connect_ms = 2000, .idle_ms = idle_ms, .total_ms = 10000};
    assert_int_equal(llm_http_call_start(&c->http, http, url, headers, "{}", 2, &t), PL_OK);
    if (cancel)
        llm_http_call_cancel(&c->http.super);
    while (s->finishes == 0 && uv_run(&loop, UV_RUN_ONCE))
        ;
    http_client_destroy(http);
    llm__provider_cleanup(&prov);
    assert_int_equal(s->finishes, 1);
    assert_int_equal(released, 1);
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

static void test_complete(void **state)
{
    (void)state;
    struct seen s = {0};
    call(OK_HEAD "event: text\ndata: Hel\n\nevent: text\ndata: lo\n\nevent: text\ndata: \n\n"
                 "event: end\ndata: {}\n\n",
         0, false, &s);
    assert_int_equal(s.o.status, PL_OK);
    assert_int_equal(s.o.stop, LLM_STOP_MAX_TOKENS);
    assert_int_equal(s.o.error, API_ERR_NONE);
    assert_string_equal(s.text, "Hello");
    assert_true(s.o.any_text);
    /* two deltas of 5 bytes: the empty one is not relayed */
    assert_int_equal(s.o.usage.output_tokens, 2);
    assert_int_equal(s.o.usage.input_tokens, 5);
    assert_int_equal(s.o.retry_after_ms, -1);
    assert_int_equal(s.o.http_status, 200);
    assert_string_equal(s.provider, "fake");
    assert_string_equal(s.model, "m1");
    assert_string_equal(s.detail, "");
}

static void test_http_error(void **state)
{
    (void)state;
    struct seen s = {0};
    call("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 9\r\n"
         "Connection: close\r\n\r\nslow down",
         0, false, &s);
    assert_int_equal(s.o.status, PL_EUPSTREAM);
    assert_int_equal(s.o.stop, LLM_STOP_UPSTREAM_ERROR);
    assert_int_equal(s.o.error, API_ERR_RATE_LIMITED);
    assert_true(s.o.retryable);
    assert_int_equal(s.o.retry_after_ms, 7);
    assert_int_equal(s.o.http_status, 429);
    assert_string_equal(s.detail, "Fake 429: slow down");
    assert_false(s.o.any_text);
}

static void test_stream_error_after_text(void **state)
{
    (void)state;
    struct seen s = {0};
    call(OK_HEAD "event: text\ndata: Hi\n\nevent: error\ndata: {}\n\nevent: end\ndata: {}\n\n", 0,
         false, &s);
    assert_int_equal(s.o.status, PL_EUPSTREAM);
    assert_int_equal(s.o.stop, LLM_STOP_UPSTREAM_ERROR);
    assert_int_equal(s.o.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_false(s.o.retryable);
    assert_string_equal(s.detail, "Fake stream error");
    assert_string_equal(s.text, "Hi");
    assert_true(s.o.any_text);
}

static void test_malformed(void **state)
{
    (void)state;
    struct seen s = {0};
    call(OK_HEAD "event: bad\ndata: {\n\n", 0, false, &s);
    assert_int_equal(s.o.status, PL_EPROTO);
    assert_int_equal(s.o.stop, LLM_STOP_UPSTREAM_ERROR);
    assert_int_equal(s.o.error, API_ERR_UPSTREAM_ERROR);
    assert_true(s.o.retryable);
    assert_string_equal(s.detail, "Fake stream was malformed");
}

static void test_cut_without_final_event(void **state)
{
    (void)state;
    struct seen s = {0};
    call(OK_HEAD "event: text\ndata: Hi\n\n", 0, false, &s);
    assert_int_equal(s.o.status, PL_EIO);
    assert_int_equal(s.o.stop, LLM_STOP_UPSTREAM_CUT);
    assert_int_equal(s.o.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(s.o.retryable);
    assert_string_equal(s.detail, "Fake stream ended early (no end)");
    assert_string_equal(s.text, "Hi");
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct seen s = {0};
    call(NULL, 100, false, &s);
    assert_int_equal(s.o.status, PL_ETIMEDOUT);
    assert_int_equal(s.o.stop, LLM_STOP_TIMEOUT);
    assert_int_equal(s.o.error, API_ERR_UPSTREAM_UNAVAILABLE);
    assert_true(s.o.retryable);
    assert_int_equal(strncmp(s.detail, "Fake API timed out (", 20), 0);
    assert_int_equal(s.detail[strlen(s.detail) - 1], ')');
}

static void test_cancel(void **state)
{
    (void)state;
    struct seen s = {0};
    call(NULL, 0, true, &s);
    assert_int_equal(s.o.status, PL_ECANCELED);
    assert_int_equal(s.o.stop, LLM_STOP_CANCELLED);
    assert_int_equal(s.o.error, API_ERR_NONE);
    assert_string_equal(s.detail, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_http_error),
        cmocka_unit_test(test_stream_error_after_text),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cut_without_final_event),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
