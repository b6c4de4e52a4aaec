/* libFuzzer target for the classification of the model API's failures
 * (connectors/anthropic_errors.h): the status, the retry headers and the body of a non-200
 * answer come from the upstream or any proxy on the way (a 413 arrives as HTML), and an `error`
 * event's type and message from the stream. The input is text: a status line, then the
 * retry-after, retry-after-ms and x-should-retry header lines ("-" for an absent header), then
 * the body. The outcome must follow the documented rules: the error from the status, the
 * retry hint -1 or more, x-should-retry deciding when it says true or false, a terminated
 * detail line; the same body's error type and message, read as a stream error, too. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/anthropic_errors.h"
#include "tests/fuzz/fuzz_check.h"

#define NOW_S 1767225600LL

/* The next line of [*p, end) as a new string (NULL for "-"); *p moves past it. */
static char *next_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = pl_malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    if (strcmp(s, "-") == 0) {
        pl_free(s);
        return NULL;
    }
    return s;
}

static void check_outcome(const struct anth_http_error *e)
{
    CHECK(e->error == API_ERR_RATE_LIMITED || e->error == API_ERR_UPSTREAM_UNAVAILABLE ||
          e->error == API_ERR_UPSTREAM_ERROR);
    CHECK(e->retry_after_ms >= -1);
    CHECK(memchr(e->detail, '\0', sizeof(e->detail)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *status_line = next_line(&p, end);
    char *retry_after = next_line(&p, end);
    char *retry_after_ms = next_line(&p, end);
    char *should_retry = next_line(&p, end);
    char *body = pl_malloc((size_t)(end - p) + 1); /* a copy, so reading past it is caught */
    memcpy(body, p, (size_t)(end - p));
    size_t body_len = (size_t)(end - p);
    int status = status_line ? (int)strtol(status_line, NULL, 10) % 1000 : 500;

    struct anth_http_error e;
    anth_classify_http_error(status, body, body_len, retry_after, retry_after_ms, should_retry,
                             NOW_S, &e);
    check_outcome(&e);
    CHECK(strncmp(e.detail, "Anthropic API ", 14) == 0);
    if (status == 429)
        CHECK(e.error == API_ERR_RATE_LIMITED);
    else if (status == 408 || status == 409 || status >= 500)
        CHECK(e.error == API_ERR_UPSTREAM_UNAVAILABLE);
    else
        CHECK(e.error == API_ERR_UPSTREAM_ERROR);
    if (should_retry && !strcasecmp(should_retry, "true"))
        CHECK(e.retryable);
    else if (should_retry && !strcasecmp(should_retry, "false"))
        CHECK(!e.retryable);
    else if (status == 429)
        CHECK(e.retryable == (e.retry_after_ms >= 0));
    if (!retry_after && !retry_after_ms)
        CHECK(e.retry_after_ms == -1);

    /* The body's error, as an `error` event of a stream would carry it. */
    json_t *j = json_loadb(body, body_len, 0, NULL);
    json_t *err = json_object_get(j, "error");
    struct anth_http_error s;
    anth_classify_stream_error(json_string_value(json_object_get(err, "type")),
                               json_string_value(json_object_get(err, "message")), &s);
    check_outcome(&s);
    CHECK(s.retry_after_ms == -1 && strncmp(s.detail, "Anthropic stream error ", 23) == 0);
    CHECK(s.retryable == (s.error != API_ERR_UPSTREAM_ERROR));
    json_decref(j);

    pl_free(status_line);
    pl_free(retry_after);
    pl_free(retry_after_ms);
    pl_free(should_retry);
    pl_free(body);
    return 0;
}
