/* The bedrock provider: Claude and other models through Amazon Bedrock Runtime, by one of its
 * three streaming APIs (docs/bedrock.md). The body and path come from bedrock_request.h; the
 * request is signed with SigV4 (aws_sigv4.h, service "bedrock") with credentials from
 * aws_credentials.h, or carries a Bedrock API key as a bearer token. Answers:
 *   converse  event stream (aws_eventstream.h) of ConverseStream events (converse_stream.h)
 *   invoke    event stream of chunks holding Anthropic events (bedrock_invoke_stream.h)
 *   messages  SSE (sse.h) of Anthropic events (anthropic_stream.h)
 * Exception and error frames are classified by aws_eventstream_kind.h, non-200 answers by
 * bedrock_errors.h. As with the anthropic provider, failures inside a 200 stream are failures,
 * never short answers, and a stream that ends before its final event is cut. A guardrail
 * intervention ends the turn with stop reason refusal and is counted for the metrics. The HTTP
 * half, and the outcome of each way a call ends, are llm_http_call.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/anthropic_errors.h"
#include "connectors/anthropic_stream.h"
#include "connectors/aws_credentials.h"
#include "connectors/aws_eventstream.h"
#include "connectors/aws_eventstream_kind.h"
#include "connectors/aws_request.h"
#include "connectors/aws_sigv4.h"
#include "connectors/bedrock_errors.h"
#include "connectors/bedrock_invoke_stream.h"
#include "connectors/bedrock_request.h"
#include "connectors/converse_stream.h"
#include "connectors/http_client.h"
#include "connectors/llm_http_call.h"

#define REQUEST_BODY_MAX (16 * 1024 * 1024) /* Bedrock takes 25 MB */
#define EXCEPTION_MAX    (64 * 1024)        /* an exception frame's JSON worth reading */

struct bedrock_provider {
    struct llm_provider super;
    struct http_client *http;
    uv_loop_t *loop;
    enum bedrock_api api;
    char *url;  /* endpoint + path */
    char *host; /* the URL's authority, sent and signed as the host header */
    char *path; /* the path as on the request line (the endpoint's own path included) */
    char *region;
    char *api_key;                 /* a Bedrock API key (bearer), or NULL: SigV4 */
    struct aws_credentials *creds; /* borrowed */
    /* The day's signing key for SigV4, or NULL: derived for each request. */
    struct pl_sigv4_key_cache *sigv4_cache;
    bool has_guardrail;
    struct bedrock_guardrail guardrail;
    bool prompt_caching;
    struct llm_http_timeouts timeouts;
    bool logged_first; /* the first request's line is in the log */
    unsigned long long guardrail_interventions;
};

struct bedrock_call {
    struct llm_http_call http; /* first: the call the chain holds */
    struct bedrock_provider *p;
    struct pl_buf body; /* kept until sent: credentials may come later */
    long est_input_tokens;
    /* Waiting for credentials, then for a clean stack to send from. */
    struct aws_credentials_wait *wait;
    uv_timer_t *defer;
    int defer_status; /* PL_OK: send when the timer fires; else fail with it */
    char fail_detail[300];
    /* The readers of the answer (one of them, by the API). */
    struct aws_es_decoder es;
    struct converse_stream converse;
    struct bedrock_invoke_stream invoke;
    struct anth_stream anth; /* messages */
    bool frame_failure;      /* an exception or error frame: `failure` says what */
    struct aws_es_failure failure;
};

static void call_free(struct bedrock_call *c)
{
    pl_buf_cleanup(&c->body);
    aws_es_decoder_cleanup(&c->es);
    llm_http_call_cleanup(&c->http);
    pl_free(c);
}

/* A failure before any request went out (credentials, a refused start). */
static void finish_early(struct bedrock_call *c, int status, const char *detail)
{
    struct llm_outcome o = {
        .status = status,
        .stop = status == PL_ECANCELED ? LLM_STOP_CANCELLED : LLM_STOP_UPSTREAM_ERROR,
        .model = c->p->super.model,
        .provider = "bedrock",
        .error = status == PL_ECANCELED ? API_ERR_NONE : API_ERR_UPSTREAM_UNAVAILABLE,
        .error_detail = detail,
        .retryable = status != PL_ECANCELED,
        .retry_after_ms = -1,
    };
    c->http.sink.on_finish(c->http.sink.ud, &o);
    call_free(c);
}

