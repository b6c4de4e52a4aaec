/* RFC 6455 (WebSocket) client-side codec without I/O (the server's decoder is ws_rx.h), shared by
 * the blocking client (wsc.h) and the benchmark load generator: the opening handshake (request and
 * check of the 101 answer), frame encoding, and an incremental decoder that reassembles fragmented
 * server messages. */
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

/* Length of a Sec-WebSocket-Key (base64 of 16 bytes) and of a Sec-WebSocket-Accept (base64 of
 * a SHA-1), without the NUL. */
#define WS_FRAME_KEY_LEN    24
#define WS_FRAME_ACCEPT_LEN 28
/* Most bytes of a handshake answer's header that ws_frame_check_response waits for. */
#define WS_FRAME_RESPONSE_MAX 8192

/* One frame as ws_frame_decode found it. */
struct ws_frame {
    int opcode;
    bool fin;
    const char *payload; /* points into the decoded buffer; unmasked in place */
    size_t len;
    size_t total; /* header + payload bytes consumed */
};

/* Incremental decoder of the frames a server sends. Fields are private. */
struct ws_frame_decoder {
    struct pl_buf in;   /* bytes fed; those before `off` are already decoded */
    size_t off;         /* start of the first frame not yet decoded */
    struct pl_buf msg;  /* fragments of the data message being reassembled */
    int msg_opcode;     /* WS_TEXT or WS_BINARY while reassembling, else WS_CONT */
    bool msg_returned;  /* msg was handed out: reset it on the next call */
    size_t max_message; /* most payload bytes of one message */
    int error;          /* sticky: once a frame was bad, every call returns it */
};

/** Append one frame to `out`; `mask` (4 bytes, borrowed) masks the payload as a client must,
 *  NULL sends it unmasked. `data` may be NULL when `len` is 0. `fin` false starts or continues
 *  a fragmented message. PL_OK, or PL_ETOOBIG (out unchanged) when `out` is full. */
int ws_frame_encode(struct pl_buf *out, int opcode, bool fin, const void *data, size_t len,
                    const unsigned char *mask);

/* Longest header of an unmasked frame (a server's): 2 bytes and a 64-bit length. */
#define WS_FRAME_SERVER_HEADER_MAX 10

/** Write the header of an unmasked frame of `len` payload bytes into `out` (at least
 *  WS_FRAME_SERVER_HEADER_MAX bytes); returns its length (2, 4 or 10). */
size_t ws_frame_server_header(unsigned char *out, int opcode, bool fin, size_t len);

/** Decode the single frame at the start of `data` (no reassembly, no checks beyond the length):
 *  1 and `f` filled (a masked payload is unmasked in place, `f->payload` points into `data`),
 *  0 if more bytes are needed, -1 if the payload is longer than `max_len`. */
int ws_frame_decode(char *data, size_t len, size_t max_len, struct ws_frame *f);

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)), written
 *  NUL-terminated into `out`. `key` is at most 64 characters (longer keys give an empty `out`). */
void ws_frame_accept_key(const char *key, char out[WS_FRAME_ACCEPT_LEN + 1]);

/** Append to `out` a client opening handshake: GET `path` (starting with '/') with Host `host`
 *  ("name" or "name:port"), a fresh random Sec-WebSocket-Key (also written NUL-terminated into
 *  `key_out`, needed by ws_frame_check_response), Sec-WebSocket-Version 13 and, unless
 *  `subprotocol` is NULL, Sec-WebSocket-Protocol. PL_OK; PL_EINVAL if an argument is empty or
 *  holds a control character or space; PL_EIO if no random bytes; PL_ETOOBIG if `out` is full. */
int ws_frame_client_handshake(struct pl_buf *out, const char *host, const char *path,
                              const char *subprotocol, char key_out[WS_FRAME_KEY_LEN + 1]);

/** Check the server's answer to a handshake sent with `key` and `subprotocol` (NULL: none
 *  offered), from the bytes received so far (`data`, `len`; need not be NUL-terminated).
 *  Returns the length of the answer's header (> 0; any bytes after it are frames) when it is a
 *  "101" with Upgrade: websocket, Connection: Upgrade, the right Sec-WebSocket-Accept and,
 *  exactly, the offered subprotocol (none if none was offered); 0 if the header is not complete
 *  yet; PL_EPROTO with a reason in `err` (borrowed, `errlen` bytes, may be NULL) otherwise,
 *  including a header longer than WS_FRAME_RESPONSE_MAX. */
int ws_frame_check_response(const char *data, size_t len, const char *key, const char *subprotocol,
                            char *err, size_t errlen);

/** Prepare a decoder of server frames whose messages may hold at most `max_message` bytes. */
void ws_frame_decoder_init(struct ws_frame_decoder *d, size_t max_message);

/** Free the decoder's storage. Accepts NULL. */
void ws_frame_decoder_cleanup(struct ws_frame_decoder *d);

/** Hand received bytes to the decoder (copied). Invalidates messages returned before.
 *  PL_OK, or PL_ETOOBIG if more than about twice max_message bytes are fed without draining
 *  them with ws_frame_decoder_next. */
int ws_frame_decoder_feed(struct ws_frame_decoder *d, const void *data, size_t len);

/** The next complete message: 1 with `*opcode` (WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING or
 *  WS_PONG), `*msg` (borrowed, not NUL-terminated, valid until the next call on `d`) and `*len`;
 *  fragments of a data message are joined, control frames between them come out on their own.
 *  0 when more bytes are needed. PL_EPROTO for a frame RFC 6455 forbids from a server (masked,
 *  RSV bits, reserved opcode, fragmented or > 125-byte control frame, 1-byte close payload,
 *  continuation without a start, data frame inside a fragmented message, 64-bit length with
 *  the top bit) and PL_ETOOBIG for a message longer than max_message; errors are sticky. */
int ws_frame_decoder_next(struct ws_frame_decoder *d, int *opcode, const char **msg, size_t *len);

#endif
