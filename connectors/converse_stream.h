/* Interprets the events of a Bedrock ConverseStream answer (PROTOCOLS.md 2.7), I/O-free: each
 * event frame's `:event-type` and JSON payload, as the event-stream decoder (aws_eventstream.h)
 * delivers them. Text deltas go to a callback; the stop reason and usage are collected.
 *   messageStart        must come first
 *   contentBlockDelta   {"delta":{"text":"..."}} is text; other deltas (toolUse,
 *                       reasoningContent, citation, ...) are ignored
 *   contentBlockStart/Stop  nothing to keep
 *   messageStop         {"stopReason":"..."}: the answer is complete
 *   metadata            {"usage":{inputTokens, outputTokens, cacheReadInputTokens,
 *                       cacheWriteInputTokens}}: comes after messageStop
 * Unknown event types, unknown keys and the `p` padding are ignored.
 *
 * A stream that ends after messageStop without metadata is a complete answer whose usage is not
 * known (`stopped` true, `finished` false): the text is whole, only the token counts are missing,
 * so callers treat it as a success and estimate usage. A stream that ends before messageStop is
 * cut. */
#ifndef PARLEY_CONNECTORS_CONVERSE_STREAM_H
#define PARLEY_CONNECTORS_CONVERSE_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "connectors/llm.h"

struct converse_stream {
    bool started;         /* messageStart seen */
    bool stopped;         /* messageStop seen: the text is complete */
    bool has_usage;       /* metadata seen */
    bool finished;        /* both: nothing more is expected */
    char stop_reason[48]; /* the model's, "" until messageStop */
    struct llm_usage usage;
};

typedef void (*converse_text_cb)(void *ud, const char *text, size_t len);

void converse_stream_init(struct converse_stream *s);

/** Handle one event. `on_text` is called for each non-empty text delta. PL_OK; PL_EPROTO for a
 *  payload that is not a JSON object, a text delta that is not a string, an event before
 *  messageStart, a second messageStart or messageStop, text after messageStop, or any known
 *  event after both messageStop and metadata. Unknown event types are PL_OK, whenever they come. */
int converse_stream_event(struct converse_stream *s, const char *event_type, const char *payload,
                          size_t len, converse_text_cb on_text, void *ud);

/** The stop reason as callers are told it: guardrail_intervened and content_filtered are
 *  LLM_STOP_REFUSAL, the rest as llm_stop_from_model maps them. */
enum llm_stop converse_stream_stop(const struct converse_stream *s);

#endif
