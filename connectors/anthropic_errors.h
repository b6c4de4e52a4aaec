/* Classifies the Anthropic API's failures into the situation callers are told (common/api_error.h),
 * whether a retry may help, and the upstream's retry hint: a non-200 answer by its status and
 * headers, following the official SDKs' retry policy, and an `error` event inside a 200 stream by
 * its type. Every rule of which Anthropic failures are transient lives here
 * (docs/upstream-anthropic.md, Errors and Retries). */
#ifndef PARLEY_CONNECTORS_ANTHROPIC_ERRORS_H
#define PARLEY_CONNECTORS_ANTHROPIC_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/api_error.h"

/* One classified failure (of either kind, despite the name). */
struct anth_http_error {
    enum api_error error; /* API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE or _UPSTREAM_ERROR */
    bool retryable;       /* the same request may succeed later */
    long retry_after_ms;  /* the upstream's hint (at most a day), or -1 */
    char detail[256];     /* "Anthropic API 529 overloaded_error: Overloaded" */
};

/** Classify a non-200 answer. `body` may be anything (a 413 comes from a proxy as HTML); header
 *  values may be NULL when absent; `now_s` resolves an HTTP-date retry-after. 429 is
 *  API_ERR_RATE_LIMITED (retryable only with a retry-after); 408, 409 and 5xx
 *  API_ERR_UPSTREAM_UNAVAILABLE (retryable); other statuses API_ERR_UPSTREAM_ERROR (final).
 *  x-should-retry, when "true" or "false", decides retryable over all of these. */
void anth_classify_http_error(int status, const char *body, size_t len, const char *retry_after,
                              const char *retry_after_ms, const char *should_retry, long long now_s,
                              struct anth_http_error *out);

/** Classify an `error` event of a 200 stream by its error `type` and `message` (either may be
 *  NULL). overloaded_error, api_error, rate_limit_error and timeout_error are transient:
 *  API_ERR_UPSTREAM_UNAVAILABLE, retryable; every other type, unknown ones included, is
 *  API_ERR_UPSTREAM_ERROR and final. retry_after_ms is -1 (a stream has no headers left to give
 *  one). Whether a retry is still allowed once text reached the caller is the caller's rule. */
void anth_classify_stream_error(const char *type, const char *message, struct anth_http_error *out);

#endif
