/* OpenAI-compatible error classification; see openai_errors.h. */
#include "connectors/openai_errors.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "connectors/retry_after.h"

static void copy_field(char *out, size_t outlen, json_t *v)
{
    if (json_is_string(v))
        snprintf(out, outlen, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
}

void oai_classify_http_error(int status, const char *body, size_t len, const char *retry_after,
                             const char *retry_after_ms, long long now_s,
                             struct oai_http_error *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_ms = retry_after_parse_ms(retry_after, retry_after_ms, now_s);

    char type[64] = "", code[64] = "", message[160] = "";
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e)) { /* {"error":"..."}, as some servers answer */
        copy_field(message, sizeof(message), e);
        e = NULL;
    } else if (!json_is_object(e) && json_is_object(j)) {
        e = j; /* older vLLM: the error's fields at the top */
    }
    copy_field(type, sizeof(type), json_object_get(e, "type"));
    copy_field(code, sizeof(code), json_object_get(e, "code"));
    if (!message[0])
        copy_field(message, sizeof(message), json_object_get(e, "message"));
    json_decref(j);
    if (type[0] || code[0] || message[0])
        snprintf(out->detail, sizeof(out->detail),
                 "OpenAI-compatible server %d %.40s%s%.40s: %.130s", status, type[0] ? type : code,
                 type[0] && code[0] ? "/" : "", type[0] ? code : "", message);
    else
        snprintf(out->detail, sizeof(out->detail), "OpenAI-compatible server answered HTTP %d",
                 status);

    if (status == 429) {
        out->error = API_ERR_RATE_LIMITED;
        /* OpenAI answers a spent quota with 429 too: waiting does not help. */
        out->retryable = strcmp(code, "insufficient_quota") && strcmp(type, "insufficient_quota");
    } else if (status == 408 || status == 409 || (status >= 500 && status <= 599)) {
        out->error = API_ERR_UPSTREAM_UNAVAILABLE;
        out->retryable = true;
    } else {
        out->error = API_ERR_UPSTREAM_ERROR;
        out->retryable = false;
    }
}
