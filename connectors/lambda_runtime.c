/* The Lambda custom runtime API without I/O; see lambda_runtime.h. */
#include "connectors/lambda_runtime.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"

#define DEADLINE_DIGITS_MAX 15 /* epoch ms until the year 33658: no overflow */

void lambda_invocation_init(struct lambda_invocation *inv)
{
    memset(inv, 0, sizeof(*inv));
    inv->deadline_ms = -1;
}

static bool id_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* A header's value: after the colon, blanks trimmed at both ends (the CRLF too). */
static bool header_value(const char *line, size_t len, const char *name, const char **v,
                         size_t *vlen)
{
    size_t nlen = strlen(name);
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return false;
    const char *s = line + nlen + 1, *e = line + len;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *v = s;
    *vlen = (size_t)(e - s);
    return true;
}

void lambda_invocation_header(struct lambda_invocation *inv, const char *line, size_t len)
{
    const char *v;
    size_t n;
    if (header_value(line, len, "Lambda-Runtime-Aws-Request-Id", &v, &n)) {
        bool ok = n > 0 && n <= LAMBDA_REQUEST_ID_MAX;
        size_t dots = 0;
        for (size_t i = 0; ok && i < n; i++) {
            ok = id_byte(v[i]);
            dots += v[i] == '.';
        }
        /* "." or ".." alone would walk the URL path the id goes into */
        if (dots == n)
            ok = false;
        if (ok) {
            memcpy(inv->request_id, v, n);
            inv->request_id[n] = '\0';
        } else {
            inv->malformed = true;
        }
    } else if (header_value(line, len, "Lambda-Runtime-Deadline-Ms", &v, &n)) {
        bool ok = n > 0 && n <= DEADLINE_DIGITS_MAX;
        int64_t ms = 0;
        for (size_t i = 0; ok && i < n; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            ms = ms * 10 + (v[i] - '0');
        }
        if (ok)
            inv->deadline_ms = ms;
        else
            inv->malformed = true;
    } else if (header_value(line, len, "Lambda-Runtime-Trace-Id", &v, &n)) {
        bool ok = n <= LAMBDA_TRACE_ID_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = v[i] > ' ' && v[i] < 0x7f; /* it goes into an environment variable and a header */
        if (ok) {
            memcpy(inv->trace_id, v, n);
            inv->trace_id[n] = '\0';
        } else {
            inv->malformed = true;
        }
    }
}

int lambda_invocation_check(const struct lambda_invocation *inv, char *err, size_t errlen)
{
    if (inv->malformed) {
        pl_errf(err, errlen, "an invocation header is malformed");
        return PL_EPROTO;
    }
    if (!inv->request_id[0]) {
        pl_errf(err, errlen, "no Lambda-Runtime-Aws-Request-Id");
        return PL_EPROTO;
    }
    if (inv->deadline_ms < 0) {
        pl_errf(err, errlen, "no Lambda-Runtime-Deadline-Ms");
        return PL_EPROTO;
    }
    return PL_OK;
}

int lambda_runtime_url(char *out, size_t outlen, const char *api, enum lambda_endpoint endpoint,
                       const char *request_id)
{
    if (!api || !*api)
        return PL_EINVAL;
    for (const char *p = api; *p; p++)
        if (!id_byte(*p) && *p != ':' && *p != '[' && *p != ']')
            return PL_EINVAL;
    int n;
    switch (endpoint) {
    case LAMBDA_NEXT:
        n = snprintf(out, outlen, "http://%s/2018-06-01/runtime/invocation/next", api);
        break;
    case LAMBDA_INIT_ERROR:
        n = snprintf(out, outlen, "http://%s/2018-06-01/runtime/init/error", api);
        break;
    case LAMBDA_RESPONSE:
    case LAMBDA_ERROR:
        if (!request_id || !*request_id)
            return PL_EINVAL;
        n = snprintf(out, outlen, "http://%s/2018-06-01/runtime/invocation/%s/%s", api, request_id,
                     endpoint == LAMBDA_RESPONSE ? "response" : "error");
        break;
    default:
        return PL_EINVAL;
    }
    if (n < 0 || (size_t)n >= outlen)
        return PL_ETOOBIG;
    return PL_OK;
}

