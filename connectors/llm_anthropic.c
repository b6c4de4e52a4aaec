/* The anthropic provider: Claude through the Messages API with "stream": true. The request body
 * comes from anthropic_request.h; the response is fed through the incremental SSE parser (sse.h)
 * and the Anthropic event interpreter (anthropic_stream.h); HTTP errors and in-stream `error`
 * events are classified by anthropic_errors.h. Failures inside a 200 stream (an `error` event, a
 * cut, malformed data, a missing message_stop) are failures, never short answers
 * (docs/upstream-anthropic.md, Stream). The HTTP half, and the outcome of each way a call ends,
 * are llm_http_call.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/anthropic_errors.h"
#include "connectors/anthropic_request.h"
#include "connectors/anthropic_stream.h"
#include "connectors/http_client.h"
#include "connectors/llm_http_call.h"

/* The Messages API takes requests up to 32 MB; a prompt of ours stays far below this. */
#define REQUEST_BODY_MAX (16 * 1024 * 1024)

struct anth_provider {
    struct llm_provider super;
    struct http_client *http;
    char *url;
    char *api_key;
    char *version;
    struct llm_http_timeouts timeouts;
    bool prompt_cache;
};

struct anth_call {
    struct llm_http_call http; /* first: the call the chain holds */
    struct anth_stream stream;
};

static int sse_event(struct llm_http_call *hc, const char *event, const char *data, size_t len)
{
    struct anth_call *c = (struct anth_call *)hc;
    return anth_stream_event(&c->stream, event, data, len, llm_http_call_emit_text, hc);
}

static void usage(struct llm_http_call *hc, struct llm_outcome *o)
{
    struct anth_call *c = (struct anth_call *)hc;
    o->usage =
        (struct llm_usage){.input_tokens = c->stream.input_tokens,
                           .output_tokens = c->stream.output_tokens,
                           .cache_read_input_tokens = c->stream.cache_read_input_tokens,
                           .cache_creation_input_tokens = c->stream.cache_creation_input_tokens};
    if (c->stream.model[0])
        o->model = c->stream.model;
}

static bool complete(struct llm_http_call *hc, struct llm_outcome *o)
{
    struct anth_call *c = (struct anth_call *)hc;
    if (!c->stream.finished)
        return false;
    o->stop = llm_stop_from_model(c->stream.stop_reason);
    return true;
}

static void http_error(struct llm_http_call *c, long long now_s, struct llm_outcome *o,
                       char *detail, size_t detail_len)
{
    char ra[64], ra_ms[64], should[16];
    bool has_ra = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra));
    bool has_ms = http_client_response_header(c->xfer, "retry-after-ms", ra_ms, sizeof(ra_ms));
    bool has_sr = http_client_response_header(c->xfer, "x-should-retry", should, sizeof(should));
    struct anth_http_error e;
    anth_classify_http_error(c->http_status, c->error_body.data ? c->error_body.data : "",
                             c->error_body.len, has_ra ? ra : NULL, has_ms ? ra_ms : NULL,
                             has_sr ? should : NULL, now_s, &e);
    o->error = e.error;
    o->retryable = e.retryable;
    o->retry_after_ms = e.retry_after_ms;
    snprintf(detail, detail_len, "%s", e.detail);
}

static void stream_error(struct llm_http_call *hc, struct llm_outcome *o, char *detail,
                         size_t detail_len)
{
    struct anth_call *c = (struct anth_call *)hc;
    struct anth_http_error e;
    anth_classify_stream_error(c->stream.error_type, c->stream.error_message, &e);
    o->error = e.error;
    o->retryable = e.retryable;
    snprintf(detail, detail_len, "%s", e.detail);
}

static void release(struct llm_http_call *hc)
{
    struct anth_call *c = (struct anth_call *)hc;
    llm_http_call_cleanup(&c->http);
    pl_free(c);
}

