/* RFC 6455 framing without I/O, shared by the blocking client (wsc.h) and the benchmark load
 * generator: encode a frame, decode one from a byte buffer, compute Sec-WebSocket-Accept. */
#ifndef PARLEY_COMMON_WS_FRAME_H
#define PARLEY_COMMON_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum ws_opcode {
    WS_CONT = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xA,
};

struct ws_frame {
    int opcode;
    bool fin;
    const char *payload; /* points into the decoded buffer; unmasked in place */
    size_t len;
    size_t total; /* header + payload bytes consumed */
};

/** Append one frame; `mask` (4 bytes) masks the payload as clients must; NULL sends it as is.
 *  PL_OK or PL_ETOOBIG from the buffer. */
int ws_frame_encode(struct pl_buf *out, int opcode, bool fin, const void *data, size_t len,
                    const unsigned char *mask);

/** Decode the frame at the start of `data`: 1 and `f` filled (a masked payload is unmasked in
 *  place), 0 if more bytes are needed, -1 if the frame is larger than `max_len`. */
int ws_frame_decode(char *data, size_t len, size_t max_len, struct ws_frame *f);

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)). */
void ws_frame_accept_key(const char *key, char out[29]);

#endif
