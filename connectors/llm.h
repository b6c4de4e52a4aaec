/* LLM providers behind one interface. A provider turns a prompt (prompts/prompt.h: the
 * request's types belong to prompts/) into a stream of text deltas delivered to an llm_sink,
 * then exactly one on_finish. Providers: anthropic (Messages API over SSE), openai
 * (OpenAI-compatible chat completions over SSE), local (offline default); bedrock comes later.
 * Loop thread only. */
#ifndef PARLEY_CONNECTORS_LLM_H
#define PARLEY_CONNECTORS_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/api_error.h"
#include "prompts/prompt.h"

/* Why a turn's answer ended. The names (llm_stop_name) are the `stop_reason` values of
 * docs/protocol.md ("Stop reasons"). */
enum llm_stop {
    LLM_STOP_END_TURN = 0,
    LLM_STOP_MAX_TOKENS,
    LLM_STOP_STOP_SEQUENCE,
    LLM_STOP_REFUSAL,
    LLM_STOP_CANCELLED,
    LLM_STOP_TAKEOVER,
    LLM_STOP_UPSTREAM_CUT,   /* the stream ended without its final event */
    LLM_STOP_UPSTREAM_ERROR, /* an error event or exception frame after text was sent */
    LLM_STOP_TIMEOUT,        /* idle gap or deadline */
};

/** The docs/protocol.md name of a stop reason ("end_turn", ...). */
const char *llm_stop_name(enum llm_stop stop);
/** Map a model's own stop_reason string; unknown values (tool_use, pause_turn, ...) map to
 *  LLM_STOP_END_TURN, model_context_window_exceeded to LLM_STOP_MAX_TOKENS. */
enum llm_stop llm_stop_from_model(const char *s);

/* Token counts as the provider reports them. input_tokens is the uncached part of the prompt;
 * the whole prompt is input + cache_read + cache_write (Anthropic's usage semantics; Converse's
 * cacheReadInputTokens / cacheWriteInputTokens map onto the same fields). */
struct llm_usage {
    long input_tokens;
    long output_tokens;
    long cache_read_input_tokens;     /* prompt prefix read from the provider's cache */
    long cache_creation_input_tokens; /* prompt prefix written to the cache */
};

/* How a call ended. Borrowed: valid only during on_finish. */
struct llm_outcome {
    int status;         /* PL_OK: the model ended the stream (see `stop`); else PL_E* failure */
    enum llm_stop stop; /* on success the model's reason; on failure after text, why it ended */
    struct llm_usage usage;
    const char *model; /* the model that answered, when known */
    const char *provider;
    bool any_text; /* at least one on_text was delivered */
    /* Failure detail (status != PL_OK). `error` is API_ERR_NONE on success and cancellation;
     * on failure what callers are told: API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE,
     * _UPSTREAM_ERROR or _INTERNAL. */
    enum api_error error;
    const char *error_detail; /* one line for people and logs, never a secret */
    bool retryable;           /* the same request may succeed later */
    long retry_after_ms;      /* upstream's hint, or -1 */
    int http_status;          /* 0 when not an HTTP answer */
};

struct llm_sink {
    /** One text delta, in order. `text` is borrowed for the call. */
    void (*on_text)(void *ud, const char *text, size_t len);
    /** Called exactly once per successful llm_start, cancellation included. */
    void (*on_finish)(void *ud, const struct llm_outcome *outcome);
    void *ud;
};

struct llm_call;
struct llm_provider;

/** Start a streaming call for `req`, borrowed for the call only (providers copy what they keep;
 *  its user_id goes upstream as opaque metadata and must never be PII). Returns NULL (sink never
 *  called) only when the request is invalid or cannot be sent. */
struct llm_call *llm_start(struct llm_provider *p, const struct prompt *req,
                           const struct llm_sink *sink);

/** Stop a call: on_finish runs before this returns, with status PL_ECANCELED and
 *  stop LLM_STOP_CANCELLED; the call is gone afterwards. */
void llm_cancel(struct llm_call *call);

#endif