/* ---- the answer ---- */

static int on_exception_frame(struct bedrock_call *c, const struct aws_es_frame *f,
                              const struct aws_es_message *m)
{
    char message[256] = "";
    if (f->payload_len <= EXCEPTION_MAX) {
        json_t *j = json_loadb((const char *)f->payload, f->payload_len, 0, NULL);
        const char *s = json_string_value(json_object_get(j, "message"));
        if (!s)
            s = json_string_value(json_object_get(j, "Message"));
        snprintf(message, sizeof(message), "%s", s ? s : "");
        json_decref(j);
    }
    aws_es_classify_exception(m->exception_type, message, &c->failure);
    c->frame_failure = true;
    c->http.stream_status = PL_EUPSTREAM;
    return PL_EUPSTREAM;
}

static int on_frame(void *ud, const struct aws_es_frame *f)
{
    struct bedrock_call *c = ud;
    struct aws_es_message m;
    aws_es_message_read(f, &m);
    int rc = PL_OK;
    switch (m.kind) {
    case AWS_ES_KIND_EVENT:
        if (c->p->api == BEDROCK_API_CONVERSE)
            rc = converse_stream_event(&c->converse, m.event_type, (const char *)f->payload,
                                       f->payload_len, llm_http_call_emit_text, &c->http);
        else if (strcmp(m.event_type, "chunk") == 0)
            rc = bedrock_invoke_stream_chunk(&c->invoke, (const char *)f->payload, f->payload_len,
                                             llm_http_call_emit_text, &c->http);
        if (rc == PL_EPROTO)
            snprintf(c->http.malformed_detail, sizeof(c->http.malformed_detail),
                     "Bedrock %s event was malformed",
                     m.event_type[0] ? m.event_type : "(unnamed)");
        break;
    case AWS_ES_KIND_EXCEPTION:
        return on_exception_frame(c, f, &m);
    case AWS_ES_KIND_ERROR:
        aws_es_classify_error(m.error_code, m.error_message, &c->failure);
        c->frame_failure = true;
        rc = PL_EUPSTREAM;
        break;
    case AWS_ES_KIND_UNKNOWN:
        snprintf(c->http.malformed_detail, sizeof(c->http.malformed_detail),
                 "Bedrock sent a frame without a known :message-type");
        rc = PL_EPROTO;
        break;
    }
    if (rc != PL_OK)
        c->http.stream_status = rc;
    return rc;
}

static int sse_event(struct llm_http_call *hc, const char *event, const char *data, size_t len)
{
    struct bedrock_call *c = (struct bedrock_call *)hc;
    int rc = anth_stream_event(&c->anth, event, data, len, llm_http_call_emit_text, hc);
    if (rc == PL_EPROTO)
        snprintf(c->http.malformed_detail, sizeof(c->http.malformed_detail),
                 "Bedrock Messages stream was malformed");
    return rc;
}

static int feed(struct llm_http_call *hc, const char *data, size_t len)
{
    struct bedrock_call *c = (struct bedrock_call *)hc;
    int rc;
    if (c->p->api == BEDROCK_API_MESSAGES) {
        rc = llm_http_call_feed_sse(hc, data, len);
        if (rc == PL_ETOOBIG)
            snprintf(c->http.malformed_detail, sizeof(c->http.malformed_detail),
                     "Bedrock SSE event too large");
    } else {
        rc = aws_es_decoder_feed(&c->es, data, len, on_frame, c);
        if (rc != PL_OK && c->http.stream_status == PL_OK) {
            /* The decoder's own failure: a bad CRC, length or header. */
            c->http.stream_status = PL_EPROTO;
            snprintf(c->http.malformed_detail, sizeof(c->http.malformed_detail),
                     "Bedrock event stream: %s", aws_es_fault_name(c->es.fault));
        }
    }
    return rc != PL_OK; /* stop reading after a failure */
}

