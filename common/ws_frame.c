/* RFC 6455 frame codec; see ws_frame.h. */
#include "common/ws_frame.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/err.h"

int ws_frame_encode(struct pl_buf *out, int opcode, bool fin, const void *data, size_t len,
                    const unsigned char *mask)
{
    unsigned char h[14];
    size_t n = 0;
    unsigned char mask_bit = mask ? 0x80 : 0;
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
    if (mask) {
        memcpy(h + n, mask, 4);
        n += 4;
    }
    size_t start = out->len;
    if (pl_buf_append(out, h, n) != PL_OK || pl_buf_append(out, data ? data : "", len) != PL_OK) {
        out->len = start;
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
    const unsigned char *b = (const unsigned char *)data;
    if (len < 2)
        return 0;
    size_t h = 2;
    uint64_t plen = b[1] & 0x7f;
    bool masked = b[1] & 0x80;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = (uint64_t)b[2] << 8 | b[3];
        h = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | b[2 + i];
        h = 10;
    }
    if (plen > max_len)
        return -1;
    size_t mask_at = h;
    if (masked)
        h += 4;
    if (len < h + plen)
        return 0;
    f->opcode = b[0] & 0x0f;
    f->fin = b[0] & 0x80;
    f->payload = data + h;
    f->len = (size_t)plen;
    f->total = h + (size_t)plen;
    if (masked) {
        unsigned char *p = (unsigned char *)data + h;
        for (size_t i = 0; i < plen; i++)
            p[i] ^= b[mask_at + (i & 3)];
    }
    return 1;
}

void ws_frame_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[128];
    snprintf(cat, sizeof(cat), "%s%s", key, guid);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
}
