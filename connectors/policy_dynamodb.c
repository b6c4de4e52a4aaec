/* The DynamoDB policy source (policy_source.h): one GetItem per lookup, SigV4-signed, through
 * the non-blocking HTTP client, retried on throttling and server errors with backoff on a loop
 * timer, within a deadline. Results are handed over from a zero-delay timer, never from inside
 * the HTTP client's callbacks, because a caller may start a transfer of its own at once (the
 * turn starts the model's request), and the client refuses a start from its own callbacks. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/aws_request.h"
#include "connectors/aws_sigv4.h"
#include "connectors/dynamodb_item.h"
#include "connectors/http_client.h"
#include "connectors/policy_source.h"

#define TARGET_GET_ITEM "DynamoDB_20120810.GetItem"
#define CONTENT_TYPE    "application/x-amz-json-1.0"
#define LOGGED_CAUSES   16

/* Why a request failed, for the metrics' kind label. */
enum fail_kind {
    KIND_THROTTLED,   /* throughput or request limits: retried */
    KIND_SERVER,      /* 5xx, InternalServerError: retried */
    KIND_TABLE,       /* ResourceNotFoundException: the table is not there */
    KIND_VALIDATION,  /* ValidationException: key attribute or table shape */
    KIND_ACCESS,      /* AccessDeniedException */
    KIND_CREDENTIALS, /* signature, key id, token refused; or none to sign with */
    KIND_TIMEOUT,     /* no answer in time */
    KIND_CONNECTION,  /* cannot connect, or the connection broke */
    KIND_PROTOCOL,    /* an answer that is not DynamoDB's */
    KIND_OTHER,       /* any other refusal */
    KIND_COUNT
};

static const char *const kind_names[KIND_COUNT] = {
    "throttled",   "server",  "table_not_found", "validation", "access_denied",
    "credentials", "timeout", "connection",      "protocol",   "other"};

struct ddb_source;

struct ddb_get {
    struct ddb_source *s;
    struct ddb_get *prev, *next;
    char number[65];
    policy_source_cb cb;
    void *ud;
    unsigned attempt; /* requests sent so far */
    uint64_t started; /* loop time of the lookup's start */
    struct http_client_transfer *xfer;
    struct aws_credentials_wait *wait;
    uv_timer_t *timer; /* backoff, and the hand-over of the result */
    bool aborting;
    bool too_big; /* the reply passed DDB_REPLY_MAX */
    int http_status;
    struct pl_buf body;
    /* the result, once known */
    bool finished;
    int result;
    struct pl_buf record;
};

struct ddb_source {
    uv_loop_t *loop;
    struct http_client *http;
    struct aws_credentials *creds;
    char *url, *host, *region, *table, *attr;
    struct pl_sigv4_key_cache *sigv4;
    uint32_t attempt_timeout_ms, deadline_ms, max_attempts, backoff_base_ms;
    struct ddb_get *gets; /* in flight */
    bool stopped;
    bool logged_first;
    char logged[LOGGED_CAUSES][DDB_ERROR_NAME_MAX]; /* causes already explained in the log */
    /* metrics */
    uint64_t requests, retries, items, absent;
    uint64_t errors[KIND_COUNT];
};

/* ---- the log: each cause explained once ---- */

static bool first_time(struct ddb_source *s, const char *cause)
{
    for (int i = 0; i < LOGGED_CAUSES; i++) {
        if (!s->logged[i][0]) {
            snprintf(s->logged[i], sizeof(s->logged[i]), "%s", cause);
            return true;
        }
        if (!strcmp(s->logged[i], cause))
            return false;
    }
    return false; /* the table is full: enough has been said */
}

static enum fail_kind kind_of(const char *name, int http_status)
{
    if (!strcmp(name, "ProvisionedThroughputExceededException") ||
        !strcmp(name, "ThrottlingException") || !strcmp(name, "RequestLimitExceeded"))
        return KIND_THROTTLED;
    if (!strcmp(name, "ResourceNotFoundException"))
        return KIND_TABLE;
    if (!strcmp(name, "ValidationException"))
        return KIND_VALIDATION;
    if (!strcmp(name, "AccessDeniedException"))
        return KIND_ACCESS;
    if (!strcmp(name, "UnrecognizedClientException") ||
        !strcmp(name, "InvalidSignatureException") ||
        !strcmp(name, "MissingAuthenticationTokenException") ||
        !strcmp(name, "IncompleteSignatureException") || !strcmp(name, "ExpiredTokenException"))
        return KIND_CREDENTIALS;
    if (http_status >= 500 || !strcmp(name, "InternalServerError"))
        return KIND_SERVER;
    return KIND_OTHER;
}

