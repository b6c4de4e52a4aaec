/* libFuzzer target for the classification of an OpenAI-compatible server's non-200 answers
 * (connectors/openai_errors.h): the status, the retry headers and the body come from the server
 * or any proxy on the way. The input is text: a status line, then the retry-after and
 * retry-after-ms header lines ("-" for an absent header), then the body. The outcome must follow
 * the documented rules: the error from the status, 408/409/5xx retryable, other non-429 statuses
 * final, the retry hint -1 or more (-1 without headers), a terminated detail line naming the
 * server; and the same input twice gives the same outcome. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "connectors/openai_errors.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *status_line = next_line(&p, end);
    char *retry_after = next_line(&p, end);
    char *retry_after_ms = next_line(&p, end);
    size_t body_len = (size_t)(end - p);
    char *body = pl_malloc(body_len + 1); /* a copy, unterminated, so reading past it is caught */
    memcpy(body, p, body_len);
    int status = status_line ? (int)(strtol(status_line, NULL, 10) % 1000) : 500;

    struct oai_http_error e, again;
    oai_classify_http_error(status, body, body_len, retry_after, retry_after_ms, NOW_S, &e);
    CHECK(memchr(e.detail, '\0', sizeof(e.detail)) != NULL);
    CHECK(strncmp(e.detail, "OpenAI-compatible server ", 25) == 0);
    CHECK(e.retry_after_ms >= -1);
    if (!retry_after && !retry_after_ms)
        CHECK(e.retry_after_ms == -1);
    if (status == 429) {
        CHECK(e.error == API_ERR_RATE_LIMITED);
    } else if (status == 408 || status == 409 || (status >= 500 && status <= 599)) {
        CHECK(e.error == API_ERR_UPSTREAM_UNAVAILABLE && e.retryable);
    } else {
        CHECK(e.error == API_ERR_UPSTREAM_ERROR && !e.retryable);
    }
    oai_classify_http_error(status, body, body_len, retry_after, retry_after_ms, NOW_S, &again);
    CHECK(memcmp(&e, &again, sizeof(e)) == 0);

    pl_free(status_line);
    pl_free(retry_after);
    pl_free(retry_after_ms);
    pl_free(body);
    return 0;
}
