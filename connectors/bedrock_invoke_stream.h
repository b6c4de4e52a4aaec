/* Interprets the chunk events of a Bedrock InvokeModelWithResponseStream answer for an Anthropic
 * model (PROTOCOLS.md 2.5, 6B), I/O-free: each `chunk` event's JSON payload
 * {"bytes":"<base64>","p":"..."} is decoded and the Anthropic stream event inside it handed to
 * the Anthropic interpreter (anthropic_stream.h; the event's own "type" names it). Bedrock's
 * additions to the decoded event are read here: "amazon-bedrock-guardrailAction":"INTERVENED"
 * marks a guardrail intervention (the turn then ends with stop reason refusal); the
 * "amazon-bedrock-invocationMetrics" of message_stop and unknown keys are ignored. */
#ifndef PARLEY_CONNECTORS_BEDROCK_INVOKE_STREAM_H
#define PARLEY_CONNECTORS_BEDROCK_INVOKE_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "connectors/anthropic_stream.h"
#include "connectors/llm.h"

struct bedrock_invoke_stream {
    struct anth_stream anth; /* finished, stop reason, usage, error of the Anthropic events */
    bool guardrail_intervened;
};

void bedrock_invoke_stream_init(struct bedrock_invoke_stream *s);

/** Handle one chunk event's payload. PL_OK; PL_EPROTO for a payload that is not a JSON object
 *  with a string "bytes", bytes that are not padded base64, or what anth_stream_event refuses;
 *  PL_EUPSTREAM for an Anthropic `error` event inside the chunk (s->anth.error_type filled). */
int bedrock_invoke_stream_chunk(struct bedrock_invoke_stream *s, const char *payload, size_t len,
                                anth_text_cb on_text, void *ud);

/** The stop reason as callers are told it: LLM_STOP_REFUSAL after a guardrail intervention, else
 *  the model's own (llm_stop_from_model). */
enum llm_stop bedrock_invoke_stream_stop(const struct bedrock_invoke_stream *s);

#endif
