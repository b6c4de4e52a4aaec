/* parley-lambda: an AWS Lambda custom-runtime `bootstrap` (PROTOCOLS.md 6H, docs/lambda.md) that
 * takes each Amazon Lex V2 or Amazon Connect invocation from the Lambda Runtime API, forwards the
 * event unchanged and signed (bot/webhook_sig.h) to Parley's /v1/lex or /v1/connect, and hands
 * Parley's answer back; when Parley cannot answer in time, a fallback the bot or the flow can go
 * on with (connectors/lambda_runtime.h). Its own process, frozen between invocations, one
 * invocation at a time: blocking libcurl easy calls are right here (this is not the server). */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bot/webhook_sig.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "connectors/lambda_runtime.h"

#define COMP "lambda"
/* Exit codes: the set-up was refused (reported to /runtime/init/error), the Runtime API failed. */
#define EXIT_INIT    1
#define EXIT_RUNTIME 2
/* Shortest secret taken: an HMAC key shorter than this is guessable. */
#define SECRET_MIN 16
/* A kept connection to Parley idle longer than this is not reused: the process may have been
 * frozen meanwhile, and a NAT or load balancer may have dropped it without a word. */
#define CONN_MAX_AGE_S 30L

struct settings {
    const char *api; /* AWS_LAMBDA_RUNTIME_API */
    struct lambda_target target;
    char *secret; /* copied out of the environment, which is then cleared of it */
    size_t secret_len;
    const char *lex_message;
    int64_t margin_ms, cap_ms;
    const char *ca_bundle; /* NULL: libcurl's own */
};

struct reply {
    long status;
    struct pl_buf body;
    struct lambda_invocation *inv; /* headers are read into it when not NULL */
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: parley-lambda (as the bootstrap of an AWS Lambda function; docs/lambda.md)\n\n"
        "Forwards each Amazon Lex V2 or Amazon Connect event, signed, to Parley and returns\n"
        "Parley's answer, or a fallback when Parley cannot answer in time. Environment:\n"
        "  PARLEY_WEBHOOK_URL           Parley's endpoint (https://HOST/v1/lex or /v1/connect)\n"
        "                               or its base URL (the path follows the event's kind)\n"
        "  PARLEY_WEBHOOK_SECRET        the signed-webhook secret (at least %d bytes)\n"
        "  PARLEY_LEX_FALLBACK_MESSAGE  what a Lex caller hears when Parley cannot answer\n"
        "                               (default \"%s\")\n"
        "  PARLEY_LAMBDA_MARGIN_MS      time kept back from the deadline (default %d)\n"
        "  PARLEY_FORWARD_TIMEOUT_MS    most time given to Parley (default: up to the margin)\n"
        "  PARLEY_CA_BUNDLE             CA certificates for https (default: the system's)\n"
        "  PARLEY_LOG_FORMAT            text or json (default text)\n"
        "  AWS_LAMBDA_RUNTIME_API       set by Lambda\n",
        SECRET_MIN, LAMBDA_LEX_FALLBACK_DEFAULT, LAMBDA_MARGIN_MS_DEFAULT);
}

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    return pl_buf_append(&r->body, p, size * n) == PL_OK ? size * n : 0; /* 0: too big, stop */
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    if (r->inv)
        lambda_invocation_header(r->inv, p, size * n);
    return size * n;
}

static void reply_init(struct reply *r, struct lambda_invocation *inv)
{
    r->status = 0;
    pl_buf_init(&r->body, LAMBDA_PAYLOAD_MAX);
    r->inv = inv;
}

/* One blocking request on `h` (its connections kept). `body` NULL: a GET. timeout_ms 0: none
 * (GET /next waits as long as Lambda keeps the process frozen). */
static CURLcode request(CURL *h, const char *url, struct curl_slist *headers, const char *body,
                        size_t len, long timeout_ms, const char *ca_bundle, struct reply *r)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, CONN_MAX_AGE_S);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "parley-lambda/" PARLEY_VERSION);
    if (headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (timeout_ms > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    }
    if (ca_bundle)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    return rc;
}

/* POST a result or an error report to the Runtime API. 0 when it took it (202); EXIT_RUNTIME
 * when the runtime must exit (a 500, or no Runtime API at all); else -1 (logged, go on). */
