/* libFuzzer target for the classification of Bedrock's failures before a stream
 * (connectors/bedrock_errors.h): the status, the x-amzn-ErrorType and Retry-After headers and the
 * body of a non-200 answer come from Bedrock or any proxy on the way. The input is text: a status
 * line, then the x-amzn-ErrorType and Retry-After header lines ("-" for an absent header), then
 * the body. The outcome must follow the documented table: the error from the status (and a 429's
 * exception name), retryable exactly for rate limits and unavailability, the retry hint -1 or at
 * most a day, the type and detail lines terminated and free of line breaks (they reach the log). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "connectors/bedrock_errors.h"
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

static bool terminated_one_line(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    return nul && !memchr(s, '\n', (size_t)(nul - s)) && !memchr(s, '\r', (size_t)(nul - s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *status_line = next_line(&p, end);
    char *error_type = next_line(&p, end);
    char *retry_after = next_line(&p, end);
    size_t body_len = (size_t)(end - p);
    char *body = pl_malloc(body_len + 1); /* a copy, so reading past it is caught */
    memcpy(body, p, body_len);
    int status = status_line ? (int)(strtol(status_line, NULL, 10) % 1000) : 500;

    struct bedrock_http_error e;
    bedrock_classify_http_error(status, error_type, body, body_len, retry_after, NOW_S, &e);
    CHECK(e.error == API_ERR_RATE_LIMITED || e.error == API_ERR_UPSTREAM_UNAVAILABLE ||
          e.error == API_ERR_UPSTREAM_ERROR);
    CHECK(e.retryable == (e.error != API_ERR_UPSTREAM_ERROR));
    CHECK(e.retry_after_ms == -1 || (e.retry_after_ms >= 0 && e.retry_after_ms <= 86400000L));
    if (!retry_after)
        CHECK(e.retry_after_ms == -1);
    CHECK(terminated_one_line(e.type, sizeof(e.type)));
    CHECK(terminated_one_line(e.detail, sizeof(e.detail)));
    CHECK(strncmp(e.detail, "Bedrock ", 8) == 0);
    if (status == 429)
        CHECK(e.error == API_ERR_RATE_LIMITED || !strcmp(e.type, "ModelNotReadyException"));
    else if (status == 408 || status >= 500)
        CHECK(e.error == API_ERR_UPSTREAM_UNAVAILABLE);
    else
        CHECK(e.error == API_ERR_UPSTREAM_ERROR);

    /* The same answer classified twice is the same. */
    struct bedrock_http_error again;
    bedrock_classify_http_error(status, error_type, body, body_len, retry_after, NOW_S, &again);
    CHECK(again.error == e.error && again.retryable == e.retryable &&
          again.retry_after_ms == e.retry_after_ms && !strcmp(again.type, e.type) &&
          !strcmp(again.detail, e.detail));

    pl_free(status_line);
    pl_free(error_type);
    pl_free(retry_after);
    pl_free(body);
    return 0;
}
