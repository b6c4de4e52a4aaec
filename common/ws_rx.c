/* Server-side RFC 6455 frame decoding; see ws_rx.h. A frame header (2 to 14 bytes) is gathered
 * across calls and checked as soon as each part of it is there; the payload is then either handed
 * out piece by piece (data) or gathered (control, at most 125 bytes). */
#include "common/ws_rx.h"

#include <string.h>

#include "common/utf8.h"

void ws_rx_init(struct ws_rx *d)
{
    memset(d, 0, sizeof(*d));
    d->head_need = 2;
    d->msg_opcode = WS_CONT;
}

bool ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static size_t fail(struct ws_rx *d, uint16_t code, const char *why, size_t taken,
                   struct ws_rx_event *ev)
{
    d->failed = why;
    d->failed_code = code;
    memset(ev, 0, sizeof(*ev));
    ev->kind = WS_RX_FAIL;
    ev->close_code = code;
    ev->reason = why;
    return taken;
}

/* The first two bytes are in: check what they decide, and how long the header is. */
static const char *check_start(struct ws_rx *d)
{
    unsigned char b0 = d->head[0], b1 = d->head[1];
    d->fin = b0 & 0x80;
    d->opcode = b0 & 0x0f;
    unsigned len7 = b1 & 0x7f;
    if (b0 & 0x70)
        return "reserved bits set (no extension was agreed)";
    if (!(b1 & 0x80))
        return "client frames must be masked";
    switch (d->opcode) {
    case WS_CONT:
        if (d->msg_opcode == WS_CONT)
            return "continuation frame without a message";
        break;
    case WS_TEXT:
    case WS_BINARY:
        if (d->msg_opcode != WS_CONT)
            return "new data frame inside a fragmented message";
        break;
    case WS_CLOSE:
    case WS_PING:
    case WS_PONG:
        if (!d->fin)
            return "fragmented control frame";
        if (len7 > 125)
            return "control frame longer than 125 bytes";
        if (d->opcode == WS_CLOSE && len7 == 1)
            return "close frame with a 1-byte body";
        break;
    default:
        return "reserved opcode";
    }
    d->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return NULL;
}

/* The whole header is in: the length (in its shortest form) and the mask. */
static const char *check_head(struct ws_rx *d)
{
    unsigned len7 = d->head[1] & 0x7f;
    uint64_t len = len7;
    size_t at = 2;
    if (len7 == 126) {
        len = (uint64_t)d->head[2] << 8 | d->head[3];
        at = 4;
        if (len < 126)
            return "length not in its shortest form";
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | d->head[2 + i];
        at = 10;
        if (len >> 63)
            return "64-bit length with the top bit set";
        if (len <= 0xffff)
            return "length not in its shortest form";
    }
    memcpy(d->mask, d->head + at, 4);
    d->mask_pos = 0;
    d->remaining = len;
    d->in_payload = true;
    d->ctl_len = 0;
    return NULL;
}

static void unmask(struct ws_rx *d, unsigned char *p, size_t n)
{
    unsigned k = d->mask_pos;
    for (size_t i = 0; i < n; i++, k++)
        p[i] ^= d->mask[k & 3];
    d->mask_pos = k & 3;
}

static void next_frame(struct ws_rx *d)
{
    d->in_payload = false;
    d->head_len = 0;
    d->head_need = 2;
}

/* A whole control frame is in d->ctl. */
static size_t control_done(struct ws_rx *d, size_t taken, struct ws_rx_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = WS_RX_CONTROL;
    ev->opcode = d->opcode;
    ev->data = (const char *)d->ctl;
    ev->len = d->ctl_len;
    if (d->opcode == WS_CLOSE) {
        ev->close_code = WS_CLOSE_NO_STATUS;
        if (d->ctl_len >= 2) {
            unsigned code = (unsigned)d->ctl[0] << 8 | d->ctl[1];
            if (!ws_close_code_valid(code))
                return fail(d, WS_CLOSE_PROTOCOL_ERROR, "invalid close code", taken, ev);
            if (!pl_utf8_valid((const char *)d->ctl + 2, d->ctl_len - 2))
                return fail(d, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8", taken, ev);
            ev->close_code = (uint16_t)code;
            ev->reason = (const char *)d->ctl + 2;
            ev->reason_len = d->ctl_len - 2;
        }
    }
    next_frame(d);
    return taken;
}

size_t ws_rx_next(struct ws_rx *d, char *data, size_t len, struct ws_rx_event *ev)
{
    if (d->failed)
        return fail(d, d->failed_code, d->failed, 0, ev);
    memset(ev, 0, sizeof(*ev));
    size_t taken = 0;
    while (!d->in_payload) {
        if (taken == len) {
            ev->kind = WS_RX_NONE;
            return taken;
        }
        d->head[d->head_len++] = (unsigned char)data[taken++];
        if (d->head_len == 2) {
            const char *why = check_start(d);
            if (why)
                return fail(d, WS_CLOSE_PROTOCOL_ERROR, why, taken, ev);
        }
        if (d->head_len == d->head_need) {
            const char *why = check_head(d);
            if (why)
                return fail(d, WS_CLOSE_PROTOCOL_ERROR, why, taken, ev);
        }
    }
    size_t avail = len - taken;
    size_t n = d->remaining < avail ? (size_t)d->remaining : avail;
    if (d->opcode & 0x8) {
        unmask(d, (unsigned char *)data + taken, n);
        memcpy(d->ctl + d->ctl_len, data + taken, n);
        d->ctl_len += n;
        d->remaining -= n;
        taken += n;
        if (d->remaining > 0) {
            ev->kind = WS_RX_NONE;
            return taken;
        }
        return control_done(d, taken, ev);
    }
    /* A data frame: hand out what is here (a piece of length 0 only for an empty frame). */
    if (n == 0 && d->remaining > 0) {
        ev->kind = WS_RX_NONE;
        return taken;
    }
    if (d->opcode != WS_CONT)
        d->msg_opcode = d->opcode;
    unmask(d, (unsigned char *)data + taken, n);
    ev->kind = WS_RX_DATA;
    ev->opcode = d->msg_opcode;
    ev->data = data + taken;
    ev->len = n;
    ev->first = !d->msg_begun;
    d->msg_begun = true;
    d->remaining -= n;
    taken += n;
    if (d->remaining == 0) {
        ev->final = d->fin;
        if (d->fin) {
            d->msg_opcode = WS_CONT;
            d->msg_begun = false;
        }
        next_frame(d);
    }
    return taken;
}
