/* Incremental Server-Sent Events parser (WHATWG event-stream rules). Bytes may arrive split
 * anywhere, even inside a line ending or a UTF-8 sequence: the parser keeps the partial line
 * and dispatches whole events only. Used for the Anthropic Messages stream and for
 * OpenAI-compatible chat completions (connectors/openai_stream.h). */
#ifndef PARLEY_CONNECTORS_SSE_H
#define PARLEY_CONNECTORS_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct sse_parser {
    struct pl_buf line;  /* the line being read */
    struct pl_buf event; /* the event name of the event being read */
    struct pl_buf data;  /* its data lines joined with '\n' */
    bool has_data;
    bool after_cr; /* the last byte was '\r': a following '\n' belongs to it */
    bool bom_checked;
    size_t max;
};

/** One event: `event` is "message" when the stream named none; `data` is NUL-terminated.
 *  Both borrowed for the call. A non-zero return stops sse_parser_feed, which returns it. */
typedef int (*sse_event_cb)(void *ud, const char *event, const char *data, size_t len);

/** Prepare a parser; a line or an event's data larger than `max_event_bytes` is an error. */
void sse_parser_init(struct sse_parser *p, size_t max_event_bytes);
/** Feed bytes; calls `cb` for each complete event. PL_OK, PL_ETOOBIG, or cb's non-zero return
 *  (the parser must not be fed again after an error). */
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_cb cb, void *ud);
/** Free the parser's buffers. */
void sse_parser_cleanup(struct sse_parser *p);

#endif
