/* The openai provider: any OpenAI-compatible chat completions server (vLLM, llama.cpp's server,
 * Ollama's /v1, OpenAI itself) with "stream": true. The body comes from openai_request.h; the
 * answer goes through the SSE parser (sse.h) and the chunk interpreter (openai_stream.h); a
 * non-200 answer is classified by openai_errors.h. As for every provider, failures inside a 200
 * stream are failures, and a stream that ends without `data: [DONE]` is cut (upstream_cut).
 * Usage comes from the include_usage chunk; a server that sends none gets an estimate: the
 * prompt's bytes / 4 in, one token per text delta out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/http_client.h"
#include "connectors/llm_internal.h"
#include "connectors/openai_errors.h"
#include "connectors/openai_request.h"
#include "connectors/openai_stream.h"
#include "connectors/sse.h"

#define SSE_EVENT_MAX    (1024 * 1024)
#define ERROR_BODY_MAX   (64 * 1024)
#define REQUEST_BODY_MAX (16 * 1024 * 1024)

struct oai_provider {
    struct llm_provider super;
    struct http_client *http;
    char *url;
    char *auth_header; /* "authorization: Bearer ..." or NULL */
    uint32_t connect_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t total_timeout_ms;
};

struct oai_call {
    struct llm_call super;
    struct oai_provider *p;
    struct http_client_transfer *xfer;
    struct llm_sink sink;
    struct sse_parser sse;
    struct oai_stream stream;
    struct pl_buf error_body;
    int http_status;
    int stream_status; /* PL_OK, or what the interpreter reported (EPROTO, EUPSTREAM) */
    long estimated_input;
    long deltas;
    bool any_text;
    bool cancel_requested;
};

static void emit_text(void *ud, const char *text, size_t len)
{
    struct oai_call *c = ud;
    if (len == 0)
        return;
    c->any_text = true;
    c->deltas++;
    c->sink.on_text(c->sink.ud, text, len);
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    (void)event; /* these servers name no events */
    struct oai_call *c = ud;
    int rc = oai_stream_event(&c->stream, data, len, emit_text, c);
    if (rc != PL_OK)
        c->stream_status = rc;
    return rc;
}

static int on_headers(void *ud, int status)
{
    struct oai_call *c = ud;
    c->http_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct oai_call *c = ud;
    if (c->http_status != 200) {
        pl_buf_append(&c->error_body, data, len); /* keep the head of a long one */
        return 0;
    }
    int rc = sse_parser_feed(&c->sse, data, len, on_sse_event, c);
    if (rc == PL_ETOOBIG)
        c->stream_status = PL_EPROTO;
    return rc != PL_OK; /* stop reading after an error object or malformed data */
}

static long long now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

/* The outcome of a non-200 answer. */
static void http_failure(struct oai_call *c, struct llm_outcome *o, char *text, size_t textlen)
{
    char ra[64], ra_ms[64];
    bool has_ra = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra));
    bool has_ms = http_client_response_header(c->xfer, "retry-after-ms", ra_ms, sizeof(ra_ms));
    struct oai_http_error e;
    oai_classify_http_error(c->http_status, c->error_body.data, c->error_body.len,
                            has_ra ? ra : NULL, has_ms ? ra_ms : NULL, now_s(), &e);
    o->status = PL_EUPSTREAM;
    o->stop = LLM_STOP_UPSTREAM_ERROR;
    o->error = e.error;
    o->retryable = e.retryable;
    o->retry_after_ms = e.retry_after_ms;
    snprintf(text, textlen, "%s", e.detail);
    o->error_detail = text;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct oai_call *c = ud;
    char text[400];
    struct llm_outcome o = {
        .status = PL_OK,
        .stop = LLM_STOP_END_TURN,
        .model = c->stream.model[0] ? c->stream.model : c->p->super.model,
        .provider = "openai",
        .any_text = c->any_text,
        .retry_after_ms = -1,
        .http_status = c->http_status,
    };
    if (c->stream.has_usage) {
        o.usage.input_tokens = c->stream.prompt_tokens;
        o.usage.output_tokens = c->stream.completion_tokens;
    } else {
        o.usage.input_tokens = c->estimated_input;
        o.usage.output_tokens = c->deltas;
    }
    if (c->cancel_requested) {
        o.status = PL_ECANCELED;
        o.stop = LLM_STOP_CANCELLED;
    } else if (c->http_status && c->http_status != 200) {
        http_failure(c, &o, text, sizeof(text));
    } else if (c->stream_status == PL_EUPSTREAM) {
        o.status = PL_EUPSTREAM;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = c->stream.error;
        o.retryable = c->stream.retryable;
        snprintf(text, sizeof(text), "OpenAI-compatible stream error %s: %s", c->stream.error_type,
                 c->stream.error_message);
        o.error_detail = text;
    } else if (c->stream_status == PL_EPROTO) {
        o.status = PL_EPROTO;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = API_ERR_UPSTREAM_ERROR;
        o.retryable = true;
        o.error_detail = "OpenAI-compatible stream was malformed";
    } else if (c->stream.done) { /* complete, whatever the connection did after [DONE] */
        o.stop = c->stream.finished ? c->stream.stop : LLM_STOP_END_TURN;
    } else if (status == PL_ETIMEDOUT) {
        o.status = PL_ETIMEDOUT;
        o.stop = LLM_STOP_TIMEOUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "OpenAI-compatible server timed out (%s)", detail);
        o.error_detail = text;
    } else {
        /* Transport error, or the stream ended without [DONE]. */
        o.status = status == PL_OK ? PL_EIO : status;
        o.stop = LLM_STOP_UPSTREAM_CUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "OpenAI-compatible stream ended early (%s)",
                 status == PL_OK ? "no [DONE]" : detail);
        o.error_detail = text;
    }
    c->sink.on_finish(c->sink.ud, &o);
    sse_parser_cleanup(&c->sse);
    pl_buf_cleanup(&c->error_body);
    pl_free(c);
}