static const struct llm_http_call_ops call_ops = {
    .provider = "anthropic",
    .stream_name = "Anthropic",
    .timeout_name = "Anthropic API",
    .missing_end = "no message_stop",
    .sse_event = sse_event,
    .usage = usage,
    .complete = complete,
    .http_error = http_error,
    .stream_error = stream_error,
    .release = release,
};

static struct llm_call *anth_start(struct llm_provider *base, const struct prompt *req,
                                   const struct llm_sink *sink)
{
    struct anth_provider *p = (struct anth_provider *)base;
    struct pl_buf body;
    pl_buf_init(&body, REQUEST_BODY_MAX);
    struct anthropic_request_opts ro = {
        .model = p->super.model, .stream = true, .metadata = true, .prompt_cache = p->prompt_cache};
    if (anthropic_request_body_opts(&body, &ro, req) != PL_OK) {
        PL_LOG(PL_LOG_ERR, "anthropic", "request body over %d bytes; not sent", REQUEST_BODY_MAX);
        pl_buf_cleanup(&body);
        return NULL;
    }
    struct anth_call *c = pl_calloc(1, sizeof(*c));
    llm_http_call_init(&c->http, base, sink, &call_ops);
    anth_stream_init(&c->stream);
    char key_header[512], version_header[96];
    snprintf(key_header, sizeof(key_header), "x-api-key: %s", p->api_key);
    snprintf(version_header, sizeof(version_header), "anthropic-version: %s", p->version);
    const char *headers[] = {"content-type: application/json",
                             "accept: text/event-stream",
                             version_header,
                             key_header,
                             "user-agent: parley/" PARLEY_VERSION,
                             NULL};
    int rc =
        llm_http_call_start(&c->http, p->http, p->url, headers, body.data, body.len, &p->timeouts);
    OPENSSL_cleanse(key_header, sizeof(key_header)); /* the key goes no further than curl */
    pl_buf_cleanup(&body);
    if (rc != PL_OK) {
        release(&c->http);
        return NULL;
    }
    return &c->http.super;
}

static void anth_destroy(struct llm_provider *base)
{
    struct anth_provider *p = (struct anth_provider *)base;
    pl_free(p->url);
    OPENSSL_cleanse(p->api_key, strlen(p->api_key)); /* a secret: wiped before the heap has it */
    pl_free(p->api_key);
    pl_free(p->version);
    llm__provider_cleanup(base);
    pl_free(p);
}

static const struct llm_provider_ops anth_ops = {
    .kind = "anthropic",
    .start = anth_start,
    .cancel = llm_http_call_cancel,
    .destroy = anth_destroy,
};

struct llm_provider *llm__anthropic_create(const struct llm_env *env,
                                           const struct llm_provider_config *cfg, char *err,
                                           size_t errlen)
{
    if (!cfg->api_key || !*cfg->api_key) {
        snprintf(err, errlen,
                 "the anthropic provider needs ANTHROPIC_API_KEY (or use --provider local)");
        return NULL;
    }
    const char *base =
        cfg->base_url && *cfg->base_url ? cfg->base_url : "https://api.anthropic.com";
    struct anth_provider *p = pl_calloc(1, sizeof(*p));
    llm__provider_init(&p->super, &anth_ops, "anthropic",
                       cfg->model ? cfg->model : llm_default_model("anthropic"));
    p->http = env->http;
    size_t n = strlen(base) + sizeof("/v1/messages");
    p->url = pl_malloc(n);
    snprintf(p->url, n, "%s%s", base,
             base[strlen(base) - 1] == '/' ? "v1/messages" : "/v1/messages");
    p->api_key = pl_strdup(cfg->api_key);
    p->version = pl_strdup(cfg->api_version ? cfg->api_version : "2023-06-01");
    p->prompt_cache = cfg->prompt_cache;
    p->timeouts = llm_http_timeouts_of(cfg);
    return &p->super;
}