static int runtime_post(CURL *h, const struct settings *s, enum lambda_endpoint ep, const char *id,
                        const char *error_type, const char *body, size_t len)
{
    char url[LAMBDA_URL_MAX + 1];
    if (lambda_runtime_url(url, sizeof url, s->api, ep, id) != PL_OK)
        return EXIT_RUNTIME;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (error_type) {
        char line[256];
        snprintf(line, sizeof line, "Lambda-Runtime-Function-Error-Type: %s", error_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    struct reply r;
    reply_init(&r, NULL);
    CURLcode rc = request(h, url, hdrs, body, len, 0, NULL, &r);
    curl_slist_free_all(hdrs);
    pl_buf_cleanup(&r.body);
    if (rc != CURLE_OK) {
        PL_LOG(PL_LOG_ERR, COMP, "the Runtime API is unreachable: %s", curl_easy_strerror(rc));
        return EXIT_RUNTIME;
    }
    if (r.status == 202)
        return 0;
    PL_LOG(PL_LOG_ERR, COMP, "the Runtime API answered %ld to a POST", r.status);
    return r.status >= 500 ? EXIT_RUNTIME : -1;
}

static int report_error(CURL *h, const struct settings *s, enum lambda_endpoint ep, const char *id,
                        const char *type, const char *message)
{
    char *body = lambda_error_json(type, message);
    int rc = runtime_post(h, s, ep, id, type, body, strlen(body));
    pl_free(body);
    return rc;
}

static bool env_ms(const char *name, int64_t max, int64_t *out, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return true;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0 || n > max) {
        pl_errf(err, errlen, "%s must be a whole number of milliseconds from 0 to %" PRId64, name,
                max);
        return false;
    }
    *out = n;
    return true;
}

static const char *first_readable(const char *const *paths)
{
    for (; *paths; paths++)
        if (access(*paths, R_OK) == 0)
            return *paths;
    return NULL;
}

/* Read the environment. PL_OK, or PL_EINVAL with a message for /runtime/init/error. */
static int settings_read(struct settings *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->margin_ms = LAMBDA_MARGIN_MS_DEFAULT;
    s->api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (lambda_target_parse(getenv("PARLEY_WEBHOOK_URL"), &s->target, err, errlen) != PL_OK)
        return PL_EINVAL;
    const char *secret = getenv("PARLEY_WEBHOOK_SECRET");
    if (!secret || strlen(secret) < SECRET_MIN) {
        pl_errf(err, errlen, "PARLEY_WEBHOOK_SECRET must be set, at least %d bytes", SECRET_MIN);
        return PL_EINVAL;
    }
    s->secret = pl_strdup(secret);
    s->secret_len = strlen(secret);
    unsetenv("PARLEY_WEBHOOK_SECRET"); /* nothing else in the process needs to see it */
    s->lex_message = getenv("PARLEY_LEX_FALLBACK_MESSAGE");
    if (!s->lex_message || !*s->lex_message)
        s->lex_message = LAMBDA_LEX_FALLBACK_DEFAULT;
    size_t mlen = strlen(s->lex_message);
    if (!pl_utf8_valid(s->lex_message, mlen) ||
        pl_utf8_count(s->lex_message, mlen) > LEX_MESSAGE_MAX_CHARS) {
        pl_errf(err, errlen, "PARLEY_LEX_FALLBACK_MESSAGE must be UTF-8 of at most %d characters",
                LEX_MESSAGE_MAX_CHARS);
        return PL_EINVAL;
    }
    if (!env_ms("PARLEY_LAMBDA_MARGIN_MS", 60000, &s->margin_ms, err, errlen) ||
        !env_ms("PARLEY_FORWARD_TIMEOUT_MS", 900000, &s->cap_ms, err, errlen))
        return PL_EINVAL;
    /* Debian's libcurl looks for Debian's bundle; Amazon Linux 2023 keeps it elsewhere. */
    static const char *const bundles[] = {"/etc/pki/tls/certs/ca-bundle.crt",
                                          "/etc/ssl/certs/ca-certificates.crt", NULL};
    const char *ca = getenv("PARLEY_CA_BUNDLE");
    s->ca_bundle = ca && *ca ? ca : first_readable(bundles);
    return PL_OK;
}

/* Forward the event to Parley. PL_OK with Parley's answer in `r`, or the failure in `why`. */
static int forward(CURL *h, const struct settings *s, const struct lambda_invocation *inv,
                   enum lambda_event_kind kind, const char *event, size_t len, struct reply *r,
                   enum lambda_failure *why, char *detail, size_t detail_len)
{
    int64_t budget =
        lambda_forward_budget_ms(inv->deadline_ms, epoch_ms(), s->margin_ms, s->cap_ms);
    if (budget == 0) {
        *why = LAMBDA_FAIL_NO_TIME;
        return PL_ETIMEDOUT;
    }
    char url[LAMBDA_URL_MAX + 32];
    if (lambda_target_url(&s->target, kind, url, sizeof url) != PL_OK) {
        *why = LAMBDA_FAIL_UNREACHABLE;
        return PL_EINVAL;
    }
    char ts[24], sig[WEBHOOK_SIG_HEX_LEN + 1], line[128];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    webhook_sign(s->secret, s->secret_len, ts, event, len, sig);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    snprintf(line, sizeof line, "X-Parley-Timestamp: %s", ts);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "X-Parley-Signature: v1=%s", sig);
    hdrs = curl_slist_append(hdrs, line);
    const char *trace = getenv("_X_AMZN_TRACE_ID"); /* as exported for this invocation */
    if (trace && *trace) {
        char tline[LAMBDA_TRACE_ID_MAX + 32];
        snprintf(tline, sizeof tline, "X-Amzn-Trace-Id: %s", trace);
        hdrs = curl_slist_append(hdrs, tline);
    }
    CURLcode rc = request(h, url, hdrs, event, len, (long)budget, s->ca_bundle, r);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *why = LAMBDA_FAIL_TIMEOUT;
        return PL_ETIMEDOUT;
    }
    if (rc != CURLE_OK) {
        *why = rc == CURLE_WRITE_ERROR ? LAMBDA_FAIL_INVALID : LAMBDA_FAIL_UNREACHABLE;
        return PL_EIO;
    }
    if (r->status < 200 || r->status > 299) {
        *why = LAMBDA_FAIL_STATUS;
        return PL_EUPSTREAM;
    }
    if (lambda_answer_check(kind, r->body.data ? r->body.data : "", r->body.len, detail,
                            detail_len) != PL_OK) {
        *why = LAMBDA_FAIL_INVALID;
        return PL_EPROTO;
    }
    return PL_OK;
}

