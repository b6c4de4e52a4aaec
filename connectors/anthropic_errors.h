/* Classifies a non-200 answer of the Anthropic API (PROTOCOLS.md §1.3) into the error code
 * callers see, whether a retry may help, and the upstream's retry hint, following the official
 * SDKs' retry policy. */
#ifndef PARLEY_CONNECTORS_ANTHROPIC_ERRORS_H
#define PARLEY_CONNECTORS_ANTHROPIC_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

struct anth_http_error {
    const char *code; /* "rate_limited", "upstream_unavailable" or "upstream_error" */
    bool retryable;
    long retry_after_ms; /* the upstream's hint, or -1 */
    char detail[256];    /* "Anthropic API 529 overloaded_error: Overloaded" */
};

/** `body` may be anything (a 413 comes from a proxy as HTML); header values may be NULL when
 *  absent; `now_s` resolves an HTTP-date retry-after. */
void anth_classify_http_error(int status, const char *body, size_t len, const char *retry_after,
                              const char *retry_after_ms, const char *should_retry, long long now_s,
                              struct anth_http_error *out);

#endif