/* Whether the stream gave its final event, and what it says. */
static bool stream_complete(struct bedrock_call *c, struct llm_outcome *o, bool *intervened)
{
    struct bedrock_provider *p = c->p;
    *intervened = false;
    switch (p->api) {
    case BEDROCK_API_CONVERSE:
        if (!c->converse.stopped)
            return false;
        o->stop = converse_stream_stop(&c->converse);
        *intervened = strcmp(c->converse.stop_reason, "guardrail_intervened") == 0;
        if (c->converse.has_usage) {
            o->usage = c->converse.usage;
        } else {
            /* messageStop without metadata: the text is whole, its counts unknown. */
            o->usage.input_tokens = c->est_input_tokens;
            o->usage.output_tokens = (long)((c->http.text_bytes + 3) / 4);
        }
        return true;
    case BEDROCK_API_INVOKE:
        if (!c->invoke.anth.finished)
            return false;
        o->stop = bedrock_invoke_stream_stop(&c->invoke);
        *intervened = c->invoke.guardrail_intervened;
        o->usage.input_tokens = c->invoke.anth.input_tokens;
        o->usage.output_tokens = c->invoke.anth.output_tokens;
        o->usage.cache_read_input_tokens = c->invoke.anth.cache_read_input_tokens;
        o->usage.cache_creation_input_tokens = c->invoke.anth.cache_creation_input_tokens;
        if (c->invoke.anth.model[0])
            o->model = c->invoke.anth.model;
        return true;
    case BEDROCK_API_MESSAGES:
        if (!c->anth.finished)
            return false;
        o->stop = llm_stop_from_model(c->anth.stop_reason);
        o->usage.input_tokens = c->anth.input_tokens;
        o->usage.output_tokens = c->anth.output_tokens;
        o->usage.cache_read_input_tokens = c->anth.cache_read_input_tokens;
        o->usage.cache_creation_input_tokens = c->anth.cache_creation_input_tokens;
        if (c->anth.model[0])
            o->model = c->anth.model;
        return true;
    }
    return false;
}

static bool complete(struct llm_http_call *hc, struct llm_outcome *o)
{
    struct bedrock_call *c = (struct bedrock_call *)hc;
    bool intervened = false;
    if (!stream_complete(c, o, &intervened))
        return false;
    if (intervened)
        c->p->guardrail_interventions++;
    return true;
}

static void http_error(struct llm_http_call *c, long long now_s, struct llm_outcome *o,
                       char *detail, size_t detail_len)
{
    char type[128], ra[64];
    bool has_type = http_client_response_header(c->xfer, "x-amzn-errortype", type, sizeof(type));
    bool has_ra = http_client_response_header(c->xfer, "retry-after", ra, sizeof(ra));
    struct bedrock_http_error e;
    bedrock_classify_http_error(c->http_status, has_type ? type : NULL,
                                c->error_body.data ? c->error_body.data : "", c->error_body.len,
                                has_ra ? ra : NULL, now_s, &e);
    o->error = e.error;
    o->retryable = e.retryable;
    o->retry_after_ms = e.retry_after_ms;
    snprintf(detail, detail_len, "%s", e.detail);
}

static void stream_error(struct llm_http_call *hc, struct llm_outcome *o, char *detail,
                         size_t detail_len)
{
    struct bedrock_call *c = (struct bedrock_call *)hc;
    if (c->frame_failure) {
        o->error = c->failure.error;
        o->retryable = c->failure.retryable;
        snprintf(detail, detail_len, "%s", c->failure.detail);
    } else { /* an Anthropic error event inside an invoke chunk or the Messages stream */
        const struct anth_stream *a = c->p->api == BEDROCK_API_INVOKE ? &c->invoke.anth : &c->anth;
        struct anth_http_error e;
        anth_classify_stream_error(a->error_type, a->error_message, &e);
        o->error = e.error;
        o->retryable = e.retryable;
        snprintf(detail, detail_len, "Bedrock: %s", e.detail);
    }
}

static void release(struct llm_http_call *hc)
{
    call_free((struct bedrock_call *)hc);
}

static const struct llm_http_call_ops call_ops = {
    .provider = "bedrock",
    .stream_name = "Bedrock",
    .timeout_name = "Bedrock",
    .missing_end = "no final event",
    .sse_event = sse_event,
    .feed = feed,
    .complete = complete,
    .http_error = http_error,
    .stream_error = stream_error,
    .release = release,
};

/* ---- the request ---- */

