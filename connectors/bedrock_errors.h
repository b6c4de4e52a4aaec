/* Classifies a Bedrock Runtime answer that failed before its stream started (a non-200 status,
 * PROTOCOLS.md 2.6) into the situation callers are told (common/api_error.h), whether a retry may
 * help, and the upstream's retry hint. I/O-free. The exception's name comes from the
 * x-amzn-ErrorType header (the part before ':'), else from the body's "__type" (after '#'); the
 * text from the body's "message". Failures inside a 200 stream (exception and error frames) are
 * aws_eventstream_kind.h's. */
#ifndef PARLEY_CONNECTORS_BEDROCK_ERRORS_H
#define PARLEY_CONNECTORS_BEDROCK_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/api_error.h"

struct bedrock_http_error {
    enum api_error error; /* API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE or _UPSTREAM_ERROR */
    bool retryable;       /* the same request may succeed later */
    long retry_after_ms;  /* Retry-After (seconds or HTTP-date; at most a day), or -1 */
    char type[64];        /* "ThrottlingException", or "" when neither header nor body says */
    char detail[256];     /* "Bedrock 429 ThrottlingException: Too many requests, ..." */
};

/** Classify a non-200 answer. `error_type` (x-amzn-ErrorType) and `retry_after` may be NULL;
 *  `body` may be anything; `now_s` resolves an HTTP-date Retry-After.
 *    429 ThrottlingException (and any other 429)   API_ERR_RATE_LIMITED, retryable
 *    429 ModelNotReadyException                    API_ERR_UPSTREAM_UNAVAILABLE, retryable
 *    408 and every 5xx (500, 503, ...)              API_ERR_UPSTREAM_UNAVAILABLE, retryable
 *    every other status (400 ValidationException, 403 AccessDeniedException,
 *    404 ResourceNotFoundException, 424 ModelErrorException, ...)  API_ERR_UPSTREAM_ERROR, final */
void bedrock_classify_http_error(int status, const char *error_type, const char *body, size_t len,
                                 const char *retry_after, long long now_s,
                                 struct bedrock_http_error *out);

#endif