/* One invocation, from its event to the Runtime API's acknowledgement. 0 to go on, or the
 * process's exit code. */
static int invoke(CURL *rt, CURL *parley, const struct settings *s, struct lambda_invocation *inv,
                  const char *event, size_t len)
{
    int64_t started = mono_ms();
    if (inv->trace_id[0])
        setenv("_X_AMZN_TRACE_ID", inv->trace_id, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
    struct lambda_event e;
    char err[256] = "";
    if (lambda_event_read(event, len, &e, err, sizeof err) != PL_OK) {
        lambda_event_cleanup(&e);
        int rc = report_error(rt, s, LAMBDA_ERROR, inv->request_id, "Parley.UnknownEvent", err);
        PL_LOG(PL_LOG_NOTICE, COMP,
               "request_id=%s kind=unknown status=0 outcome=error duration_ms=%" PRId64,
               inv->request_id, mono_ms() - started);
        return rc > 0 ? rc : 0;
    }
    struct reply r;
    reply_init(&r, NULL);
    enum lambda_failure why = LAMBDA_FAIL_UNREACHABLE;
    char detail[128] = "";
    int fw = forward(parley, s, inv, e.kind, event, len, &r, &why, detail, sizeof detail);
    int rc;
    if (fw == PL_OK) {
        rc = runtime_post(rt, s, LAMBDA_RESPONSE, inv->request_id, NULL, r.body.data, r.body.len);
        PL_LOG(PL_LOG_NOTICE, COMP,
               "request_id=%s kind=%s status=%ld outcome=forwarded duration_ms=%" PRId64,
               inv->request_id, lambda_event_kind_name(e.kind), r.status, mono_ms() - started);
    } else {
        size_t flen = 0;
        char *fallback = e.kind == LAMBDA_EVENT_LEX
                             ? lambda_lex_fallback(&e.lex, s->lex_message, &flen)
                             : lambda_connect_fallback(why, &flen);
        if (fallback) /* always, since the Lex message is never empty */
            rc = runtime_post(rt, s, LAMBDA_RESPONSE, inv->request_id, NULL, fallback, flen);
        else
            rc = report_error(rt, s, LAMBDA_ERROR, inv->request_id, "Parley.Unavailable",
                              "Parley did not answer and no fallback could be written");
        pl_free(fallback);
        PL_LOG(PL_LOG_WARN, COMP,
               "request_id=%s kind=%s status=%ld outcome=fallback reason=%s duration_ms=%" PRId64
               "%s%s",
               inv->request_id, lambda_event_kind_name(e.kind), r.status, lambda_failure_name(why),
               mono_ms() - started, detail[0] ? " detail=" : "", detail);
    }
    pl_buf_cleanup(&r.body);
    lambda_event_cleanup(&e);
    return rc > 0 ? rc : 0;
}

static int run(const struct settings *s, CURL *rt, CURL *parley)
{
    char next[LAMBDA_URL_MAX + 1];
    if (lambda_runtime_url(next, sizeof next, s->api, LAMBDA_NEXT, NULL) != PL_OK)
        return EXIT_RUNTIME;
    for (;;) {
        struct lambda_invocation inv;
        lambda_invocation_init(&inv);
        struct reply r;
        reply_init(&r, &inv);
        CURLcode crc = request(rt, next, NULL, NULL, 0, 0, NULL, &r);
        int rc = 0;
        char err[128];
        if (crc != CURLE_OK || r.status != 200) {
            PL_LOG(PL_LOG_ERR, COMP, "GET /next failed (%s, status %ld): exiting",
                   crc != CURLE_OK ? curl_easy_strerror(crc) : "answered", r.status);
            rc = EXIT_RUNTIME;
        } else if (lambda_invocation_check(&inv, err, sizeof err) != PL_OK) {
            PL_LOG(PL_LOG_ERR, COMP, "invocation refused: %s", err);
            /* Without a usable id nothing can be answered; with one, say why. */
            if (inv.request_id[0] && !inv.malformed)
                rc = report_error(rt, s, LAMBDA_ERROR, inv.request_id, "Parley.BadInvocation", err);
            else
                rc = EXIT_RUNTIME;
            rc = rc > 0 ? rc : 0;
        } else {
            rc = invoke(rt, parley, s, &inv, r.body.data ? r.body.data : "", r.body.len);
        }
        pl_buf_cleanup(&r.body);
        if (rc)
            return rc;
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("parley-lambda %s\n", PARLEY_VERSION);
        return 0;
    }
    const char *format = getenv("PARLEY_LOG_FORMAT");
    pl_log_setup(PL_LOG_NOTICE, format && !strcmp(format, "json") ? PL_LOG_JSON : PL_LOG_TEXT);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_INIT;
    CURL *rt = curl_easy_init(), *parley = curl_easy_init();
    struct settings s;
    char err[256] = "";
    int rc;
    if (settings_read(&s, err, sizeof err) != PL_OK) {
        PL_LOG(PL_LOG_ERR, COMP, "set-up refused: %s", err);
        if (s.api && *s.api)
            report_error(rt, &s, LAMBDA_INIT_ERROR, NULL, "Parley.ConfigError", err);
        rc = EXIT_INIT;
    } else if (!s.api || !*s.api) {
        PL_LOG(PL_LOG_ERR, COMP, "AWS_LAMBDA_RUNTIME_API is not set: not running in Lambda");
        rc = EXIT_INIT;
    } else {
        PL_LOG(PL_LOG_NOTICE, COMP, "parley-lambda %s forwarding to %s%s", PARLEY_VERSION,
               s.target.url, s.target.fixed ? "" : " (+ /v1/lex or /v1/connect)");
        rc = run(&s, rt, parley);
    }
    if (s.secret) {
        memset(s.secret, 0, s.secret_len);
        pl_free(s.secret);
    }
    curl_easy_cleanup(rt);
    curl_easy_cleanup(parley);
    curl_global_cleanup();
    return rc;
}