static char *dump_new(json_t *root, size_t *len)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *out = text ? pl_strdup(text) : NULL;
    free(text);
    if (out && len)
        *len = strlen(out);
    return out;
}

char *lambda_error_json(const char *type, const char *message)
{
    json_t *root = json_object();
    json_object_set_new(root, "errorMessage", json_string(message ? message : ""));
    json_object_set_new(root, "errorType", json_string(type ? type : ""));
    json_object_set_new(root, "stackTrace", json_array());
    return dump_new(root, NULL);
}

int lambda_event_read(const char *body, size_t len, struct lambda_event *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        pl_errf(err, errlen, "the event is not a JSON object");
        return PL_EINVAL;
    }
    bool connect = json_object_get(root, "Details") != NULL;
    bool lex = json_object_get(root, "sessionState") || json_object_get(root, "invocationSource") ||
               json_object_get(root, "bot");
    json_decref(root);
    if (connect) {
        if (connect_event_parse(body, len, &out->connect, err, errlen) != PL_OK)
            return PL_EINVAL;
        out->kind = LAMBDA_EVENT_CONNECT;
    } else if (lex) {
        if (lex_event_parse(body, len, &out->lex, err, errlen) != PL_OK)
            return PL_EINVAL;
        out->kind = LAMBDA_EVENT_LEX;
    } else {
        pl_errf(err, errlen, "the event is neither an Amazon Lex V2 nor an Amazon Connect event");
        return PL_EINVAL;
    }
    return PL_OK;
}

void lambda_event_cleanup(struct lambda_event *e)
{
    if (!e)
        return;
    if (e->kind == LAMBDA_EVENT_LEX)
        lex_event_cleanup(&e->lex);
    else if (e->kind == LAMBDA_EVENT_CONNECT)
        connect_event_cleanup(&e->connect);
    e->kind = LAMBDA_EVENT_UNKNOWN;
}

const char *lambda_event_kind_name(enum lambda_event_kind kind)
{
    switch (kind) {
    case LAMBDA_EVENT_LEX:
        return "lex";
    case LAMBDA_EVENT_CONNECT:
        return "connect";
    default:
        return "unknown";
    }
}

