/* Embeddings calls on the loop; see embeddings.h. */
#include "connectors/embeddings.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/aws_request.h"
#include "connectors/aws_sigv4.h"
#include "connectors/embeddings_wire.h"
#include "connectors/http_client.h"

#define REPLY_MAX (32u * 1024 * 1024) /* 64 vectors of 8,192 numbers written out in JSON */

struct emb_client {
    uv_loop_t *loop;
    struct http_client *http;
    enum emb_provider provider;
    char *model, *id, *url, *host, *path, *region, *auth_header;
    unsigned dims;
    struct aws_credentials *creds;
    struct pl_sigv4_key_cache *sigv4_cache;
    struct emb_call *calls; /* in flight, for destroy */
    bool logged_first;
};

struct emb_call {
    struct emb_client *c; /* NULL once the client is gone */
    struct emb_call *prev, *next;
    emb_cb cb;
    void *ud;
    size_t n;
    struct pl_buf body;  /* the request */
    struct pl_buf reply; /* the answer's body */
    int http_status;
    struct http_client_transfer *xfer;
    struct aws_credentials_wait *wait;
    uv_timer_t timer; /* the deadline; also delivers a failure found before any transfer */
    bool finished;    /* the callback ran, or the call was cancelled */
    int pending;      /* a failure to deliver from the timer (0: none) */
    char detail[240];
};

/* A new string a + b + c. */
static char *concat3(const char *a, const char *b, const char *c)
{
    struct pl_buf s;
    pl_buf_init(&s, SIZE_MAX);
    pl_buf_append_str(&s, a);
    pl_buf_append_str(&s, b);
    pl_buf_append_str(&s, c);
    return pl_buf_take(&s);
}

int emb_client_create(uv_loop_t *loop, struct http_client *http, const struct emb_config *cfg,
                      struct emb_client **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->model || !*cfg->model) {
        snprintf(err, errlen, "--embeddings needs a model: bedrock:MODEL or openai:MODEL");
        return PL_EINVAL;
    }
    bool bedrock = cfg->provider == EMB_PROVIDER_BEDROCK;
    if (bedrock && cfg->dims != 256 && cfg->dims != 512 && cfg->dims != 1024) {
        snprintf(err, errlen, "--embeddings-dimensions must be 256, 512 or 1024 for Titan");
        return PL_EINVAL;
    }
    if (cfg->dims > EMB_DIMS_MAX) {
        snprintf(err, errlen, "--embeddings-dimensions is at most %u", EMB_DIMS_MAX);
        return PL_EINVAL;
    }
    bool has_key = cfg->api_key && *cfg->api_key;
    if (bedrock && (!cfg->region || !*cfg->region)) {
        snprintf(err, errlen, "the bedrock embeddings model needs a region (--aws-region)");
        return PL_EINVAL;
    }
    if (bedrock && !has_key && !cfg->creds) {
        snprintf(err, errlen,
                 "the bedrock embeddings model needs AWS credentials or AWS_BEARER_TOKEN_BEDROCK");
        return PL_EINVAL;
    }
    char *base_url;
    if (cfg->base_url && *cfg->base_url)
        base_url = pl_strdup(cfg->base_url);
    else if (bedrock)
        base_url = concat3("https://bedrock-runtime.", cfg->region, ".amazonaws.com");
    else {
        snprintf(err, errlen,
                 "the openai embeddings model needs --embeddings-base-url (or --openai-base-url)");
        return PL_EINVAL;
    }
    struct aws_endpoint ep;
    int parsed = aws_endpoint_parse(&ep, base_url);
    pl_free(base_url);
    if (parsed != PL_OK) {
        snprintf(err, errlen, "--embeddings-base-url must be a URL such as http://host:port/v1");
        return PL_EINVAL;
    }
    struct emb_client *c = pl_calloc(1, sizeof(*c));
    c->loop = loop;
    c->http = http;
    c->provider = cfg->provider;
    c->model = pl_strdup(cfg->model);
    c->id = concat3(bedrock ? "bedrock" : "openai", ":", cfg->model);
    c->dims = cfg->dims;
    struct pl_buf path;
    pl_buf_init(&path, PL_SIGV4_MAX_PATH);
    pl_buf_append_str(&path, ep.base_path);
    if (bedrock) {
        pl_buf_append_str(&path, "/model/");
        pl_sigv4_uri_encode(&path, cfg->model, strlen(cfg->model), false);
        pl_buf_append_str(&path, "/invoke");
    } else {
        pl_buf_append_str(&path, "/embeddings");
    }
    c->url = concat3(ep.origin, path.data ? path.data : "", "");
    c->path = pl_buf_take(&path);
    c->host = pl_strdup(ep.authority);
    aws_endpoint_cleanup(&ep);
    if (has_key)
        c->auth_header = concat3("authorization: Bearer ", cfg->api_key, "");
    if (bedrock) {
        c->region = pl_strdup(cfg->region);
        if (!has_key) {
            c->creds = cfg->creds;
            c->sigv4_cache = pl_sigv4_key_cache_new();
        }
    }
    *out = c;
    return PL_OK;
}

