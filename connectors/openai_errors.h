/* Classifies an OpenAI-compatible server's answer other than 200 into the situation callers are
 * told (common/api_error.h), whether a retry may help, and the server's retry hint. Bodies come
 * in OpenAI's shape {"error":{"message","type","param","code"}} (vLLM and llama-server put the
 * HTTP status in `code`), older vLLM's flat {"object":"error","message","type","code"}, or
 * anything else (a proxy's HTML). Errors inside a 200 stream are openai_stream.h's. */
#ifndef PARLEY_CONNECTORS_OPENAI_ERRORS_H
#define PARLEY_CONNECTORS_OPENAI_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/api_error.h"

struct oai_http_error {
    enum api_error error; /* API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE or _UPSTREAM_ERROR */
    bool retryable;       /* the same request may succeed later */
    long retry_after_ms;  /* the server's hint (at most a day), or -1 */
    char detail[256];     /* "OpenAI-compatible server 429 rate_limit_exceeded: ..." */
};

/** Classify a non-200 answer. `body` may be anything and need not be terminated; header values
 *  may be NULL when absent (`retry_after` in seconds or an HTTP-date resolved against `now_s`,
 *  `retry_after_ms` as OpenAI sends it). 429 is API_ERR_RATE_LIMITED, retryable unless the
 *  body's code or type says the quota is spent (insufficient_quota); 408, 409 and 5xx
 *  API_ERR_UPSTREAM_UNAVAILABLE, retryable; every other status (400, 401, 403, 404, ...)
 *  API_ERR_UPSTREAM_ERROR, final. */
void oai_classify_http_error(int status, const char *body, size_t len, const char *retry_after,
                             const char *retry_after_ms, long long now_s,
                             struct oai_http_error *out);

#endif
