/* The anthropic provider: Claude through the Messages API with "stream": true. The request body
 * comes from anthropic_request.h; the response is fed through the incremental SSE parser (sse.h)
 * and the Anthropic event interpreter (anthropic_stream.h); HTTP errors and in-stream `error`
 * events are classified by anthropic_errors.h. Failures inside a 200 stream (an `error` event, a
 * cut, malformed data, a missing message_stop) are failures, never short answers
 * (docs/upstream-anthropic.md, Stream). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/anthropic_errors.h"
#include "connectors/anthropic_request.h"
#include "connectors/anthropic_stream.h"
#include "connectors/http_client.h"
#include "connectors/llm_internal.h"
#include "connectors/sse.h"

#define SSE_EVENT_MAX  (1024 * 1024)
#define ERROR_BODY_MAX (64 * 1024)
/* The Messages API takes requests up to 32 MB; a prompt of ours stays far below this. */
#define REQUEST_BODY_MAX (16 * 1024 * 1024)

struct anth_provider {
    struct llm_provider super;
    struct http_client *http;
    char *url;
    char *api_key;
    char *version;
    uint32_t connect_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t total_timeout_ms;
    bool prompt_cache;
};

struct anth_call {
    struct llm_call super;
    struct anth_provider *p;
    struct http_client_transfer *xfer;
    struct llm_sink sink;
    struct sse_parser sse;
    struct anth_stream stream;
    struct pl_buf error_body;
    int http_status;
    int stream_status; /* PL_OK, or what the stream interpreter reported (EPROTO, EUPSTREAM) */
    bool any_text;
    bool cancel_requested;
};

static void emit_text(void *ud, const char *text, size_t len)
{
    struct anth_call *c = ud;
    if (len == 0)
        return;
    c->any_text = true;
    c->sink.on_text(c->sink.ud, text, len);
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    struct anth_call *c = ud;
    int rc = anth_stream_event(&c->stream, event, data, len, emit_text, c);
    if (rc != PL_OK)
        c->stream_status = rc;
    return rc;
}

static int on_headers(void *ud, int status)
{
    struct anth_call *c = ud;
    c->http_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct anth_call *c = ud;
    if (c->http_status != 200)
        return pl_buf_append(&c->error_body, data, len) == PL_OK ? 0 : 0; /* keep the head */
    int rc = sse_parser_feed(&c->sse, data, len, on_sse_event, c);
    if (rc == PL_ETOOBIG)
        c->stream_status = PL_EPROTO;
    return rc != PL_OK; /* stop reading after an error event or malformed data */
}

static long long now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct anth_call *c = ud;
    char text[400];
    struct llm_outcome o = {
        .status = PL_OK,
        .stop = LLM_STOP_END_TURN,
        .usage = {.input_tokens = c->stream.input_tokens,
                  .output_tokens = c->stream.output_tokens,
                  .cache_read_input_tokens = c->stream.cache_read_input_tokens,
                  .cache_creation_input_tokens = c->stream.cache_creation_input_tokens},
        .model = c->stream.model[0] ? c->stream.model : c->p->super.model,
        .provider = "anthropic",
        .any_text = c->any_text,
        .retry_after_ms = -1,
        .http_status = c->http_status,
    };
    if (c->cancel_requested) {
        o.status = PL_ECANCELED;
        o.stop = LLM_STOP_CANCELLED;
    } else if (c->http_status && c->http_status != 200) {
        char ra[64], ra_ms[64], should[16];
        bool has_ra = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra));
        bool has_ms = http_client_response_header(c->xfer, "retry-after-ms", ra_ms, sizeof(ra_ms));
        bool has_sr =
            http_client_response_header(c->xfer, "x-should-retry", should, sizeof(should));
        struct anth_http_error e;
        anth_classify_http_error(c->http_status, c->error_body.data ? c->error_body.data : "",
                                 c->error_body.len, has_ra ? ra : NULL, has_ms ? ra_ms : NULL,
                                 has_sr ? should : NULL, now_s(), &e);
        o.status = PL_EUPSTREAM;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = e.error;
        o.retryable = e.retryable;
        o.retry_after_ms = e.retry_after_ms;
        snprintf(text, sizeof(text), "%s", e.detail);
        o.error_detail = text;
    } else if (c->stream.finished) {
        o.stop = llm_stop_from_model(c->stream.stop_reason);
    } else if (c->stream_status == PL_EUPSTREAM) {
        struct anth_http_error e;
        anth_classify_stream_error(c->stream.error_type, c->stream.error_message, &e);
        o.status = PL_EUPSTREAM;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = e.error;
        o.retryable = e.retryable;
        snprintf(text, sizeof(text), "%s", e.detail);
        o.error_detail = text;
    } else if (c->stream_status == PL_EPROTO) {
        o.status = PL_EPROTO;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = API_ERR_UPSTREAM_ERROR;
        o.retryable = true;
        o.error_detail = "Anthropic stream was malformed";
    } else if (status == PL_ETIMEDOUT) {
        o.status = PL_ETIMEDOUT;
        o.stop = LLM_STOP_TIMEOUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "Anthropic API timed out (%s)", detail);
        o.error_detail = text;
    } else {
        /* Transport error, or the stream ended without message_stop. */
        o.status = status == PL_OK ? PL_EIO : status;
        o.stop = LLM_STOP_UPSTREAM_CUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "Anthropic stream ended early (%s)",
                 status == PL_OK ? "no message_stop" : detail);
        o.error_detail = text;
    }
    c->sink.on_finish(c->sink.ud, &o);
    sse_parser_cleanup(&c->sse);
    pl_buf_cleanup(&c->error_body);
    pl_free(c);
}

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
    c->super.provider = base;
    c->p = p;
    c->sink = *sink;
    sse_parser_init(&c->sse, SSE_EVENT_MAX);
    anth_stream_init(&c->stream);
    pl_buf_init(&c->error_body, ERROR_BODY_MAX);
    char key_header[512], version_header[96];
    snprintf(key_header, sizeof(key_header), "x-api-key: %s", p->api_key);
    snprintf(version_header, sizeof(version_header), "anthropic-version: %s", p->version);
    const char *headers[] = {"content-type: application/json",
                             "accept: text/event-stream",
                             version_header,
                             key_header,
                             "user-agent: parley/" PARLEY_VERSION,
                             NULL};
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

static void anth_cancel(struct llm_call *call)
{
    struct anth_call *c = (struct anth_call *)call;
    c->cancel_requested = true;
    http_client_abort(c->xfer); /* on_done runs now */
}

static void anth_destroy(struct llm_provider *base)
{
    struct anth_provider *p = (struct anth_provider *)base;
    pl_free(p->url);
    pl_free(p->api_key);
    pl_free(p->version);
    llm__provider_cleanup(base);
    pl_free(p);
}

static const struct llm_provider_ops anth_ops = {
    .kind = "anthropic",
    .start = anth_start,
    .cancel = anth_cancel,
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
    p->connect_timeout_ms = cfg->connect_timeout_ms;
    p->idle_timeout_ms = cfg->idle_timeout_ms;
    p->total_timeout_ms = cfg->total_timeout_ms;
    return &p->super;
}
