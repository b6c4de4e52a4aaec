/* What an AWS event-stream frame of a Bedrock answer means: an event (`:message-type event`, its
 * `:event-type`), a modelled exception (`:exception-type`, payload `{"message":"..."}`) or an
 * unmodelled error (`:error-code`, `:error-message`), and the situation callers are told for the
 * last two (common/api_error.h). Every rule of which Bedrock exceptions are transient lives in
 * the one table of aws_eventstream_kind.c; the names match with or without a capital first
 * letter, so the x-amzn-ErrorType of a non-200 answer (before its ':') maps the same way. */
#ifndef PARLEY_CONNECTORS_AWS_EVENTSTREAM_KIND_H
#define PARLEY_CONNECTORS_AWS_EVENTSTREAM_KIND_H

#include <stdbool.h>

#include "common/api_error.h"
#include "connectors/aws_eventstream.h"

enum aws_es_kind {
    AWS_ES_KIND_EVENT,     /* an event: the stream goes on */
    AWS_ES_KIND_EXCEPTION, /* a modelled exception: terminal */
    AWS_ES_KIND_ERROR,     /* an unmodelled error: terminal */
    AWS_ES_KIND_UNKNOWN    /* no or another :message-type: treated as an error by callers */
};

/* The headers that say what a frame is, copied (cut to fit, NUL-terminated, "" when absent). */
struct aws_es_message {
    enum aws_es_kind kind;
    char event_type[64];     /* :event-type, for events ("chunk") */
    char exception_type[64]; /* :exception-type, for exceptions ("throttlingException") */
    char content_type[64];   /* :content-type */
    char error_code[64];     /* :error-code, for errors */
    char error_message[256]; /* :error-message, for errors */
};

/* A terminal frame classified. */
struct aws_es_failure {
    enum api_error error; /* API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE or _UPSTREAM_ERROR */
    bool retryable;       /* the same request may succeed later (before the first token only) */
    char detail[256];     /* "Bedrock throttlingException: Too many requests, ..." */
};

/** Read a frame's kind and naming headers into `out`. */
void aws_es_message_read(const struct aws_es_frame *f, struct aws_es_message *out);

/** Classify an exception by its type name (may be NULL) and message (may be NULL; the `message`
 *  member of its payload, extracted by the caller). throttlingException is API_ERR_RATE_LIMITED;
 *  serviceUnavailableException, internalServerException, modelTimeoutException and
 *  modelNotReadyException API_ERR_UPSTREAM_UNAVAILABLE; all retryable. Every other name, unknown
 *  ones and modelStreamErrorException included, is API_ERR_UPSTREAM_ERROR and final. */
void aws_es_classify_exception(const char *type, const char *message, struct aws_es_failure *out);

/** Classify an unmodelled `error` frame: API_ERR_UPSTREAM_ERROR, final, with code and message
 *  (either may be NULL) in the detail. */
void aws_es_classify_error(const char *code, const char *message, struct aws_es_failure *out);

#endif
