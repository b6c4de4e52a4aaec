/* RFC 6455 client-side codec: handshake, frame encoding and incremental decoding of server
 * frames; see ws_frame.h. No I/O: the callers own their sockets. */
#include "common/ws_frame.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/token_list.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Standard base64 (RFC 4648 §4, with padding) of n bytes into out (4 * ceil(n / 3) + 1). */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
}

/* A frame header. */
struct head {
    bool fin, masked;
    unsigned rsv;
    int opcode;
    uint64_t plen;
    size_t hlen; /* header bytes, masking key included */
};

/* Parse the header at b: 1 (h filled), 0 if more bytes are needed. */
static int parse_head(const unsigned char *b, size_t len, struct head *h)
{
    if (len < 2)
        return 0;
    h->fin = b[0] & 0x80;
    h->rsv = (b[0] >> 4) & 7;
    h->opcode = b[0] & 0x0f;
    h->masked = b[1] & 0x80;
    h->plen = b[1] & 0x7f;
    h->hlen = 2;
    if (h->plen == 126) {
        if (len < 4)
            return 0;
        h->plen = (uint64_t)b[2] << 8 | b[3];
        h->hlen = 4;
    } else if (h->plen == 127) {
        if (len < 10)
            return 0;
        h->plen = 0;
        for (int i = 0; i < 8; i++)
            h->plen = h->plen << 8 | b[2 + i];
        h->hlen = 10;
    }
    if (h->masked)
        h->hlen += 4;
    return 1;
}

/* A frame header with mask bit `mask_bit` (0x80 or 0) into h (at least 10 bytes). */
static size_t put_header(unsigned char *h, int opcode, bool fin, size_t len, unsigned char mask_bit)
{
    size_t n = 0;
    h[n++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        h[n++] = (unsigned char)(mask_bit | len);
    } else if (len <= 0xffff) {
        h[n++] = mask_bit | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    return n;
}

size_t ws_frame_server_header(unsigned char *out, int opcode, bool fin, size_t len)
{
    return put_header(out, opcode, fin, len, 0);
}

int ws_frame_encode(struct pl_buf *out, int opcode, bool fin, const void *data, size_t len,
                    const unsigned char *mask)
{
    unsigned char h[14];
    size_t n = put_header(h, opcode, fin, len, mask ? 0x80 : 0);
    if (mask) {
        memcpy(h + n, mask, 4);
        n += 4;
    }
    size_t start = out->len;
    if (pl_buf_append(out, h, n) != PL_OK || pl_buf_append(out, data ? data : "", len) != PL_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return PL_ETOOBIG;
    }
    if (mask) {
        unsigned char *p = (unsigned char *)out->data + start + n;
        for (size_t i = 0; i < len; i++)
            p[i] ^= mask[i & 3];
    }
    return PL_OK;
}

int ws_frame_decode(char *data, size_t len, size_t max_len, struct ws_frame *f)
{
    struct head h;
    if (!parse_head((const unsigned char *)data, len, &h))
        return 0;
    if (h.plen > max_len)
        return -1;
    if (len < h.hlen || len - h.hlen < h.plen)
        return 0;
    f->opcode = h.opcode;
    f->fin = h.fin;
    f->payload = data + h.hlen;
    f->len = (size_t)h.plen;
    f->total = h.hlen + (size_t)h.plen;
    if (h.masked) {
        unsigned char *p = (unsigned char *)data + h.hlen;
        const unsigned char *mask = p - 4;
        for (size_t i = 0; i < f->len; i++)
            p[i] ^= mask[i & 3];
    }
    return 1;
}

void ws_frame_accept_key(const char *key, char out[WS_FRAME_ACCEPT_LEN + 1])
{
    char cat[64 + sizeof(ws_guid)];
    size_t klen = strlen(key);
    out[0] = '\0';
    if (klen > 64)
        return;
    memcpy(cat, key, klen);
    memcpy(cat + klen, ws_guid, sizeof(ws_guid) - 1);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, klen + sizeof(ws_guid) - 1, sha);
    b64_encode(sha, sizeof(sha), out);
}

/* A header value we may put on a request line: not empty, no controls, no spaces. */
static bool token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

int ws_frame_client_handshake(struct pl_buf *out, const char *host, const char *path,
                              const char *subprotocol, char key_out[WS_FRAME_KEY_LEN + 1])
{
    if (!token_ok(host) || !token_ok(path) || path[0] != '/' ||
        (subprotocol && !token_ok(subprotocol)))
        return PL_EINVAL;
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return PL_EIO;
    b64_encode(raw, sizeof(raw), key_out);
    size_t start = out->len;
    int rc = pl_buf_printf(out,
                           "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n",
                           path, host, key_out);
    if (rc == PL_OK && subprotocol)
        rc = pl_buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
    if (rc == PL_OK)
        rc = pl_buf_append_str(out, "\r\n");
    if (rc != PL_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return PL_ETOOBIG;
    }
    return PL_OK;
}