/* Sign (or add the bearer key) and start the transfer. PL_OK, or a failure with fail_detail. */
static int send_request(struct bedrock_call *c, const struct pl_sigv4_creds *creds)
{
    struct bedrock_provider *p = c->p;
    const char *accept =
        p->api == BEDROCK_API_MESSAGES ? "text/event-stream" : "application/vnd.amazon.eventstream";
    /* The headers that are signed (all but user-agent and the signer's own). */
    struct pl_sigv4_header signed_h[8];
    size_t n = 0;
    signed_h[n++] = (struct pl_sigv4_header){"host", p->host};
    signed_h[n++] = (struct pl_sigv4_header){"content-type", "application/json"};
    signed_h[n++] = (struct pl_sigv4_header){"accept", accept};
    if (p->has_guardrail && p->api == BEDROCK_API_INVOKE) {
        signed_h[n++] =
            (struct pl_sigv4_header){"x-amzn-bedrock-guardrailidentifier", p->guardrail.id};
        signed_h[n++] =
            (struct pl_sigv4_header){"x-amzn-bedrock-guardrailversion", p->guardrail.version};
        signed_h[n++] = (struct pl_sigv4_header){"x-amzn-bedrock-trace", "DISABLED"};
    }
    struct pl_sigv4_request sr = {
        .method = "POST",
        .path = p->path,
        .headers = signed_h,
        .n_headers = n,
        .payload = c->body.data,
        .payload_len = c->body.len,
        .region = p->region,
        .service = "bedrock",
        .time = time(NULL),
        .key_cache = p->sigv4_cache,
    };
    /* "name: value" lines: ours, then the signer's (x-amz-date, token, authorization); with a
     * Bedrock API key, ours unsigned and the bearer line. */
    struct aws_request_headers headers;
    int rc = aws_request_headers_sign(&headers, &sr, creds);
    if (rc != PL_OK) {
        aws_request_headers_cleanup(&headers);
        snprintf(c->fail_detail, sizeof(c->fail_detail), "Bedrock request could not be signed (%s)",
                 pl_strerror(rc));
        return rc;
    }
    char *bearer = NULL;
    if (!creds) {
        size_t len = strlen(p->api_key) + sizeof("authorization: Bearer ");
        bearer = pl_malloc(len);
        snprintf(bearer, len, "authorization: Bearer %s", p->api_key);
        aws_request_headers_add(&headers, bearer);
    }
    aws_request_headers_add(&headers, "user-agent: parley/" PARLEY_VERSION);

    if (!p->logged_first) {
        p->logged_first = true;
        PL_LOG(PL_LOG_NOTICE, "bedrock", "first request: POST %s (%s API, %s)", p->url,
               bedrock_api_name(p->api),
               creds ? aws_credentials_source_name(p->creds) : "Bedrock API key");
    }
    int started = llm_http_call_start(&c->http, p->http, p->url, headers.lines, c->body.data,
                                      c->body.len, &p->timeouts);
    /* The secrets in these buffers go no further. */
    if (bearer) {
        memset(bearer, 0, strlen(bearer));
        pl_free(bearer);
    }
    aws_request_headers_cleanup(&headers);
    if (started != PL_OK) {
        snprintf(c->fail_detail, sizeof(c->fail_detail), "Bedrock request could not be started");
        return PL_EIO;
    }
    pl_buf_cleanup(&c->body);
    return PL_OK;
}

static void on_creds_ready(void *ud);

/* Send with the current credentials, or wait for them. PL_OK once sent or waiting; else the
 * failure, with fail_detail. */
static int try_send(struct bedrock_call *c)
{
    struct bedrock_provider *p = c->p;
    if (p->api_key)
        return send_request(c, NULL);
    struct pl_sigv4_creds creds;
    const char *detail = NULL;
    int rc = aws_credentials_get(p->creds, &creds, &detail);
    if (rc == PL_OK)
        return send_request(c, &creds);
    if (rc == PL_EBUSY) {
        c->wait = aws_credentials_wait(p->creds, on_creds_ready, c);
        if (c->wait)
            return PL_OK;
    }
    snprintf(c->fail_detail, sizeof(c->fail_detail), "AWS credentials unavailable (%s): %s",
             aws_credentials_source_name(p->creds), detail ? detail : "none yet");
    return PL_EUPSTREAM;
}

static void on_defer_closed(uv_handle_t *h)
{
    pl_free(h);
}

static void cancel_defer(struct bedrock_call *c)
{
    uv_timer_stop(c->defer);
    uv_close((uv_handle_t *)c->defer, on_defer_closed);
    c->defer = NULL;
}

