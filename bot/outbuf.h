/* A buffer with headroom: LWS_PRE free bytes in front of the payload, where a WebSocket frame
 * header is written (bot/conn.h, conn_ws_send) so that a frame goes out without a copy. Built
 * once and restarted for each frame, it costs no allocation per frame. */
#ifndef PARLEY_BOT_OUTBUF_H
#define PARLEY_BOT_OUTBUF_H

#include <stddef.h>

#include <libwebsockets.h>

#include "bot/conn.h"
#include "common/buf.h"

_Static_assert(LWS_PRE >= CONN_WS_HEADROOM, "frame headers are written in the headroom");

/** Prepare `b` for payloads of at most `max` bytes, with room for `usual` at once. */
void outbuf_begin(struct pl_buf *b, size_t max, size_t usual);
/** Empty `b` down to its headroom, keeping its storage. */
void outbuf_restart(struct pl_buf *b);

/** The payload (after the headroom) and its length. */
static inline unsigned char *outbuf_payload(struct pl_buf *b)
{
    return (unsigned char *)b->data + LWS_PRE;
}

static inline size_t outbuf_len(const struct pl_buf *b)
{
    return b->len > LWS_PRE ? b->len - LWS_PRE : 0;
}

#endif