static bool host_byte(char c)
{
    return id_byte(c) && c != '_';
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int lambda_target_parse(const char *url, struct lambda_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (!url || !*url) {
        pl_errf(err, errlen, "PARLEY_WEBHOOK_URL is not set");
        return PL_EINVAL;
    }
    size_t n = strlen(url);
    if (n > LAMBDA_URL_MAX) {
        pl_errf(err, errlen, "PARLEY_WEBHOOK_URL is longer than %d bytes", LAMBDA_URL_MAX);
        return PL_EINVAL;
    }
    const char *host;
    if (strncasecmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        host = url + 7;
    else {
        pl_errf(err, errlen, "PARLEY_WEBHOOK_URL must begin with https:// or http://");
        return PL_EINVAL;
    }
    const char *p = host;
    while (*p && (host_byte(*p) || *p == ':' || *p == '[' || *p == ']'))
        p++;
    if (p == host || (*p && *p != '/')) {
        pl_errf(err, errlen, "PARLEY_WEBHOOK_URL has no host, or a host with a byte not allowed");
        return PL_EINVAL;
    }
    for (const char *q = p; *q; q++) {
        if (*q <= ' ' || *q >= 0x7f || *q == '?' || *q == '#' || *q == '\\') {
            pl_errf(err, errlen,
                    "PARLEY_WEBHOOK_URL's path has a blank, a control byte, a query or a fragment");
            return PL_EINVAL;
        }
    }
    memcpy(t->url, url, n + 1);
    /* Trailing slashes go first: "https://h/" and "https://h" are one base, and
     * "https://h/v1/lex/" one endpoint. */
    while (n > (size_t)(p - url) && t->url[n - 1] == '/')
        t->url[--n] = '\0';
    t->fixed = ends_with(t->url, n, "/v1/lex") || ends_with(t->url, n, "/v1/connect");
    return PL_OK;
}

int lambda_target_url(const struct lambda_target *t, enum lambda_event_kind kind, char *out,
                      size_t outlen)
{
    const char *path = "";
    if (!t->fixed) {
        if (kind == LAMBDA_EVENT_LEX)
            path = "/v1/lex";
        else if (kind == LAMBDA_EVENT_CONNECT)
            path = "/v1/connect";
        else
            return PL_EINVAL;
    }
    int n = snprintf(out, outlen, "%s%s", t->url, path);
    if (n < 0 || (size_t)n >= outlen)
        return PL_ETOOBIG;
    return PL_OK;
}

int64_t lambda_forward_budget_ms(int64_t deadline_ms, int64_t now_ms, int64_t margin_ms,
                                 int64_t cap_ms)
{
    if (deadline_ms <= now_ms)
        return 0;
    int64_t left = deadline_ms - now_ms;
    if (margin_ms > 0 && left <= margin_ms)
        return 0;
    if (margin_ms > 0)
        left -= margin_ms;
    if (cap_ms > 0 && left > cap_ms)
        left = cap_ms;
    return left;
}

int lambda_answer_check(enum lambda_event_kind kind, const char *body, size_t len, char *err,
                        size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    int rc = PL_EPROTO;
    if (!json_is_object(root)) {
        pl_errf(err, errlen, "the answer is not a JSON object");
        goto out;
    }
    if (kind == LAMBDA_EVENT_LEX) {
        json_t *type = json_object_get(
            json_object_get(json_object_get(root, "sessionState"), "dialogAction"), "type");
        if (!json_is_string(type)) {
            pl_errf(err, errlen, "the answer has no sessionState.dialogAction.type");
            goto out;
        }
    } else if (kind == LAMBDA_EVENT_CONNECT) {
        if (len >= 32 * 1024) {
            pl_errf(err, errlen, "the answer is 32 KB or more");
            goto out;
        }
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value)
        {
            if (!json_is_string(value)) {
                pl_errf(err, errlen, "the answer is not a flat map of strings");
                goto out;
            }
        }
    } else {
        pl_errf(err, errlen, "an answer to an event of no known kind");
        goto out;
    }
    rc = PL_OK;
out:
    json_decref(root);
    return rc;
}

const char *lambda_failure_name(enum lambda_failure f)
{
    switch (f) {
    case LAMBDA_FAIL_UNREACHABLE:
        return "unreachable";
    case LAMBDA_FAIL_TIMEOUT:
        return "timeout";
    case LAMBDA_FAIL_NO_TIME:
        return "no_time";
    case LAMBDA_FAIL_STATUS:
        return "http_status";
    case LAMBDA_FAIL_INVALID:
        return "invalid_response";
    }
    return "unreachable";
}

char *lambda_lex_fallback(const struct lex_event *e, const char *message, size_t *len)
{
    if (!message || !*message)
        return NULL;
    static const struct lex_attribute flag[] = {{"parley_error", "unavailable"}};
    struct lex_response r = {
        .action = LEX_CLOSE,
        .intent_state = "Failed",
        .text = message,
        .text_len = strlen(message),
        .set = flag,
        .n_set = PL_ARRAY_LEN(flag),
    };
    bool cut;
    return lex_response_json(e, &r, len, &cut);
}

char *lambda_connect_fallback(enum lambda_failure why, size_t *len)
{
    json_t *root = json_object();
    json_object_set_new(root, "error", json_string("unavailable"));
    json_object_set_new(root, "status", json_string("error"));
    json_object_set_new(root, "reason", json_string(lambda_failure_name(why)));
    return dump_new(root, len);
}