static void on_defer(uv_timer_t *t)
{
    struct bedrock_call *c = t->data;
    cancel_defer(c);
    int rc = c->defer_status;
    if (rc == PL_OK)
        rc = try_send(c);
    if (rc != PL_OK)
        finish_early(c, rc, c->fail_detail);
}

/* Act from the loop on a clean stack: a provider must not finish inside llm_start, and the HTTP
 * client refuses a start from inside its own callbacks (where credentials may arrive). */
static void defer(struct bedrock_call *c, int status)
{
    c->defer_status = status;
    c->defer = pl_malloc(sizeof(*c->defer));
    uv_timer_init(c->p->loop, c->defer);
    c->defer->data = c;
    uv_timer_start(c->defer, on_defer, 0, 0);
}

static void on_creds_ready(void *ud)
{
    struct bedrock_call *c = ud;
    c->wait = NULL;
    defer(c, PL_OK);
}

static struct llm_call *bedrock_start(struct llm_provider *base, const struct prompt *req,
                                      const struct llm_sink *sink)
{
    struct bedrock_provider *p = (struct bedrock_provider *)base;
    struct bedrock_call *c = pl_calloc(1, sizeof(*c));
    llm_http_call_init(&c->http, base, sink, &call_ops);
    c->p = p;
    c->est_input_tokens = llm__estimate_tokens(req);
    pl_buf_init(&c->body, REQUEST_BODY_MAX);
    aws_es_decoder_init(&c->es, AWS_ES_MAX_FRAME);
    converse_stream_init(&c->converse);
    bedrock_invoke_stream_init(&c->invoke);
    anth_stream_init(&c->anth);
    struct bedrock_request_opts ro = {
        .model = p->super.model,
        .prompt_caching = p->prompt_caching,
        .guardrail = p->has_guardrail ? &p->guardrail : NULL,
    };
    if (bedrock_request_body(&c->body, p->api, req, &ro) != PL_OK) {
        PL_LOG(PL_LOG_ERR, "bedrock", "request body over %d bytes; not sent", REQUEST_BODY_MAX);
        call_free(c);
        return NULL;
    }
    int rc = try_send(c);
    if (rc == PL_EUPSTREAM) {
        defer(c, rc); /* told through on_finish, so the chain may retry or fall back */
    } else if (rc != PL_OK) {
        PL_LOG(PL_LOG_ERR, "bedrock", "%s", c->fail_detail);
        call_free(c);
        return NULL;
    }
    return &c->http.super;
}

static void bedrock_cancel(struct llm_call *call)
{
    struct bedrock_call *c = (struct bedrock_call *)call;
    if (c->http.xfer) {
        llm_http_call_cancel(call);
        return;
    }
    if (c->wait) {
        aws_credentials_wait_cancel(c->wait);
        c->wait = NULL;
    }
    if (c->defer)
        cancel_defer(c);
    finish_early(c, PL_ECANCELED, NULL);
}

#define INTERVENTIONS "parley_llm_guardrail_interventions_total"

static void bedrock_metrics(const struct llm_provider *base, struct pl_buf *out)
{
    const struct bedrock_provider *p = (const struct bedrock_provider *)base;
    /* One HELP and TYPE per family, however many bedrock providers the chain holds. */
    if (!out->data || !memmem(out->data, out->len, "# TYPE " INTERVENTIONS " ",
                              sizeof("# TYPE " INTERVENTIONS " ") - 1))
        pl_buf_append_str(out, "# HELP " INTERVENTIONS
                               " Answers a Bedrock guardrail ended (stop reason refusal).\n"
                               "# TYPE " INTERVENTIONS " counter\n");
    pl_buf_append_str(out, INTERVENTIONS "{provider=\"bedrock\",model=\"");
    pl_buf_append_prom_label(out, p->super.model);
    pl_buf_printf(out, "\"} %llu\n", p->guardrail_interventions);
}

static void bedrock_destroy(struct llm_provider *base)
{
    struct bedrock_provider *p = (struct bedrock_provider *)base;
    pl_free(p->url);
    pl_free(p->host);
    pl_free(p->path);
    pl_free(p->region);
    pl_sigv4_key_cache_free(p->sigv4_cache);
    if (p->api_key) {
        memset(p->api_key, 0, strlen(p->api_key));
        pl_free(p->api_key);
    }
    llm__provider_cleanup(base);
    pl_free(p);
}

