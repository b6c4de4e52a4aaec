/* Interprets the events of an Anthropic Messages stream (docs/upstream-anthropic.md, Stream): text
 * deltas go to a callback; model, usage and stop reason are collected; an `error` event or
 * malformed data is reported. Unknown events, delta types and keys are ignored, as the API may add
 * them. */
#ifndef PARLEY_CONNECTORS_ANTHROPIC_STREAM_H
#define PARLEY_CONNECTORS_ANTHROPIC_STREAM_H

#include <stdbool.h>
#include <stddef.h>

struct anth_stream {
    bool finished;        /* message_stop seen */
    char stop_reason[32]; /* the model's, "" until message_delta gives one */
    char model[128];
    long input_tokens;
    long output_tokens;               /* cumulative, as the API reports it */
    long cache_read_input_tokens;     /* prompt prefix read from the cache */
    long cache_creation_input_tokens; /* prompt prefix written to the cache */
    char error_type[64];              /* from an `error` event */
    char error_message[256];
    bool started; /* message_start seen */
};

typedef void (*anth_text_cb)(void *ud, const char *text, size_t len);

void anth_stream_init(struct anth_stream *s);

/** Handle one SSE event. PL_OK; PL_EPROTO for malformed JSON, a missing required field, text
 *  before message_start or anything after message_stop; PL_EUPSTREAM for an `error` event
 *  (error_type and error_message filled). */
int anth_stream_event(struct anth_stream *s, const char *event, const char *data, size_t len,
                      anth_text_cb on_text, void *ud);

#endif
