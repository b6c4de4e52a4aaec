/* base64url encoding and strict decoding; see base64.h. */
#include "common/base64.h"

#include <stdint.h>

#include "common/alloc.h"
#include "common/err.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *pl_base64url_encode(const void *in, size_t len)
{
    const unsigned char *p = in;
    size_t full = len / 3, rest = len % 3;
    size_t outlen = full * 4 + (rest ? rest + 1 : 0);
    char *out = pl_malloc(outlen + 1);
    char *o = out;
    for (size_t i = 0; i < full; i++) {
        uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
        p += 3;
    }
    if (rest) {
        uint32_t v = (uint32_t)p[0] << 16 | (rest == 2 ? (uint32_t)p[1] << 8 : 0);
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        if (rest == 2)
            *o++ = alphabet[v >> 6 & 63];
    }
    *o = '\0';
    return out;
}

/* Value of a base64url character, or -1. */
static int digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int pl_base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return PL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (digit((unsigned char)in[i]) < 0)
            return PL_EINVAL;
    }
    size_t rest = len % 4;
    size_t n = len / 4 * 3 + (rest ? rest - 1 : 0);
    if (rest) {
        /* The bits of the last character past the final byte must be zero. */
        int last = digit((unsigned char)in[len - 1]);
        if ((rest == 2 && (last & 0x0F)) || (rest == 3 && (last & 0x03)))
            return PL_EINVAL;
    }
    unsigned char *buf = pl_malloc(n + 1);
    unsigned char *o = buf;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t v = (uint32_t)digit((unsigned char)in[i]) << 18 |
                     (uint32_t)digit((unsigned char)in[i + 1]) << 12 |
                     (uint32_t)digit((unsigned char)in[i + 2]) << 6 |
                     (uint32_t)digit((unsigned char)in[i + 3]);
        *o++ = (unsigned char)(v >> 16);
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)v;
    }
    if (rest) {
        uint32_t v = (uint32_t)digit((unsigned char)in[i]) << 18 |
                     (uint32_t)digit((unsigned char)in[i + 1]) << 12;
        if (rest == 3)
            v |= (uint32_t)digit((unsigned char)in[i + 2]) << 6;
        *o++ = (unsigned char)(v >> 16);
        if (rest == 3)
            *o++ = (unsigned char)(v >> 8);
    }
    *o = '\0';
    *out = buf;
    *outlen = n;
    return PL_OK;
}

int pl_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (len % 4 != 0)
        return PL_EINVAL;
    size_t body = len;
    for (int pad = 0; pad < 2 && body > 0 && in[body - 1] == '='; pad++)
        body--;
    /* The same alphabet but for two characters: translate, then decode as base64url. */
    char *url = pl_malloc(body + 1);
    for (size_t i = 0; i < body; i++) {
        char ch = in[i];
        if (ch == '-' || ch == '_' || ch == '=')
            ch = '!'; /* not base64: refused below */
        else if (ch == '+')
            ch = '-';
        else if (ch == '/')
            ch = '_';
        url[i] = ch;
    }
    int rc = pl_base64url_decode(url, body, out, outlen);
    pl_free(url);
    return rc;
}
