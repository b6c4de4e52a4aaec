/* The error table; see api_error.h. docs/protocol.md lists the same rows for people. */
#include "common/api_error.h"

#include <string.h>

static const struct api_error_info table[API_ERR_COUNT] = {
    [API_ERR_NONE] = {"", 200, false, ""},
    [API_ERR_BAD_REQUEST] = {"bad_request", 400, false, "the request is malformed"},
    [API_ERR_UNAUTHORIZED] = {"unauthorized", 401, false, "the token is not valid"},
    [API_ERR_TOKEN_EXPIRED] = {"unauthorized", 401, false,
                               "the token has expired; get a new one and try again"},
    [API_ERR_FORBIDDEN] = {"forbidden", 403, false, "this token may not do that"},
    [API_ERR_NOT_FOUND] = {"not_found", 404, false, "no such resource"},
    [API_ERR_SESSION_GONE] = {"not_found", 404, false,
                              "this conversation no longer exists (it may have expired)"},
    [API_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, false,
                                    "this method is not allowed on this path"},
    [API_ERR_POLICY_READ_ONLY] = {"method_not_allowed", 405, false,
                                  "policy records are read from another source here; change "
                                  "them there"},
    [API_ERR_TOO_LARGE] = {"too_large", 413, false, "the request is too large"},
    [API_ERR_RATE_LIMITED] = {"rate_limited", 429, true,
                              "the assistant is receiving too many requests; please try again "
                              "in a moment"},
    /* Parley's own rate limits (docs/configuration.md): the refusal says when to retry
     * (retry_after_ms). */
    [API_ERR_TOO_MANY_MESSAGES] = {"rate_limited", 429, true,
                                   "you are sending messages faster than this service allows; "
                                   "wait a moment and send again"},
    [API_ERR_TOO_MANY_SESSIONS] = {"rate_limited", 429, true,
                                   "too many new conversations were started from your address; "
                                   "wait a moment and try again"},
    [API_ERR_TOO_MANY_POLLS] = {"rate_limited", 429, true,
                                "this conversation's answers are asked for faster than this "
                                "service allows; ask again after retry_after_ms"},
    [API_ERR_SESSION_FULL] = {"session_full", 409, false,
                              "this conversation has reached its limit of messages; please "
                              "start a new conversation"},
    [API_ERR_BUSY] = {"busy", 429, true,
                      "too many messages are waiting for an answer; wait for the current answer "
                      "and send again"},
    [API_ERR_LOCKED_ELSEWHERE] = {"busy", 429, true,
                                  "another answer for this conversation is still in progress; "
                                  "your message is saved: please retry"},
    [API_ERR_SESSION_CONNECTIONS] = {"busy", 429, true,
                                     "this conversation is open on too many connections; close "
                                     "one (another tab or window) and reconnect"},
    [API_ERR_AT_CAPACITY] = {"busy", 503, true,
                             "the server has too many connections right now; please retry in a "
                             "moment"},
    [API_ERR_UPSTREAM_UNAVAILABLE] = {"upstream_unavailable", 503, true,
                                      "the assistant is unavailable right now; please try again "
                                      "in a moment"},
    [API_ERR_STORAGE_UNAVAILABLE] = {"upstream_unavailable", 503, true,
                                     "conversation storage is unavailable; please retry shortly"},
    [API_ERR_NOT_REPLICATED] = {"upstream_unavailable", 503, true,
                                "your message is saved but not yet copied to a standby; send it "
                                "again with the same id to get its ack"},
    [API_ERR_SHUTTING_DOWN] = {"upstream_unavailable", 503, true,
                               "the server is restarting; your message is saved and will be "
                               "answered when you reconnect"},
    [API_ERR_UPSTREAM_ERROR] = {"upstream_error", 502, false,
                                "the assistant could not answer this request"},
    [API_ERR_INTERNAL] = {"internal", 500, false,
                          "something went wrong on our side; the server log has the details"},
    [API_ERR_HEADERS_TOO_LARGE] = {"too_large", 431, false, "the request's headers are too large"},
    [API_ERR_LENGTH_REQUIRED] = {"bad_request", 411, false,
                                 "chunked request bodies are not supported; send the body with "
                                 "Content-Length"},
    [API_ERR_HTTP_VERSION] = {"bad_request", 505, false,
                              "this server speaks HTTP/1.1 (and HTTP/1.0)"},
    [API_ERR_REQUEST_TIMEOUT] = {"bad_request", 408, true,
                                 "the request did not arrive in time; send it again"},
    [API_ERR_UPGRADE_REQUIRED] = {"bad_request", 426, false,
                                  "this path is a WebSocket: connect with Upgrade: websocket"},
    [API_ERR_ORIGIN_FORBIDDEN] = {"forbidden", 403, false,
                                  "pages of this origin may not use this server (see "
                                  "--allowed-origins)"},
};

const struct api_error_info *api_error_info(enum api_error e)
{
    if ((unsigned)e >= API_ERR_COUNT)
        e = API_ERR_INTERNAL;
    return &table[e];
}

const char *api_error_code(enum api_error e)
{
    return api_error_info(e)->code;
}

int api_error_status(enum api_error e)
{
    return api_error_info(e)->http_status;
}

bool api_error_retryable(enum api_error e)
{
    return api_error_info(e)->retryable;
}

const char *api_error_message(enum api_error e)
{
    return api_error_info(e)->message;
}

enum api_error api_error_from_code(const char *code)
{
    if (!code || !*code)
        return API_ERR_NONE;
    for (int e = API_ERR_NONE + 1; e < API_ERR_COUNT; e++) {
        if (strcmp(table[e].code, code) == 0)
            return (enum api_error)e;
    }
    return API_ERR_INTERNAL;
}