/* What the operator should do about a refusal that retrying does not fix. */
static void explain(struct ddb_source *s, enum fail_kind kind, const char *name, const char *msg,
                    int http_status)
{
    if (!first_time(s, name[0] ? name : kind_names[kind]))
        return;
    switch (kind) {
    case KIND_TABLE:
        PL_LOG(PL_LOG_ERR, "policy",
               "DynamoDB has no table %s in region %s (%s): create it, or correct "
               "--policy-source, --aws-region or --dynamodb-endpoint; sessions bound to a policy "
               "get upstream_unavailable until then",
               s->table, s->region, s->url);
        break;
    case KIND_ACCESS:
        PL_LOG(PL_LOG_ERR, "policy",
               "DynamoDB refused GetItem on table %s (%s): the credentials (%s) need "
               "dynamodb:GetItem on the table's ARN (docs/security.md \"Policy records from "
               "DynamoDB\")",
               s->table, msg, aws_credentials_source_name(s->creds));
        break;
    case KIND_VALIDATION:
        PL_LOG(PL_LOG_ERR, "policy",
               "DynamoDB rejected GetItem on table %s (%s): --policy-key-attribute (%s) must be "
               "the table's partition key, of type string, and the table must have no sort key",
               s->table, msg, s->attr);
        break;
    case KIND_CREDENTIALS:
        PL_LOG(PL_LOG_ERR, "policy",
               "DynamoDB refused the request's credentials (%s: %s): check the AWS credentials "
               "(%s), their region %s and this machine's clock",
               name, msg, aws_credentials_source_name(s->creds), s->region);
        break;
    default:
        PL_LOG(PL_LOG_WARN, "policy", "DynamoDB GetItem on table %s failed: HTTP %d %s%s%s",
               s->table, http_status, name[0] ? name : kind_names[kind], msg[0] ? ": " : "", msg);
        break;
    }
}

/* ---- one lookup ---- */

static void on_timer_closed(uv_handle_t *h)
{
    pl_free(h);
}

static void release(struct ddb_get *g)
{
    struct ddb_source *s = g->s;
    if (g->prev)
        g->prev->next = g->next;
    else
        s->gets = g->next;
    if (g->next)
        g->next->prev = g->prev;
    uv_timer_stop(g->timer);
    uv_close((uv_handle_t *)g->timer, on_timer_closed);
    pl_buf_cleanup(&g->body);
    pl_buf_cleanup(&g->record);
    pl_free(g);
}

/* Tell the caller and release the lookup. */
static void deliver(struct ddb_get *g)
{
    policy_source_cb cb = g->cb;
    void *ud = g->ud;
    int result = g->result;
    struct pl_buf record = g->record; /* taken over: the lookup goes first */
    pl_buf_init(&g->record, 0);
    release(g);
    cb(ud, result, result == PL_OK ? record.data : NULL, result == PL_OK ? record.len : 0);
    pl_buf_cleanup(&record);
}

static void on_deliver(uv_timer_t *t)
{
    deliver(t->data);
}

/* The result is known: hand it over from the loop, outside every HTTP client callback. */
static void finish(struct ddb_get *g, int result)
{
    g->finished = true;
    g->result = result;
    uv_timer_start(g->timer, on_deliver, 0, 0);
}

static int send_attempt(struct ddb_get *g);

static void on_retry(uv_timer_t *t)
{
    struct ddb_get *g = t->data;
    int rc = send_attempt(g);
    if (rc != PL_OK)
        finish(g, rc);
}

/* Retry if attempts and time are left; false otherwise. */
static bool retry_later(struct ddb_get *g)
{
    struct ddb_source *s = g->s;
    if (g->attempt >= s->max_attempts)
        return false;
    uint32_t wait = pl_backoff_ms(g->attempt, s->backoff_base_ms, 1000, 50);
    uint64_t now = uv_now(s->loop);
    /* The next request must have its whole timeout before the deadline. */
    if (now + wait + s->attempt_timeout_ms > g->started + s->deadline_ms)
        return false;
    s->retries++;
    uv_timer_start(g->timer, on_retry, wait, 0);
    return true;
}