int ws_frame_check_response(const char *data, size_t len, const char *key, const char *subprotocol,
                            char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > WS_FRAME_RESPONSE_MAX) {
            snprintf(err, errlen, "handshake answer header too long");
            return PL_EPROTO;
        }
        return 0;
    }
    size_t head_len = (size_t)(end - data) + 4;
    if (head_len > WS_FRAME_RESPONSE_MAX) {
        snprintf(err, errlen, "handshake answer header too long");
        return PL_EPROTO;
    }
    char want[WS_FRAME_ACCEPT_LEN + 1];
    ws_frame_accept_key(key, want);
    char *head = pl_strndup(data, head_len - 2); /* keep the last line's CRLF */
    int rc = PL_EPROTO;
    bool upgrade = false, connection = false, accept = false;
    const char *proto = NULL;
    char *line_end = strstr(head, "\r\n");
    *line_end = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0 || (head[12] != ' ' && head[12] != '\0')) {
        snprintf(err, errlen, "handshake refused: %.200s", head);
        goto out;
    }
    for (char *line = line_end + 2; *line; line = line_end + 2) {
        line_end = strstr(line, "\r\n");
        *line_end = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            *--ve = '\0';
        if (!strcasecmp(line, "Upgrade"))
            upgrade = !strcasecmp(v, "websocket");
        else if (!strcasecmp(line, "Connection"))
            connection = token_list_has(v, "upgrade");
        else if (!strcasecmp(line, "Sec-WebSocket-Accept"))
            accept = want[0] && !strcmp(v, want);
        else if (!strcasecmp(line, "Sec-WebSocket-Protocol"))
            proto = v;
    }
    if (!upgrade || !connection) {
        snprintf(err, errlen, "handshake answer lacks Upgrade: websocket / Connection: Upgrade");
    } else if (!accept) {
        snprintf(err, errlen, "wrong or missing Sec-WebSocket-Accept");
    } else if (subprotocol && (!proto || strcmp(proto, subprotocol) != 0)) {
        snprintf(err, errlen, "server did not accept subprotocol %.100s", subprotocol);
    } else if (!subprotocol && proto) {
        snprintf(err, errlen, "server chose subprotocol %.100s that was not offered", proto);
    } else {
        rc = (int)head_len;
    }
out:
    pl_free(head);
    return rc;
}

void ws_frame_decoder_init(struct ws_frame_decoder *d, size_t max_message)
{
    memset(d, 0, sizeof(*d));
    size_t in_max = max_message > SIZE_MAX / 4 ? SIZE_MAX : 2 * max_message + 65536 + 16;
    pl_buf_init(&d->in, in_max);
    pl_buf_init(&d->msg, max_message);
    d->msg_opcode = WS_CONT;
    d->max_message = max_message;
}

void ws_frame_decoder_cleanup(struct ws_frame_decoder *d)
{
    if (!d)
        return;
    pl_buf_cleanup(&d->in);
    pl_buf_cleanup(&d->msg);
}

int ws_frame_decoder_feed(struct ws_frame_decoder *d, const void *data, size_t len)
{
    if (d->off) {
        pl_buf_consume(&d->in, d->off);
        d->off = 0;
    }
    return pl_buf_append(&d->in, data, len);
}

static int fail(struct ws_frame_decoder *d, int err)
{
    d->error = err;
    return err;
}

int ws_frame_decoder_next(struct ws_frame_decoder *d, int *opcode, const char **msg, size_t *len)
{
    if (d->error)
        return d->error;
    if (d->msg_returned) {
        pl_buf_reset(&d->msg);
        d->msg_returned = false;
        d->msg_opcode = WS_CONT;
    }
    for (;;) {
        const unsigned char *b = (const unsigned char *)d->in.data + d->off;
        size_t avail = d->in.len - d->off;
        struct head h;
        if (!avail || !parse_head(b, avail, &h))
            return 0;
        bool control = h.opcode & 0x8;
        if (h.rsv || h.masked || h.plen >> 63)
            return fail(d, PL_EPROTO);
        if (h.opcode != WS_CONT && h.opcode != WS_TEXT && h.opcode != WS_BINARY &&
            h.opcode != WS_CLOSE && h.opcode != WS_PING && h.opcode != WS_PONG)
            return fail(d, PL_EPROTO);
        if (control && (!h.fin || h.plen > 125 || (h.opcode == WS_CLOSE && h.plen == 1)))
            return fail(d, PL_EPROTO);
        if (!control && (h.opcode == WS_CONT) == (d->msg_opcode == WS_CONT))
            return fail(d, PL_EPROTO); /* continuation without start, or start inside one */
        if (h.plen > d->max_message ||
            (h.opcode == WS_CONT && h.plen > d->max_message - d->msg.len))
            return fail(d, PL_ETOOBIG);
        if (avail < h.hlen || avail - h.hlen < h.plen)
            return 0;
        const char *payload = (const char *)b + h.hlen;
        size_t plen = (size_t)h.plen;
        d->off += h.hlen + plen;
        if (control || (h.opcode != WS_CONT && h.fin)) {
            *opcode = h.opcode;
            *msg = plen ? payload : "";
            *len = plen;
            return 1;
        }
        if (h.opcode != WS_CONT)
            d->msg_opcode = h.opcode;
        if (pl_buf_append(&d->msg, payload, plen) != PL_OK)
            return fail(d, PL_ETOOBIG);
        if (h.fin) {
            *opcode = d->msg_opcode;
            *msg = d->msg.data ? d->msg.data : "";
            *len = d->msg.len;
            d->msg_returned = true;
            return 1;
        }
    }
}
