/* Bounded growable buffer; see buf.h. */
#include "common/buf.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

void pl_buf_init(struct pl_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void pl_buf_cleanup(struct pl_buf *b)
{
    if (!b)
        return;
    pl_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int reserve(struct pl_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return PL_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return PL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = pl_realloc(b->data, cap);
    b->cap = cap;
    return PL_OK;
}

int pl_buf_reserve(struct pl_buf *b, size_t extra)
{
    return reserve(b, extra);
}

int pl_buf_append(struct pl_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return PL_OK;
}

int pl_buf_append_str(struct pl_buf *b, const char *s)
{
    return pl_buf_append(b, s, strlen(s));
}

int pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return PL_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return PL_OK;
}

int pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int pl_buf_append_json_escaped(struct pl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue; /* nearly every byte needs no escape: settle that first */
        char esc[7];
        size_t esc_len = 2;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
        } else { /* the other control characters */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        int rc = pl_buf_append(b, s + start, i - start);
        if (!rc)
            rc = pl_buf_append(b, esc, esc_len);
        if (rc)
            return rc;
        start = i + 1;
    }
    return pl_buf_append(b, s + start, n - start);
}

int pl_buf_append_json_string(struct pl_buf *b, const char *s)
{
    int rc = pl_buf_append(b, "\"", 1);
    if (!rc)
        rc = pl_buf_append_json_escaped(b, s, strlen(s));
    if (!rc)
        rc = pl_buf_append(b, "\"", 1);
    return rc;
}

int pl_buf_append_prom_label(struct pl_buf *b, const char *s)
{
    int rc = PL_OK;
    for (; *s && !rc; s++) {
        if (*s == '\\' || *s == '"')
            rc = pl_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            rc = pl_buf_append_str(b, "\\n");
        else
            rc = pl_buf_append(b, s, 1);
    }
    return rc;
}

void pl_buf_consume(struct pl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

void pl_buf_reset(struct pl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *pl_buf_take(struct pl_buf *b)
{
    char *s = b->data ? b->data : pl_strdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}