static int on_headers(void *ud, int status)
{
    struct ddb_get *g = ud;
    g->http_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct ddb_get *g = ud;
    if (pl_buf_append(&g->body, data, len) == PL_OK)
        return 0;
    g->too_big = true;
    return 1;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct ddb_get *g = ud;
    struct ddb_source *s = g->s;
    g->xfer = NULL;
    if (g->aborting)
        return; /* stop delivers */
    if (g->too_big)
        status = PL_ETOOBIG;
    if (status != PL_OK) {
        enum fail_kind kind = status == PL_ETIMEDOUT ? KIND_TIMEOUT
                              : status == PL_ETOOBIG ? KIND_PROTOCOL
                                                     : KIND_CONNECTION;
        s->errors[kind]++;
        if (kind != KIND_PROTOCOL && retry_later(g))
            return;
        if (first_time(s, kind_names[kind]))
            PL_LOG(PL_LOG_WARN, "policy", "DynamoDB at %s: %s (%s)", s->url,
                   kind == KIND_TIMEOUT ? "no answer in time" : "cannot be reached",
                   detail ? detail : pl_strerror(status));
        finish(g, kind == KIND_PROTOCOL ? PL_EPROTO : status);
        return;
    }
    if (g->http_status == 200) {
        char why[160];
        int rc = ddb_item_from_reply(g->body.data, g->body.len, &g->record, why, sizeof why);
        if (rc == PL_OK)
            s->items++;
        else if (rc == PL_ENOTFOUND)
            s->absent++;
        if (rc != PL_OK && rc != PL_ENOTFOUND) {
            s->errors[KIND_PROTOCOL]++;
            pl_buf_reset(&g->record);
            PL_LOG(PL_LOG_WARN, "policy", "DynamoDB table %s: policy %s's item is unusable: %s",
                   s->table, g->number, why);
            rc = PL_EPROTO;
        }
        finish(g, rc);
        return;
    }
    char name[DDB_ERROR_NAME_MAX], msg[DDB_ERROR_MESSAGE_MAX];
    ddb_error_parse(g->body.data, g->body.len, name, sizeof name, msg, sizeof msg);
    enum fail_kind kind = kind_of(name, g->http_status);
    s->errors[kind]++;
    if (ddb_error_retryable(name, g->http_status)) {
        if (retry_later(g))
            return;
        if (first_time(s, name[0] ? name : kind_names[kind]))
            PL_LOG(PL_LOG_WARN, "policy",
                   "DynamoDB table %s: still %s after %u attempts (HTTP %d); the lookup fails "
                   "(raise the table's capacity if this repeats)",
                   s->table, name[0] ? name : kind_names[kind], g->attempt, g->http_status);
    } else {
        explain(s, kind, name, msg, g->http_status);
    }
    finish(g, PL_EUPSTREAM);
}

/* Sign and start one request. PL_OK, or why not (logged). */
static int send_request(struct ddb_get *g, const struct pl_sigv4_creds *creds)
{
    struct ddb_source *s = g->s;
    struct pl_buf body;
    pl_buf_init(&body, 4096);
    if (ddb_get_item_body(&body, s->table, s->attr, g->number) != PL_OK) {
        pl_buf_cleanup(&body);
        return PL_EINVAL;
    }
    const struct pl_sigv4_header signed_h[] = {
        {"host", s->host},
        {"content-type", CONTENT_TYPE},
        {"x-amz-target", TARGET_GET_ITEM},
    };
    const size_t n = sizeof(signed_h) / sizeof(signed_h[0]);
    struct pl_sigv4_request sr = {
        .method = "POST",
        .path = "/",
        .headers = signed_h,
        .n_headers = n,
        .payload = body.data,
        .payload_len = body.len,
        .region = s->region,
        .service = "dynamodb",
        .time = time(NULL),
        .key_cache = s->sigv4,
    };
    struct aws_request_headers headers;
    int rc = aws_request_headers_sign(&headers, &sr, creds);
    if (rc != PL_OK) {
        aws_request_headers_cleanup(&headers);
        pl_buf_cleanup(&body);
        if (first_time(g->s, "signing"))
            PL_LOG(PL_LOG_ERR, "policy", "a DynamoDB request could not be signed (%s)",
                   pl_strerror(rc));
        return rc;
    }
    aws_request_headers_add(&headers, "user-agent: parley/" PARLEY_VERSION);
    aws_request_headers_add(&headers, "expect:"); /* no 100-continue round trip */
    if (!s->logged_first) {
        s->logged_first = true;
        PL_LOG(PL_LOG_NOTICE, "policy", "first DynamoDB GetItem: table %s at %s (%s)", s->table,
               s->url, aws_credentials_source_name(s->creds));
    }
    const struct http_client_request req = {
        .method = "POST",
        .url = s->url,
        .headers = headers.lines,
        .body = body.data,
        .body_len = body.len,
        .connect_timeout_ms = s->attempt_timeout_ms,
        .total_timeout_ms = s->attempt_timeout_ms,
    };
    static const struct http_client_callbacks cbs = {on_headers, on_data, on_done};
    pl_buf_reset(&g->body);
    g->http_status = 0;
    g->too_big = false;
    g->xfer = http_client_start(s->http, &req, &cbs, g);
    /* The signature and token go no further. */
    aws_request_headers_cleanup(&headers);
    pl_buf_cleanup(&body);
    if (!g->xfer)
        return PL_EIO;
    g->attempt++;
    s->requests++;
    return PL_OK;
}

