/* Encoder of AWS event-stream frames (PROTOCOLS.md 2.4) for the upstream double's Bedrock mode:
 * prelude, string headers, payload, both CRC-32s (zlib). I/O-free, so its exact bytes are
 * unit-tested and decoded back with the server's own decoder. Test code only. */
#ifndef PARLEY_TESTS_FAKES_ES_FRAME_H
#define PARLEY_TESTS_FAKES_ES_FRAME_H

#include <stddef.h>

#include "common/buf.h"

/* A string header (value type 7), both NUL-terminated. */
struct es_header {
    const char *name;
    const char *value;
};

/** Append one frame with `n` string headers in this order and `len` payload bytes to `out`.
 *  PL_OK, PL_EINVAL (a name over 255 bytes or a value over 32767) or the buffer's error. */
int es_frame_encode(struct pl_buf *out, const struct es_header *headers, size_t n,
                    const void *payload, size_t len);

/** Append a Bedrock event frame: :event-type `event_type`, :content-type application/json,
 *  :message-type event (the order Bedrock uses), payload `json`. */
int es_frame_event(struct pl_buf *out, const char *event_type, const char *json, size_t len);

/** Append a Bedrock exception frame: :exception-type `name`, :content-type application/json,
 *  :message-type exception, payload `json` ({"message":"..."}). */
int es_frame_exception(struct pl_buf *out, const char *name, const char *json, size_t len);

#endif
