/* Bedrock HTTP error classification; see bedrock_errors.h. */
#include "connectors/bedrock_errors.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "connectors/retry_after.h"

/* The name before the first ':' of x-amzn-ErrorType, trimmed of spaces. */
static void name_from_header(const char *h, char *out, size_t outlen)
{
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, ": ");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

/* The type and detail reach the log and the caller's error message as one line: control bytes
 * from a header or the body (a CR, an escaped newline) become spaces. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

void bedrock_classify_http_error(int status, const char *error_type, const char *body, size_t len,
                                 const char *retry_after, long long now_s,
                                 struct bedrock_http_error *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_ms = retry_after_parse_ms(retry_after, NULL, now_s);

    char message[160] = "";
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (!m)
        m = json_string_value(json_object_get(j, "Message"));
    if (m)
        snprintf(message, sizeof(message), "%s", m);
    if (error_type && *error_type) {
        name_from_header(error_type, out->type, sizeof(out->type));
    } else {
        const char *t = json_string_value(json_object_get(j, "__type"));
        if (t) {
            const char *hash = strrchr(t, '#');
            name_from_header(hash ? hash + 1 : t, out->type, sizeof(out->type));
        }
    }
    json_decref(j);

    if (out->type[0])
        snprintf(out->detail, sizeof(out->detail), "Bedrock %d %s: %s", status, out->type, message);
    else if (message[0])
        snprintf(out->detail, sizeof(out->detail), "Bedrock %d: %s", status, message);
    else
        snprintf(out->detail, sizeof(out->detail), "Bedrock answered HTTP %d", status);

    one_line(out->type);
    one_line(out->detail);

    if (status == 429) {
        out->retryable = true;
        out->error = strcmp(out->type, "ModelNotReadyException") == 0 ? API_ERR_UPSTREAM_UNAVAILABLE
                                                                      : API_ERR_RATE_LIMITED;
    } else if (status == 408 || status >= 500) {
        out->retryable = true;
        out->error = API_ERR_UPSTREAM_UNAVAILABLE;
    } else {
        out->error = API_ERR_UPSTREAM_ERROR;
    }
}
