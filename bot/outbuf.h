/* A buffer that lws_write can send from: libwebsockets writes its frame or chunk header into
 * LWS_PRE bytes in front of the payload, so every buffer we hand it keeps that headroom at its
 * start. Built once and restarted for each frame, it costs no allocation per frame. */
#ifndef PARLEY_BOT_OUTBUF_H
#define PARLEY_BOT_OUTBUF_H

#include <stddef.h>

#include <libwebsockets.h>

#include "common/buf.h"

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