static struct llm_call *oai_start(struct llm_provider *base, const struct prompt *req,
                                  const struct llm_sink *sink)
{
    struct oai_provider *p = (struct oai_provider *)base;
    struct pl_buf body;
    pl_buf_init(&body, REQUEST_BODY_MAX);
    if (openai_request_body(&body, p->super.model, req) != PL_OK) {
        PL_LOG(PL_LOG_ERR, "openai", "request body over %d bytes; not sent", REQUEST_BODY_MAX);
        pl_buf_cleanup(&body);
        return NULL;
    }
    struct oai_call *c = pl_calloc(1, sizeof(*c));
    c->super.provider = base;
    c->p = p;
    c->sink = *sink;
    c->estimated_input = llm__estimate_tokens(req);
    sse_parser_init(&c->sse, SSE_EVENT_MAX);
    oai_stream_init(&c->stream);
    pl_buf_init(&c->error_body, ERROR_BODY_MAX);
    const char *headers[] = {"content-type: application/json", "accept: text/event-stream",
                             "user-agent: parley/" PARLEY_VERSION, p->auth_header, NULL};
    struct http_client_request hr = {
        .method = "POST",
        .url = p->url,
        .headers = headers,
        .body = body.data,
        .body_len = body.len,
        .connect_timeout_ms = p->connect_timeout_ms,
        .idle_timeout_ms = p->idle_timeout_ms,
        .total_timeout_ms = p->total_timeout_ms,
    };
    struct http_client_callbacks cbs = {
        .on_headers = on_headers, .on_data = on_data, .on_done = on_done};
    c->xfer = http_client_start(p->http, &hr, &cbs, c);
    pl_buf_cleanup(&body);
    if (!c->xfer) {
        sse_parser_cleanup(&c->sse);
        pl_buf_cleanup(&c->error_body);
        pl_free(c);
        return NULL;
    }
    return &c->super;
}

static void oai_cancel(struct llm_call *call)
{
    struct oai_call *c = (struct oai_call *)call;
    c->cancel_requested = true;
    http_client_abort(c->xfer); /* on_done runs now */
}

static void oai_destroy(struct llm_provider *base)
{
    struct oai_provider *p = (struct oai_provider *)base;
    pl_free(p->url);
    if (p->auth_header) /* a secret: wipe it before it goes back to the heap */
        memset(p->auth_header, 0, strlen(p->auth_header));
    pl_free(p->auth_header);
    llm__provider_cleanup(base);
    pl_free(p);
}

static const struct llm_provider_ops oai_ops = {
    .kind = "openai",
    .start = oai_start,
    .cancel = oai_cancel,
    .destroy = oai_destroy,
};

struct llm_provider *llm__openai_create(const struct llm_env *env,
                                        const struct llm_provider_config *cfg, char *err,
                                        size_t errlen)
{
    const char *base = cfg->openai_base_url;
    if (!base || !*base) {
        snprintf(err, errlen,
                 "the openai provider needs --openai-base-url (PARLEY_OPENAI_BASE_URL), the "
                 "server's base URL such as http://127.0.0.1:8000/v1");
        return NULL;
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        snprintf(err, errlen, "--openai-base-url must start with http:// or https://");
        return NULL;
    }
    if (!cfg->model || !*cfg->model) {
        snprintf(err, errlen,
                 "the openai provider needs a model: --model NAME (or openai:NAME in --fallback "
                 "and --routes), as the server names it, such as llama3.1");
        return NULL;
    }
    struct oai_provider *p = pl_calloc(1, sizeof(*p));
    llm__provider_init(&p->super, &oai_ops, "openai", cfg->model);
    p->http = env->http;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    size_t n = blen + sizeof("/chat/completions");
    p->url = pl_malloc(n);
    snprintf(p->url, n, "%.*s/chat/completions", (int)blen, base);
    if (cfg->openai_api_key && *cfg->openai_api_key) {
        size_t an = strlen(cfg->openai_api_key) + sizeof("authorization: Bearer ");
        p->auth_header = pl_malloc(an);
        snprintf(p->auth_header, an, "authorization: Bearer %s", cfg->openai_api_key);
    }
    p->connect_timeout_ms = cfg->connect_timeout_ms;
    p->idle_timeout_ms = cfg->idle_timeout_ms;
    p->total_timeout_ms = cfg->total_timeout_ms;
    return &p->super;
}
