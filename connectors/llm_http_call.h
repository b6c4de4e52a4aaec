/* The HTTP half every remote LLM provider shares (anthropic, openai, bedrock): one streaming POST
 * through http_client.h, the head of a non-200 answer's body kept for the provider's classifier,
 * an SSE body read for the provider's events, the text relayed to the sink, and one outcome for
 * each way a call ends (cancelled, refused with an HTTP error, complete, failed inside its 200
 * stream, malformed, timed out, cut), in the words the provider's ops table gives. The provider
 * keeps what is its own: the request, the reading of its stream, the classification of its errors,
 * its credentials and signing. Private to connectors/, like llm_internal.h. */
#ifndef PARLEY_CONNECTORS_LLM_HTTP_CALL_H
#define PARLEY_CONNECTORS_LLM_HTTP_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "connectors/http_client.h"
#include "connectors/llm_internal.h"
#include "connectors/sse.h"

struct llm_http_call;

struct llm_http_timeouts {
    uint32_t connect_ms;
    uint32_t idle_ms;
    uint32_t total_ms;
};

/* What a provider tells the shared half. The names make the details callers and logs see:
 * "<stream_name> stream was malformed", "<stream_name> stream ended early (<missing_end>)" (or
 * the transport's detail), "<timeout_name> timed out (<detail>)". */
struct llm_http_call_ops {
    const char *provider;     /* llm_outcome.provider: "anthropic" */
    const char *stream_name;  /* "Anthropic" */
    const char *timeout_name; /* "Anthropic API" */
    const char *missing_end;  /* why a stream that ended cleanly is cut: "no message_stop" */
    /** One event of an SSE body (sse.h): PL_OK, or the failure that ends the stream (it becomes
     *  stream_status: PL_EPROTO malformed, PL_EUPSTREAM an error the stream reported). */
    int (*sse_event)(struct llm_http_call *c, const char *event, const char *data, size_t len);
    /** Optional, for a body that is not SSE: its bytes, in order. Non-zero stops reading, after
     *  a failure the provider recorded in stream_status. Without it the body is SSE. */
    int (*feed)(struct llm_http_call *c, const char *data, size_t len);
    /** Optional: the usage and model every outcome carries, failures included. */
    void (*usage)(struct llm_http_call *c, struct llm_outcome *o);
    /** Whether the stream gave its final event; if so set o->stop (and usage and model as the
     *  stream said). Asked before stream_status: a provider whose stream failures win over a
     *  final event says false when stream_status is one. */
    bool (*complete)(struct llm_http_call *c, struct llm_outcome *o);
    /** A non-200 answer (c->http_status; its body's head in c->error_body, its headers through
     *  c->xfer): set o->error, o->retryable and o->retry_after_ms, and write the detail. */
    void (*http_error)(struct llm_http_call *c, long long now_s, struct llm_outcome *o,
                       char *detail, size_t detail_len);
    /** A failure inside the 200 stream (stream_status PL_EUPSTREAM): set o->error and
     *  o->retryable, and write the detail. */
    void (*stream_error)(struct llm_http_call *c, struct llm_outcome *o, char *detail,
                         size_t detail_len);
    /** Free the provider's call (its own parts, llm_http_call_cleanup, the memory). */
    void (*release)(struct llm_http_call *c);
};

/* The provider's call embeds this first (as `http`), so that its llm_call is this one's. */
struct llm_http_call {
    struct llm_call super;
    const struct llm_http_call_ops *ops;
    struct llm_sink sink;
    struct http_client_transfer *xfer; /* NULL until started */
    struct pl_buf error_body;          /* the head of a non-200 answer's body */
    struct sse_parser sse;             /* a 200 answer's body, when it is SSE */
    int http_status;
    int stream_status; /* PL_OK, or what the stream's reading reported (PL_EPROTO, PL_EUPSTREAM) */
    char malformed_detail[128]; /* optional, what was malformed; else "<stream_name> stream ..." */
    size_t text_bytes;          /* relayed to the sink, for providers that must estimate usage */
    long text_deltas;
    bool any_text;
    bool cancel_requested;
};

/** The three timeouts of a provider's configuration. */
struct llm_http_timeouts llm_http_timeouts_of(const struct llm_provider_config *cfg);

/** Prepare `c` for provider `p` (nothing is sent yet). */
void llm_http_call_init(struct llm_http_call *c, struct llm_provider *p,
                        const struct llm_sink *sink, const struct llm_http_call_ops *ops);
/** Free what init and the transfer hold (not `c` itself). */
void llm_http_call_cleanup(struct llm_http_call *c);

/** POST `body` with `headers` (NULL-terminated "name: value" lines, borrowed; the body is
 *  copied) to `url`. PL_OK: the outcome comes through the sink once the transfer ends, and the
 *  ops' release frees the call; else PL_EIO, nothing started, the call is still the caller's. */
int llm_http_call_start(struct llm_http_call *c, struct http_client *http, const char *url,
                        const char *const *headers, const char *body, size_t body_len,
                        const struct llm_http_timeouts *t);

/** The stream readers' text callback (`ud` is the call): relays a non-empty delta to the sink. */
void llm_http_call_emit_text(void *ud, const char *text, size_t len);

/** The body's bytes through the call's SSE parser to the sse_event op (what a provider without a
 *  feed op gets; a feed op may hand an SSE body here). An event over the parser's bound makes the
 *  stream malformed (stream_status PL_EPROTO). Returns what sse_parser_feed did. */
int llm_http_call_feed_sse(struct llm_http_call *c, const char *data, size_t len);

/** llm_provider_ops.cancel of a started call: the outcome (PL_ECANCELED) is given before this
 *  returns. */
void llm_http_call_cancel(struct llm_call *call);

#endif