/* Credentials arrived (perhaps from inside the HTTP client's callbacks, where no transfer may
 * start): send from the loop's next turn. */
static void on_creds_ready(void *ud)
{
    struct ddb_get *g = ud;
    g->wait = NULL;
    uv_timer_start(g->timer, on_retry, 0, 0);
}

/* Send with the current credentials, or wait for them. */
static int send_attempt(struct ddb_get *g)
{
    struct ddb_source *s = g->s;
    struct pl_sigv4_creds creds;
    const char *detail = NULL;
    int rc = aws_credentials_get(s->creds, &creds, &detail);
    if (rc == PL_OK)
        return send_request(g, &creds);
    if (rc == PL_EBUSY) {
        g->wait = aws_credentials_wait(s->creds, on_creds_ready, g);
        if (g->wait)
            return PL_OK;
    }
    s->errors[KIND_CREDENTIALS]++;
    if (first_time(s, "no credentials"))
        PL_LOG(PL_LOG_ERR, "policy", "no AWS credentials to read DynamoDB table %s with (%s): %s",
               s->table, aws_credentials_source_name(s->creds), detail ? detail : "none yet");
    return PL_EUPSTREAM;
}

static int ddb_get(void *impl, const char *number, policy_source_cb cb, void *ud)
{
    struct ddb_source *s = impl;
    if (s->stopped)
        return PL_ECLOSED;
    size_t len = strlen(number);
    if (len == 0 || len >= sizeof(((struct ddb_get *)0)->number))
        return PL_EINVAL;
    struct ddb_get *g = pl_calloc(1, sizeof(*g));
    g->s = s;
    memcpy(g->number, number, len + 1);
    g->cb = cb;
    g->ud = ud;
    g->started = uv_now(s->loop);
    pl_buf_init(&g->body, DDB_REPLY_MAX);
    pl_buf_init(&g->record, DDB_ITEM_MAX);
    g->timer = pl_malloc(sizeof(*g->timer));
    uv_timer_init(s->loop, g->timer);
    g->timer->data = g;
    g->next = s->gets;
    if (s->gets)
        s->gets->prev = g;
    s->gets = g;
    int rc = send_attempt(g);
    if (rc != PL_OK) {
        release(g);
        return rc;
    }
    return PL_OK;
}

static void ddb_stop(void *impl)
{
    struct ddb_source *s = impl;
    s->stopped = true;
    while (s->gets) {
        struct ddb_get *g = s->gets;
        if (g->xfer) {
            g->aborting = true;
            http_client_abort(g->xfer);
        }
        if (g->wait) {
            aws_credentials_wait_cancel(g->wait);
            g->wait = NULL;
        }
        uv_timer_stop(g->timer);
        if (!g->finished)
            g->result = PL_ECANCELED; /* a result already known is still told */
        g->finished = true;
        deliver(g);
    }
}

static void ddb_destroy(void *impl)
{
    struct ddb_source *s = impl;
    ddb_stop(s);
    pl_sigv4_key_cache_free(s->sigv4);
    pl_free(s->url);
    pl_free(s->host);
    pl_free(s->region);
    pl_free(s->table);
    pl_free(s->attr);
    pl_free(s);
}