static const struct llm_provider_ops bedrock_ops = {
    .kind = "bedrock",
    .start = bedrock_start,
    .cancel = bedrock_cancel,
    .destroy = bedrock_destroy,
    .write_metrics = bedrock_metrics,
};

struct llm_provider *llm__bedrock_create(const struct llm_env *env,
                                         const struct llm_provider_config *cfg, char *err,
                                         size_t errlen)
{
    enum bedrock_api api;
    if (bedrock_api_parse(cfg->bedrock_api ? cfg->bedrock_api : "converse", &api) != PL_OK) {
        snprintf(err, errlen, "--bedrock-api must be converse, invoke or messages");
        return NULL;
    }
    if (!cfg->region || !*cfg->region) {
        snprintf(err, errlen, "the bedrock provider needs a region (--aws-region)");
        return NULL;
    }
    bool has_key = cfg->bedrock_api_key && *cfg->bedrock_api_key;
    if (!has_key && !cfg->aws_credentials) {
        snprintf(err, errlen,
                 "the bedrock provider needs AWS credentials or AWS_BEARER_TOKEN_BEDROCK");
        return NULL;
    }
    struct bedrock_guardrail guardrail;
    bool has_guardrail = cfg->bedrock_guardrail && *cfg->bedrock_guardrail;
    if (has_guardrail &&
        bedrock_guardrail_parse(cfg->bedrock_guardrail, &guardrail, err, errlen) != PL_OK)
        return NULL;
    if (has_guardrail && api == BEDROCK_API_MESSAGES) {
        snprintf(err, errlen,
                 "--bedrock-guardrail needs --bedrock-api converse or invoke (the Messages API "
                 "takes no guardrail)");
        return NULL;
    }
    char *endpoint = NULL;
    if (cfg->bedrock_endpoint && *cfg->bedrock_endpoint) {
        endpoint = pl_strdup(cfg->bedrock_endpoint);
    } else {
        size_t n = strlen(cfg->region) + sizeof("https://bedrock-runtime..amazonaws.com");
        endpoint = pl_malloc(n);
        snprintf(endpoint, n, "https://bedrock-runtime.%s.amazonaws.com", cfg->region);
    }
    struct aws_endpoint ep;
    int parsed = aws_endpoint_parse(&ep, endpoint);
    pl_free(endpoint);
    if (parsed != PL_OK) {
        snprintf(err, errlen, "--bedrock-endpoint must be a URL such as https://host[:port]");
        return NULL;
    }
    const char *model = cfg->model ? cfg->model : llm_default_model("bedrock");
    struct pl_buf path;
    pl_buf_init(&path, PL_SIGV4_MAX_PATH);
    if (pl_buf_append_str(&path, ep.base_path) != PL_OK ||
        bedrock_request_path(&path, api, model) != PL_OK) {
        snprintf(err, errlen, "the bedrock model id is too long for a request path");
        pl_buf_cleanup(&path);
        aws_endpoint_cleanup(&ep);
        return NULL;
    }

    struct bedrock_provider *p = pl_calloc(1, sizeof(*p));
    llm__provider_init(&p->super, &bedrock_ops, "bedrock", model);
    p->http = env->http;
    p->loop = env->loop;
    p->api = api;
    p->host = pl_strdup(ep.authority);
    p->path = pl_strdup(path.data);
    size_t ulen = strlen(ep.origin) + path.len + 1;
    p->url = pl_malloc(ulen);
    snprintf(p->url, ulen, "%s%s", ep.origin, path.data);
    p->region = pl_strdup(cfg->region);
    p->api_key = has_key ? pl_strdup(cfg->bedrock_api_key) : NULL;
    p->creds = cfg->aws_credentials;
    p->sigv4_cache = has_key ? NULL : pl_sigv4_key_cache_new();
    p->has_guardrail = has_guardrail;
    if (has_guardrail)
        p->guardrail = guardrail;
    p->prompt_caching = cfg->bedrock_prompt_caching;
    p->timeouts = llm_http_timeouts_of(cfg);
    pl_buf_cleanup(&path);
    aws_endpoint_cleanup(&ep);
    return &p->super;
}
