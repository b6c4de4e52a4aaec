/* The openai provider: any OpenAI-compatible chat completions server (vLLM, llama.cpp's server,
 * Ollama's /v1, OpenAI itself) with "stream": true. The body comes from openai_request.h; the
 * answer goes through the SSE parser (sse.h) and the chunk interpreter (openai_stream.h); a
 * non-200 answer is classified by openai_errors.h. As for every provider, failures inside a 200
 * stream are failures, and a stream that ends without `data: [DONE]` is cut (upstream_cut).
 * Usage comes from the include_usage chunk; a server that sends none gets an estimate: the
 * prompt's bytes / 4 in, one token per text delta out. The HTTP half, and the outcome of each way
 * a call ends, are llm_http_call.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/http_client.h"
#include "connectors/llm_http_call.h"
#include "connectors/openai_errors.h"
#include "connectors/openai_request.h"
#include "connectors/openai_stream.h"

#define REQUEST_BODY_MAX (16 * 1024 * 1024)

struct oai_provider {
    struct llm_provider super;
    struct http_client *http;
    char *url;
    char *auth_header; /* "authorization: Bearer ..." or NULL */
    struct llm_http_timeouts timeouts;
};

struct oai_call {
    struct llm_http_call http; /* first: the call the chain holds */
    struct oai_stream stream;
    long estimated_input;
};

static int sse_event(struct llm_http_call *hc, const char *event, const char *data, size_t len)
{
    (void)event; /* these servers name no events */
    struct oai_call *c = (struct oai_call *)hc;
    return oai_stream_event(&c->stream, data, len, llm_http_call_emit_text, hc);
}

static void usage(struct llm_http_call *hc, struct llm_outcome *o)
{
    struct oai_call *c = (struct oai_call *)hc;
    if (c->stream.model[0])
        o->model = c->stream.model;
    if (c->stream.has_usage) {
        o->usage.input_tokens = c->stream.prompt_tokens;
        o->usage.output_tokens = c->stream.completion_tokens;
    } else {
        o->usage.input_tokens = c->estimated_input;
        o->usage.output_tokens = c->http.text_deltas;
    }
}

static bool complete(struct llm_http_call *hc, struct llm_outcome *o)
{
    struct oai_call *c = (struct oai_call *)hc;
    /* An error object or malformed data wins, even after [DONE]. */
    if (hc->stream_status == PL_EUPSTREAM || hc->stream_status == PL_EPROTO)
        return false;
    if (!c->stream.done) /* complete, whatever the connection did after [DONE] */
        return false;
    o->stop = c->stream.finished ? c->stream.stop : LLM_STOP_END_TURN;
    return true;
}

static void http_error(struct llm_http_call *c, long long now_s, struct llm_outcome *o,
                       char *detail, size_t detail_len)
{
    char ra[64], ra_ms[64];
    bool has_ra = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra));
    bool has_ms = http_client_response_header(c->xfer, "retry-after-ms", ra_ms, sizeof(ra_ms));
    struct oai_http_error e;
    oai_classify_http_error(c->http_status, c->error_body.data, c->error_body.len,
                            has_ra ? ra : NULL, has_ms ? ra_ms : NULL, now_s, &e);
    o->error = e.error;
    o->retryable = e.retryable;
    o->retry_after_ms = e.retry_after_ms;
    snprintf(detail, detail_len, "%s", e.detail);
}

static void stream_error(struct llm_http_call *hc, struct llm_outcome *o, char *detail,
                         size_t detail_len)
{
    struct oai_call *c = (struct oai_call *)hc;
    o->error = c->stream.error;
    o->retryable = c->stream.retryable;
    snprintf(detail, detail_len, "OpenAI-compatible stream error %s: %s", c->stream.error_type,
             c->stream.error_message);
}

static void release(struct llm_http_call *hc)
{
    struct oai_call *c = (struct oai_call *)hc;
    llm_http_call_cleanup(&c->http);
    pl_free(c);
}

static const struct llm_http_call_ops call_ops = {
    .provider = "openai",
    .stream_name = "OpenAI-compatible",
    .timeout_name = "OpenAI-compatible server",
    .missing_end = "no [DONE]",
    .sse_event = sse_event,
    .usage = usage,
    .complete = complete,
    .http_error = http_error,
    .stream_error = stream_error,
    .release = release,
};

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
    llm_http_call_init(&c->http, base, sink, &call_ops);
    c->estimated_input = llm__estimate_tokens(req);
    oai_stream_init(&c->stream);
    const char *headers[] = {"content-type: application/json", "accept: text/event-stream",
                             "user-agent: parley/" PARLEY_VERSION, p->auth_header, NULL};
    int rc =
        llm_http_call_start(&c->http, p->http, p->url, headers, body.data, body.len, &p->timeouts);
    pl_buf_cleanup(&body);
    if (rc != PL_OK) {
        release(&c->http);
        return NULL;
    }
    return &c->http.super;
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
    .cancel = llm_http_call_cancel,
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
    p->timeouts = llm_http_timeouts_of(cfg);
    return &p->super;
}
