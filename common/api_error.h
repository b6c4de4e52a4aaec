/* The one error table of Parley's public interfaces (docs/protocol.md "Errors"). Every error a
 * caller, an integrator or a webhook sees names one of these situations; the table gives its
 * public code, HTTP status, whether retrying the same request may succeed, and the default
 * message (what is wrong and what to do). Several situations may share a public code: storage
 * down and the model down are both `upstream_unavailable`, with different advice. */
#ifndef PARLEY_COMMON_API_ERROR_H
#define PARLEY_COMMON_API_ERROR_H

#include <stdbool.h>

enum api_error {
    API_ERR_NONE = 0,
    API_ERR_BAD_REQUEST,
    API_ERR_UNAUTHORIZED,
    API_ERR_TOKEN_EXPIRED,
    API_ERR_FORBIDDEN,
    API_ERR_NOT_FOUND,
    API_ERR_SESSION_GONE,
    API_ERR_METHOD_NOT_ALLOWED,
    API_ERR_POLICY_READ_ONLY, /* PUT /v1/policies with records read from another source */
    API_ERR_TOO_LARGE,
    API_ERR_RATE_LIMITED,
    API_ERR_TOO_MANY_MESSAGES,
    API_ERR_TOO_MANY_SESSIONS,
    API_ERR_TOO_MANY_POLLS,
    API_ERR_SESSION_FULL,
    API_ERR_BUSY,
    API_ERR_LOCKED_ELSEWHERE,
    API_ERR_SESSION_CONNECTIONS, /* --max-connections-per-session reached at hello */
    API_ERR_AT_CAPACITY,         /* a request on a connection accepted past the connection cap */
    API_ERR_UPSTREAM_UNAVAILABLE,
    API_ERR_STORAGE_UNAVAILABLE,
    API_ERR_NOT_REPLICATED,
    API_ERR_SHUTTING_DOWN,
    API_ERR_UPSTREAM_ERROR,
    API_ERR_INTERNAL,
    /* HTTP framing and Origin (bot/http_parse.h, bot/conn.c) */
    API_ERR_HEADERS_TOO_LARGE,
    API_ERR_LENGTH_REQUIRED,
    API_ERR_HTTP_VERSION,
    API_ERR_REQUEST_TIMEOUT,
    API_ERR_UPGRADE_REQUIRED,
    API_ERR_ORIGIN_FORBIDDEN,
    API_ERR_COUNT
};

struct api_error_info {
    const char *code;    /* the public code: "bad_request", "upstream_unavailable", ... */
    int http_status;     /* 400, 401, 403, 404, 405, 408, 409, 411, 413, 426, 429, 431, 500,
                            502, 503, 505 */
    bool retryable;      /* the same request may succeed later */
    const char *message; /* default message for people: what is wrong and what to do */
};

/** The table row of `e`; an out-of-range value gives API_ERR_INTERNAL's row. */
const struct api_error_info *api_error_info(enum api_error e);
/** Shorthands for the fields of api_error_info(e). */
const char *api_error_code(enum api_error e);
int api_error_status(enum api_error e);
bool api_error_retryable(enum api_error e);
const char *api_error_message(enum api_error e);
/** The first situation whose public code is `code` (API_ERR_INTERNAL if none): for codes read
 *  back from storage. NULL or "" gives API_ERR_NONE. */
enum api_error api_error_from_code(const char *code);

#endif