size_t emb_client_batch_max(const struct emb_client *c)
{
    return c->provider == EMB_PROVIDER_BEDROCK ? 1 : EMB_BATCH_MAX;
}

const char *emb_client_id(const struct emb_client *c)
{
    return c->id;
}

unsigned emb_client_dims(const struct emb_client *c)
{
    return c->dims;
}

/* ---- one call ---- */

static void on_timer_closed(uv_handle_t *h)
{
    struct emb_call *call = h->data;
    pl_buf_cleanup(&call->body);
    pl_buf_cleanup(&call->reply);
    pl_free(call);
}

static void unlink_call(struct emb_call *call)
{
    struct emb_client *c = call->c;
    if (!c)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->c = NULL;
}

/* Done with: no transfer, wait or timer left; freed once the timer handle is closed. */
static void release(struct emb_call *call)
{
    unlink_call(call);
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, on_timer_closed);
}

static void deliver(struct emb_call *call, const struct emb_result *r)
{
    if (call->finished)
        return;
    call->finished = true;
    if (call->wait) {
        aws_credentials_wait_cancel(call->wait);
        call->wait = NULL;
    }
    call->cb(call->ud, r);
}

static void fail(struct emb_call *call, int status, bool retryable, const char *detail)
{
    struct emb_result r = {.status = status,
                           .retryable = retryable,
                           .http_status = call->http_status,
                           .n = call->n,
                           .detail = detail};
    deliver(call, &r);
}

static void on_deadline(uv_timer_t *t)
{
    struct emb_call *call = t->data;
    if (call->pending) {
        fail(call, call->pending, call->pending != PL_EINVAL, call->detail);
    } else {
        snprintf(call->detail, sizeof(call->detail), "embeddings call timed out");
        fail(call, PL_ETIMEDOUT, true, call->detail);
    }
    if (call->xfer) {
        struct http_client_transfer *x = call->xfer;
        call->xfer = NULL;
        http_client_abort(x); /* on_done sees finished: nothing more */
    }
    release(call);
}

/* A failure found before a transfer: told from the timer, never inside emb_start. */
static void fail_later(struct emb_call *call, int status, const char *detail)
{
    call->pending = status;
    snprintf(call->detail, sizeof(call->detail), "%s", detail);
    uv_timer_start(&call->timer, on_deadline, 0, 0);
}

static int on_headers(void *ud, int status)
{
    struct emb_call *call = ud;
    call->http_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct emb_call *call = ud;
    return pl_buf_append(&call->reply, data, len) == PL_OK ? 0 : 1;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct emb_call *call = ud;
    call->xfer = NULL;
    if (call->finished) /* timed out or cancelled: the abort's own on_done */
        return;
    struct emb_client *c = call->c;
    if (status != PL_OK) {
        snprintf(call->detail, sizeof(call->detail), "embeddings request failed: %s",
                 detail ? detail : pl_strerror(status));
        fail(call, status == PL_ETIMEDOUT ? PL_ETIMEDOUT : PL_EIO, true, call->detail);
    } else if (call->http_status != 200) {
        struct emb_http_error e;
        emb_classify_http_error(call->http_status, call->reply.data, call->reply.len, &e);
        snprintf(call->detail, sizeof(call->detail), "%s", e.detail);
        fail(call, PL_EUPSTREAM, e.retryable, call->detail);
    } else {
        unsigned dims = c ? c->dims : 0;
        float *vecs = NULL;
        int rc;
        if (c && c->provider == EMB_PROVIDER_BEDROCK) {
            vecs = pl_malloc(dims * sizeof(float));
            rc = emb_titan_parse(call->reply.data, call->reply.len, dims, vecs);
        } else {
            rc = emb_openai_parse(call->reply.data, call->reply.len, call->n, &dims, &vecs);
        }
        if (rc != PL_OK || !c) {
            snprintf(call->detail, sizeof(call->detail),
                     "embeddings reply not understood (%zu bytes)", call->reply.len);
            fail(call, PL_EPROTO, false, call->detail);
        } else {
            if (!c->dims)
                c->dims = dims; /* the model's own length, from now on */
            struct emb_result r = {
                .status = PL_OK, .http_status = 200, .n = call->n, .dims = dims, .vecs = vecs};
            deliver(call, &r);
        }
        pl_free(vecs);
    }
    release(call);
}

static const struct http_client_callbacks xfer_cbs = {on_headers, on_data, on_done};

