/* Bedrock's event-stream message kinds and the mapping of its exceptions to the error table. */
#include "connectors/aws_eventstream_kind.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Bedrock's exceptions (the ResponseStream union members, and the errors of a non-200 answer),
 * with what callers are told. Transient ones are those AWS's SDKs retry: throttling (429, told
 * as our own rate_limited row says), 500, 503, 408 and a model still loading. */
static const struct {
    const char *name; /* as in the stream, lower-case first letter */
    enum api_error error;
    bool retryable;
} exception_table[] = {
    {"throttlingException", API_ERR_RATE_LIMITED, true},
    {"serviceUnavailableException", API_ERR_UPSTREAM_UNAVAILABLE, true},
    {"internalServerException", API_ERR_UPSTREAM_UNAVAILABLE, true},
    {"modelTimeoutException", API_ERR_UPSTREAM_UNAVAILABLE, true},
    {"modelNotReadyException", API_ERR_UPSTREAM_UNAVAILABLE, true},
    {"modelStreamErrorException", API_ERR_UPSTREAM_ERROR, false},
    {"modelErrorException", API_ERR_UPSTREAM_ERROR, false},
    {"validationException", API_ERR_UPSTREAM_ERROR, false},
    {"accessDeniedException", API_ERR_UPSTREAM_ERROR, false},
    {"resourceNotFoundException", API_ERR_UPSTREAM_ERROR, false},
    {"serviceQuotaExceededException", API_ERR_UPSTREAM_ERROR, false},
};

/* Equal but for the case of the first letter. */
static bool same_name(const char *a, const char *b)
{
    return tolower((unsigned char)a[0]) == tolower((unsigned char)b[0]) &&
           (a[0] == '\0' || strcmp(a + 1, b + 1) == 0);
}

void aws_es_message_read(const struct aws_es_frame *f, struct aws_es_message *out)
{
    char type[16];
    memset(out, 0, sizeof(*out));
    aws_es_header_string(f, ":message-type", type, sizeof(type));
    aws_es_header_string(f, ":event-type", out->event_type, sizeof(out->event_type));
    aws_es_header_string(f, ":exception-type", out->exception_type, sizeof(out->exception_type));
    aws_es_header_string(f, ":content-type", out->content_type, sizeof(out->content_type));
    aws_es_header_string(f, ":error-code", out->error_code, sizeof(out->error_code));
    aws_es_header_string(f, ":error-message", out->error_message, sizeof(out->error_message));
    if (strcmp(type, "event") == 0)
        out->kind = AWS_ES_KIND_EVENT;
    else if (strcmp(type, "exception") == 0)
        out->kind = AWS_ES_KIND_EXCEPTION;
    else if (strcmp(type, "error") == 0)
        out->kind = AWS_ES_KIND_ERROR;
    else
        out->kind = AWS_ES_KIND_UNKNOWN;
}

void aws_es_classify_exception(const char *type, const char *message, struct aws_es_failure *out)
{
    memset(out, 0, sizeof(*out));
    out->error = API_ERR_UPSTREAM_ERROR;
    for (size_t i = 0; type && i < sizeof(exception_table) / sizeof(*exception_table); i++) {
        if (same_name(type, exception_table[i].name)) {
            out->error = exception_table[i].error;
            out->retryable = exception_table[i].retryable;
            break;
        }
    }
    snprintf(out->detail, sizeof(out->detail), "Bedrock %s: %s",
             type && *type ? type : "(no exception type)", message ? message : "");
}

void aws_es_classify_error(const char *code, const char *message, struct aws_es_failure *out)
{
    memset(out, 0, sizeof(*out));
    out->error = API_ERR_UPSTREAM_ERROR;
    snprintf(out->detail, sizeof(out->detail), "Bedrock error %s: %s",
             code && *code ? code : "(no code)", message ? message : "");
}
