/* The HTTP half of the remote providers; see llm_http_call.h. */
#include "connectors/llm_http_call.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "common/err.h"

#define ERROR_BODY_MAX (64 * 1024)
#define SSE_EVENT_MAX  (1024 * 1024)

struct llm_http_timeouts llm_http_timeouts_of(const struct llm_provider_config *cfg)
{
    return (struct llm_http_timeouts){.connect_ms = cfg->connect_timeout_ms,
                                      .idle_ms = cfg->idle_timeout_ms,
                                      .total_ms = cfg->total_timeout_ms};
}

void llm_http_call_init(struct llm_http_call *c, struct llm_provider *p,
                        const struct llm_sink *sink, const struct llm_http_call_ops *ops)
{
    c->super.provider = p;
    c->ops = ops;
    c->sink = *sink;
    pl_buf_init(&c->error_body, ERROR_BODY_MAX);
    sse_parser_init(&c->sse, SSE_EVENT_MAX);
}

void llm_http_call_cleanup(struct llm_http_call *c)
{
    pl_buf_cleanup(&c->error_body);
    sse_parser_cleanup(&c->sse);
}

void llm_http_call_emit_text(void *ud, const char *text, size_t len)
{
    struct llm_http_call *c = ud;
    if (len == 0)
        return;
    c->any_text = true;
    c->text_bytes += len;
    c->text_deltas++;
    c->sink.on_text(c->sink.ud, text, len);
}

static int on_headers(void *ud, int status)
{
    struct llm_http_call *c = ud;
    c->http_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct llm_http_call *c = ud;
    if (c->http_status != 200) {
        pl_buf_append(&c->error_body, data, len); /* keeps the head of a long body */
        return 0;
    }
    if (c->ops->feed)
        return c->ops->feed(c, data, len);
    /* Stop reading after an error event or malformed data. */
    return llm_http_call_feed_sse(c, data, len) != PL_OK;
}

static long long now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct llm_http_call *c = ud;
    const struct llm_http_call_ops *ops = c->ops;
    char text[400];
    struct llm_outcome o = {
        .status = PL_OK,
        .stop = LLM_STOP_END_TURN,
        .model = c->super.provider->model,
        .provider = ops->provider,
        .any_text = c->any_text,
        .retry_after_ms = -1,
        .http_status = c->http_status,
    };
    if (ops->usage)
        ops->usage(c, &o);
    if (c->cancel_requested) {
        o.status = PL_ECANCELED;
        o.stop = LLM_STOP_CANCELLED;
    } else if (c->http_status && c->http_status != 200) {
        ops->http_error(c, now_s(), &o, text, sizeof(text));
        o.status = PL_EUPSTREAM;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error_detail = text;
    } else if (ops->complete(c, &o)) {
        /* the model's own end: o.stop says which */
    } else if (c->stream_status == PL_EUPSTREAM) {
        ops->stream_error(c, &o, text, sizeof(text));
        o.status = PL_EUPSTREAM;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error_detail = text;
    } else if (c->stream_status == PL_EPROTO) {
        o.status = PL_EPROTO;
        o.stop = LLM_STOP_UPSTREAM_ERROR;
        o.error = API_ERR_UPSTREAM_ERROR;
        o.retryable = true;
        if (!c->malformed_detail[0])
            snprintf(c->malformed_detail, sizeof(c->malformed_detail), "%s stream was malformed",
                     ops->stream_name);
        o.error_detail = c->malformed_detail;
    } else if (status == PL_ETIMEDOUT) {
        o.status = PL_ETIMEDOUT;
        o.stop = LLM_STOP_TIMEOUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "%s timed out (%s)", ops->timeout_name, detail);
        o.error_detail = text;
    } else {
        /* Transport error, or the stream ended without its final event. */
        o.status = status == PL_OK ? PL_EIO : status;
        o.stop = LLM_STOP_UPSTREAM_CUT;
        o.error = API_ERR_UPSTREAM_UNAVAILABLE;
        o.retryable = true;
        snprintf(text, sizeof(text), "%s stream ended early (%s)", ops->stream_name,
                 status == PL_OK ? ops->missing_end : detail);
        o.error_detail = text;
    }
    c->sink.on_finish(c->sink.ud, &o);
    ops->release(c);
}

int llm_http_call_start(struct llm_http_call *c, struct http_client *http, const char *url,
                        const char *const *headers, const char *body, size_t body_len,
                        const struct llm_http_timeouts *t)
{
    struct http_client_request hr = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .connect_timeout_ms = t->connect_ms,
        .idle_timeout_ms = t->idle_ms,
        .total_timeout_ms = t->total_ms,
    };
    struct http_client_callbacks cbs = {
        .on_headers = on_headers, .on_data = on_data, .on_done = on_done};
    c->xfer = http_client_start(http, &hr, &cbs, c);
    return c->xfer ? PL_OK : PL_EIO;
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    struct llm_http_call *c = ud;
    int rc = c->ops->sse_event(c, event, data, len);
    if (rc != PL_OK)
        c->stream_status = rc;
    return rc;
}

int llm_http_call_feed_sse(struct llm_http_call *c, const char *data, size_t len)
{
    int rc = sse_parser_feed(&c->sse, data, len, on_sse_event, c);
    if (rc == PL_ETOOBIG)
        c->stream_status = PL_EPROTO;
    return rc;
}

void llm_http_call_cancel(struct llm_call *call)
{
    struct llm_http_call *c = (struct llm_http_call *)call;
    c->cancel_requested = true;
    http_client_abort(c->xfer); /* on_done runs now */
}
