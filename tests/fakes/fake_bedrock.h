/* The upstream double's Bedrock mode (README.md, "Bedrock mode"): POST
 * /model/{modelId}/converse-stream, /model/{modelId}/invoke-with-response-stream and
 * /anthropic/v1/messages, each request's SigV4 signature (or Bedrock API key) and shape checked,
 * answers streamed as real event-stream frames, and Bedrock's faults on markers. fake_upstream.c
 * routes these paths here and lends the connection through `struct fake_host`. Test code only. */
#ifndef PARLEY_TESTS_FAKES_FAKE_BEDROCK_H
#define PARLEY_TESTS_FAKES_FAKE_BEDROCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

/* What the double lends a mode. `conn` is its connection, opaque here. */
struct fake_host {
    uv_loop_t *loop;
    unsigned pace_ms, first_token_ms;
    const char *text;
    /** The number of the request being answered (1, 2, ...). */
    unsigned long (*request_number)(void);
    void (*send)(void *conn, const void *data, size_t len);
    /** A response starts streaming: later requests on the connection wait, and the double
     *  calls fake_bedrock_conn_closed(stream) if the connection closes before it ends. */
    void (*stream_begin)(void *conn, void *stream);
    /** The response is complete (`close` false: the next request may be read) or the
     *  connection is to be shut down after what was written (`close` true). */
    void (*stream_end)(void *conn, bool close);
    /** One line of the request log (the double adds its time). */
    void (*log_request)(const char *method, const char *path, json_t *headers, json_t *body,
                        const char *behaviour);
    void (*log_event)(json_t *event);
    /** Answer an Anthropic Messages request as the Anthropic mode does, without its own key and
     *  version checks (Bedrock's Messages endpoint, after this mode's checks). */
    void (*anthropic_messages)(void *conn, const char *path, json_t *headers, const char *body,
                               size_t len);
};

/** True for the paths this mode serves. */
bool fake_bedrock_route(const char *method, const char *path);
/** Answer one request (`path` as on the request line; `headers` names lower-case). */
void fake_bedrock_handle(const struct fake_host *host, void *conn, const char *path,
                         json_t *headers, const char *body, size_t len);
/** Authenticate a request as this mode does (SigV4 re-signed, or the Bedrock API key): true,
 *  or false with the error type and message of the 403 Bedrock answers. */
bool fake_bedrock_authorised(const char *path, json_t *headers, const char *body, size_t len,
                             const char **type, char *message, size_t mlen);
/** The connection closed while `stream` was being sent: log it, free it. */
void fake_bedrock_conn_closed(void *stream);
/** Take a command-line option (`name` with its `value`): 1 if it was this mode's, 0 if not,
 *  -1 if its value is wrong. */
int fake_bedrock_option(const char *name, const char *value);
/** The options' usage lines. */
void fake_bedrock_usage(FILE *f);

#endif
