/* Anthropic error classification; see anthropic_errors.h. */
#include "connectors/anthropic_errors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "connectors/retry_after.h"

void anth_classify_http_error(int status, const char *body, size_t len, const char *retry_after,
                              const char *retry_after_ms, const char *should_retry, long long now_s,
                              struct anth_http_error *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_ms = retry_after_parse_ms(retry_after, retry_after_ms, now_s);

    char type[64] = "", message[160] = "";
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    if (json_is_string(json_object_get(e, "type")))
        snprintf(type, sizeof(type), "%s", json_string_value(json_object_get(e, "type")));
    if (json_is_string(json_object_get(e, "message")))
        snprintf(message, sizeof(message), "%s", json_string_value(json_object_get(e, "message")));
    json_decref(j);
    if (type[0])
        snprintf(out->detail, sizeof(out->detail), "Anthropic API %d %s: %s", status, type,
                 message);
    else
        snprintf(out->detail, sizeof(out->detail), "Anthropic API answered HTTP %d", status);

    if (status == 429)
        out->error = API_ERR_RATE_LIMITED;
    else if (status == 408 || status == 409 || status >= 500)
        out->error = API_ERR_UPSTREAM_UNAVAILABLE;
    else
        out->error = API_ERR_UPSTREAM_ERROR;

    if (should_retry && !strcasecmp(should_retry, "true"))
        out->retryable = true;
    else if (should_retry && !strcasecmp(should_retry, "false"))
        out->retryable = false;
    else if (status == 429)
        out->retryable = out->retry_after_ms >= 0; /* a spend-cap 429 has no retry-after */
    else
        out->retryable = status == 408 || status == 409 || status >= 500;
}

/* The in-stream types that say "try again": the situations that, before a stream starts, come as
 * 429 (rate_limit_error), 500 (api_error), 504 (timeout_error) and 529 (overloaded_error). */
static const char *const transient_stream_errors[] = {"overloaded_error", "api_error",
                                                      "rate_limit_error", "timeout_error"};

void anth_classify_stream_error(const char *type, const char *message, struct anth_http_error *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_ms = -1;
    out->error = API_ERR_UPSTREAM_ERROR;
    for (size_t i = 0;
         type && i < sizeof(transient_stream_errors) / sizeof(*transient_stream_errors); i++) {
        if (strcmp(type, transient_stream_errors[i]) == 0) {
            /* As the same error answered with HTTP 429 is: callers see one code for it. */
            out->error = strcmp(type, "rate_limit_error") == 0 ? API_ERR_RATE_LIMITED
                                                               : API_ERR_UPSTREAM_UNAVAILABLE;
            out->retryable = true;
            break;
        }
    }
    snprintf(out->detail, sizeof(out->detail), "Anthropic stream error %s: %s",
             type && *type ? type : "(no type)", message ? message : "");
}