static void ddb_metrics(void *impl, struct pl_buf *out)
{
    struct ddb_source *s = impl;
    pl_buf_append_str(out, "# HELP parley_dynamodb_requests_total DynamoDB GetItem requests sent "
                           "(retries included).\n"
                           "# TYPE parley_dynamodb_requests_total counter\n"
                           "parley_dynamodb_requests_total{table=\"");
    pl_buf_append_prom_label(out, s->table);
    pl_buf_printf(out,
                  "\"} %llu\n"
                  "# HELP parley_dynamodb_retries_total GetItem requests sent again after a "
                  "retryable failure.\n"
                  "# TYPE parley_dynamodb_retries_total counter\n"
                  "parley_dynamodb_retries_total %llu\n"
                  "# HELP parley_dynamodb_items_total GetItem answers, by whether the item "
                  "exists.\n"
                  "# TYPE parley_dynamodb_items_total counter\n"
                  "parley_dynamodb_items_total{found=\"true\"} %llu\n"
                  "parley_dynamodb_items_total{found=\"false\"} %llu\n"
                  "# HELP parley_dynamodb_errors_total Failed GetItem requests, by kind.\n"
                  "# TYPE parley_dynamodb_errors_total counter\n",
                  (unsigned long long)s->requests, (unsigned long long)s->retries,
                  (unsigned long long)s->items, (unsigned long long)s->absent);
    for (int k = 0; k < KIND_COUNT; k++)
        pl_buf_printf(out, "parley_dynamodb_errors_total{kind=\"%s\"} %llu\n", kind_names[k],
                      (unsigned long long)s->errors[k]);
}

static const struct policy_source_ops ddb_ops = {
    .kind = "dynamodb",
    .get = ddb_get,
    .stop = ddb_stop,
    .destroy = ddb_destroy,
    .metrics = ddb_metrics,
};

/* "scheme://authority[/]": the authority, or false for a URL with a path, query or user.
 * DynamoDB's API lives at "/", which is what is signed: the endpoint may add no path. */
static bool endpoint_host(const char *endpoint, char **host)
{
    struct aws_endpoint ep;
    if (aws_endpoint_parse(&ep, endpoint) != PL_OK)
        return false;
    const char *rest = endpoint + strlen(ep.origin);
    bool ok = ep.authority[strcspn(ep.authority, "@ ")] == '\0' && (!*rest || !strcmp(rest, "/"));
    if (ok)
        *host = pl_strdup(ep.authority);
    aws_endpoint_cleanup(&ep);
    return ok;
}

int policy_source_dynamodb_new(const struct policy_dynamodb_opts *o, struct policy_source **out,
                               char *err, size_t errlen)
{
    if (!ddb_table_name_valid(o->table)) {
        snprintf(err, errlen,
                 "--policy-source dynamodb:TABLE: \"%s\" is not a DynamoDB table name (3 to 255 "
                 "of A-Z a-z 0-9 _ . -) or table ARN",
                 o->table ? o->table : "");
        return PL_EINVAL;
    }
    if (!ddb_attribute_name_valid(o->key_attribute)) {
        snprintf(err, errlen,
                 "--policy-key-attribute must be an attribute name of 1 to 255 characters");
        return PL_EINVAL;
    }
    if (!o->region || !*o->region ||
        strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(o->region)) {
        snprintf(err, errlen,
                 "the DynamoDB policy source needs an AWS region such as eu-west-2 "
                 "(--aws-region or AWS_REGION)");
        return PL_EINVAL;
    }
    if (!o->creds) {
        snprintf(err, errlen, "the DynamoDB policy source needs AWS credentials");
        return PL_EINVAL;
    }
    char *url;
    if (o->endpoint && *o->endpoint) {
        url = pl_strdup(o->endpoint);
    } else {
        size_t n = strlen(o->region) + sizeof("https://dynamodb..amazonaws.com");
        url = pl_malloc(n);
        snprintf(url, n, "https://dynamodb.%s.amazonaws.com", o->region);
    }
    char *host = NULL;
    if (!endpoint_host(url, &host)) {
        snprintf(err, errlen,
                 "--dynamodb-endpoint must be a URL such as https://host[:port] (no path): "
                 "\"%s\"",
                 url);
        pl_free(url);
        return PL_EINVAL;
    }
    struct ddb_source *s = pl_calloc(1, sizeof(*s));
    s->loop = o->loop;
    s->http = o->http;
    s->creds = o->creds;
    s->url = url;
    s->host = host;
    s->region = pl_strdup(o->region);
    s->table = pl_strdup(o->table);
    s->attr = pl_strdup(o->key_attribute);
    s->sigv4 = pl_sigv4_key_cache_new();
    s->attempt_timeout_ms = o->attempt_timeout_ms ? o->attempt_timeout_ms : 2000;
    s->deadline_ms = o->deadline_ms ? o->deadline_ms : 5000;
    s->max_attempts = o->max_attempts ? o->max_attempts : 3;
    s->backoff_base_ms = o->backoff_base_ms ? o->backoff_base_ms : 50;
    char description[320];
    snprintf(description, sizeof description, "DynamoDB table %s", o->table);
    *out = policy_source_new(o->loop, &ddb_ops, s, &o->cache, description, false);
    return PL_OK;
}