/* Sign (or add the bearer key) and start the transfer. */
static void send_request(struct emb_call *call, const struct pl_sigv4_creds *creds)
{
    struct emb_client *c = call->c;
    struct pl_sigv4_header signed_h[3] = {
        {"host", c->host}, {"content-type", "application/json"}, {"accept", "application/json"}};
    /* Unsigned (a bearer key, or none), host is left to curl. */
    struct pl_sigv4_request sr = {
        .method = "POST",
        .path = c->path,
        .headers = creds ? signed_h : signed_h + 1,
        .n_headers = creds ? 3 : 2,
        .payload = call->body.data,
        .payload_len = call->body.len,
        .region = c->region,
        .service = "bedrock",
        .time = time(NULL),
        .key_cache = c->sigv4_cache,
    };
    struct aws_request_headers headers;
    if (aws_request_headers_sign(&headers, &sr, creds) != PL_OK) {
        aws_request_headers_cleanup(&headers);
        fail_later(call, PL_EAUTH, "embeddings request could not be signed");
        return;
    }
    if (!creds && c->auth_header)
        aws_request_headers_add(&headers, c->auth_header);
    aws_request_headers_add(&headers, "user-agent: parley/" PARLEY_VERSION);
    if (!c->logged_first) {
        c->logged_first = true;
        PL_LOG(PL_LOG_NOTICE, "kb", "first embeddings request: POST %s (%s)", c->url,
               creds            ? aws_credentials_source_name(c->creds)
               : c->auth_header ? "with an API key"
                                : "no key");
    }
    struct http_client_request req = {.method = "POST",
                                      .url = c->url,
                                      .headers = headers.lines,
                                      .body = call->body.data,
                                      .body_len = call->body.len};
    call->xfer = http_client_start(c->http, &req, &xfer_cbs, call);
    aws_request_headers_cleanup(&headers); /* the signature goes no further */
    if (!call->xfer)
        fail_later(call, PL_EIO, "embeddings request could not be started");
}

static void on_creds_ready(void *ud)
{
    struct emb_call *call = ud;
    call->wait = NULL;
    struct pl_sigv4_creds creds;
    const char *detail = NULL;
    if (call->c && aws_credentials_get(call->c->creds, &creds, &detail) == PL_OK)
        send_request(call, &creds);
    else
        fail_later(call, PL_EAUTH, "AWS credentials unavailable for the embeddings model");
}

struct emb_call *emb_start(struct emb_client *c, const char *const *texts, const size_t *lens,
                           size_t n, uint32_t timeout_ms, emb_cb cb, void *ud)
{
    if (!c || !cb || n == 0 || n > emb_client_batch_max(c))
        return NULL;
    struct emb_call *call = pl_calloc(1, sizeof(*call));
    pl_buf_init(&call->body, SIZE_MAX);
    pl_buf_init(&call->reply, REPLY_MAX);
    int rc = c->provider == EMB_PROVIDER_BEDROCK
                 ? emb_titan_request(&call->body, texts[0], lens[0], c->dims)
                 : emb_openai_request(&call->body, c->model, texts, lens, n, c->dims);
    if (rc != PL_OK) {
        pl_buf_cleanup(&call->body);
        pl_buf_cleanup(&call->reply);
        pl_free(call);
        return NULL;
    }
    call->c = c;
    call->cb = cb;
    call->ud = ud;
    call->n = n;
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    uv_timer_init(c->loop, &call->timer);
    call->timer.data = call;
    uv_timer_start(&call->timer, on_deadline, timeout_ms ? timeout_ms : 30000, 0);
    if (c->creds) {
        struct pl_sigv4_creds creds;
        const char *detail = NULL;
        rc = aws_credentials_get(c->creds, &creds, &detail);
        if (rc == PL_OK)
            send_request(call, &creds);
        else if (rc == PL_EBUSY &&
                 (call->wait = aws_credentials_wait(c->creds, on_creds_ready, call)) != NULL)
            ;
        else
            fail_later(call, PL_EAUTH, "AWS credentials unavailable for the embeddings model");
    } else {
        send_request(call, NULL);
    }
    return call;
}

void emb_cancel(struct emb_call *call)
{
    if (!call || call->finished)
        return;
    call->finished = true;
    if (call->wait) {
        aws_credentials_wait_cancel(call->wait);
        call->wait = NULL;
    }
    if (call->xfer) {
        struct http_client_transfer *x = call->xfer;
        call->xfer = NULL;
        http_client_abort(x);
    }
    release(call);
}

void emb_client_destroy(struct emb_client *c)
{
    if (!c)
        return;
    while (c->calls)
        emb_cancel(c->calls);
    if (c->auth_header) {
        memset(c->auth_header, 0, strlen(c->auth_header));
        pl_free(c->auth_header);
    }
    pl_sigv4_key_cache_free(c->sigv4_cache);
    pl_free(c->model);
    pl_free(c->id);
    pl_free(c->url);
    pl_free(c->host);
    pl_free(c->path);
    pl_free(c->region);
    pl_free(c);
}
