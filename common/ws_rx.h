/* The server side of RFC 6455 framing, without I/O: an incremental decoder of the frames a
 * client sends, strict where the RFC says a server must fail the connection. It never holds a
 * data message: payload bytes are unmasked in place and handed out as they arrive (the caller
 * bounds and joins messages); control frames (at most 125 bytes) are held until complete. What
 * it refuses, with the close code to send:
 *   1002: an unmasked frame (section 5.1), RSV bits without an extension (5.2), a reserved
 *         opcode, a fragmented or > 125-byte control frame (5.5), a length not in its shortest
 *         form or with the top bit set (5.2), a continuation without a message or a new message
 *         inside one (5.4), a close frame with a 1-byte body or a code no endpoint may send
 *         (7.4: below 1000, 1004-1006, 1015, 1016-2999, 5000 and above);
 *   1007: a close reason that is not UTF-8 (7.1.6).
 * UTF-8 in text messages is the caller's to check (the whole message, once joined). Used by
 * bot/conn.c; fuzzed by tests/fuzz/fuzz_ws_frames.c. */
#ifndef PARLEY_COMMON_WS_RX_H
#define PARLEY_COMMON_WS_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ws_frame.h"

/* Close codes Parley sends (RFC 6455 section 7.4.1). */
#define WS_CLOSE_NORMAL         1000
#define WS_CLOSE_GOING_AWAY     1001
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_NO_STATUS      1005 /* never sent: a close frame without a code */
#define WS_CLOSE_INVALID_DATA   1007
#define WS_CLOSE_POLICY         1008
#define WS_CLOSE_TOO_BIG        1009
#define WS_CLOSE_INTERNAL       1011

enum ws_rx_kind {
    WS_RX_NONE,    /* every byte given was taken; nothing to report yet */
    WS_RX_DATA,    /* a piece of a data message */
    WS_RX_CONTROL, /* a whole ping, pong or close frame */
    WS_RX_FAIL,    /* the client broke RFC 6455: close with `close_code` */
};

struct ws_rx_event {
    enum ws_rx_kind kind;
    int opcode;       /* DATA: the message's (WS_TEXT, WS_BINARY); CONTROL: its own */
    const char *data; /* DATA: unmasked bytes inside the buffer fed; CONTROL: the payload, held
                         by the decoder until the next call; FAIL: NULL */
    size_t len;
    bool first, final;   /* DATA: this piece starts / ends its message (both for a whole one) */
    uint16_t close_code; /* CONTROL close: its code, 1005 if it had none; FAIL: the code to send */
    const char *reason;  /* CONTROL close: its reason (not NUL-terminated, `reason_len` bytes);
                            FAIL: why, static NUL-terminated text */
    size_t reason_len;
};

/* The decoder. Fields are private. */
struct ws_rx {
    unsigned char head[14]; /* the frame header being read */
    size_t head_len, head_need;
    bool in_payload;
    int opcode;
    bool fin;
    uint64_t remaining; /* payload bytes of the current frame still to come */
    unsigned char mask[4];
    unsigned mask_pos;
    int msg_opcode; /* WS_TEXT or WS_BINARY while a message is open, else WS_CONT */
    bool msg_begun; /* a piece of the open message was handed out */
    unsigned char ctl[125];
    size_t ctl_len;
    const char *failed; /* sticky: why the stream was refused */
    uint16_t failed_code;
};

/** Prepare a decoder. It holds no storage (no cleanup). */
void ws_rx_init(struct ws_rx *d);

/** Decode from the `len` bytes at `data` (masked payload is unmasked in place). Returns how many
 *  bytes were taken and fills `ev`: DATA or CONTROL (call again with the rest), NONE (all `len`
 *  taken, more needed), or FAIL (stop reading; every later call fails again, taking nothing). A
 *  zero-length data frame gives a DATA event of length 0. */
size_t ws_rx_next(struct ws_rx *d, char *data, size_t len, struct ws_rx_event *ev);

/** May an endpoint send close code `code` (RFC 6455 section 7.4)? */
bool ws_close_code_valid(unsigned code);

#endif
