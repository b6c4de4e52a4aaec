/* Interprets the events of an OpenAI-compatible chat completions stream (OpenAI, vLLM,
 * llama-server, Ollama's /v1): `data:` lines of JSON chunks ending with `data: [DONE]`. Text
 * deltas of the choice with index 0 go to a callback; the finish reason, usage and model are
 * collected wherever they come (the finish chunk is not the last one: a `choices:[]` usage chunk
 * may follow, and older llama-server puts usage on the finish chunk); a mid-stream `error`
 * object, or older vLLM's flat `{"object":"error",...}`, is classified for the error table.
 * Unknown keys (obfuscation, timings, reasoning_content, stop_reason, ...) are ignored. A stream
 * that ends without [DONE] (`done` false) was cut: the caller maps it to upstream_cut. */
#ifndef PARLEY_CONNECTORS_OPENAI_STREAM_H
#define PARLEY_CONNECTORS_OPENAI_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/api_error.h"
#include "connectors/llm.h"

struct oai_stream {
    bool done;              /* data: [DONE] seen: the stream ended as it should */
    bool finished;          /* choice 0 gave a finish_reason */
    char finish_reason[32]; /* the server's, "" until given */
    enum llm_stop stop;     /* finish_reason mapped (oai_stop_from_finish) */
    bool has_usage;
    long prompt_tokens;
    long completion_tokens;
    char model[128];
    /* a mid-stream error, when oai_stream_event returned PL_EUPSTREAM */
    enum api_error error; /* API_ERR_RATE_LIMITED, _UPSTREAM_UNAVAILABLE or _UPSTREAM_ERROR */
    bool retryable;       /* the same request may succeed later */
    char error_type[64];
    char error_message[256];
};

typedef void (*oai_text_cb)(void *ud, const char *text, size_t len);

void oai_stream_init(struct oai_stream *s);

/** Handle one SSE event's data (the event name is not used: these servers send none). PL_OK;
 *  PL_EPROTO for data that is neither [DONE] nor a JSON object, a choices member that is not an
 *  array, a content that is not a string, or anything after [DONE]; PL_EUPSTREAM for an error
 *  object (error, retryable, error_type and error_message filled). Text is valid UTF-8 without
 *  NUL bytes, never empty. */
int oai_stream_event(struct oai_stream *s, const char *data, size_t len, oai_text_cb on_text,
                     void *ud);

/** `stop` is end_turn, `length` max_tokens, `content_filter` refusal; anything else (tool_calls,
 *  function_call, a server's own string, NULL) end_turn. */
enum llm_stop oai_stop_from_finish(const char *reason);

/** Classify an in-stream error by its `type` and `code` (an HTTP status as vLLM and llama-server
 *  send it, or a string; either may be NULL/0): a 429 status or a rate-limit type is
 *  API_ERR_RATE_LIMITED, retryable; 408, 409, 5xx and server_error, api_error, overloaded_error,
 *  timeout types API_ERR_UPSTREAM_UNAVAILABLE, retryable; everything else API_ERR_UPSTREAM_ERROR,
 *  final. */
void oai_classify_stream_error(const char *type, int status, const char *code,
                               enum api_error *error, bool *retryable);

#endif
