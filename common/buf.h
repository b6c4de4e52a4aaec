/* Growable byte buffer with a hard maximum (curl's dynbuf idea): appending past `max` fails with
 * PL_ETOOBIG instead of growing without bound. The data is always NUL-terminated for convenience.
 */
#ifndef PARLEY_COMMON_BUF_H
#define PARLEY_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct pl_buf {
    char *data; /* NULL until the first append; NUL-terminated after it */
    size_t len;
    size_t cap;
    size_t max; /* most bytes `len` may reach */
};

/** Prepare an empty buffer that may hold at most `max` bytes. */
void pl_buf_init(struct pl_buf *b, size_t max);
/** Free the storage; the buffer may be initialised again. Accepts NULL. */
void pl_buf_cleanup(struct pl_buf *b);
/** Make room for `extra` more bytes at once (one allocation instead of several doublings
 *  for a buffer whose usual size is known). PL_ETOOBIG if that would pass `max`. */
int pl_buf_reserve(struct pl_buf *b, size_t extra);
/** Append `n` bytes. PL_ETOOBIG (buffer unchanged) if that would pass `max`. */
int pl_buf_append(struct pl_buf *b, const void *p, size_t n);
int pl_buf_append_str(struct pl_buf *b, const char *s);
int pl_buf_printf(struct pl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/** Append `s` as the inside of a JSON string (no quotes), escaping as RFC 8259 requires. */
int pl_buf_append_json_escaped(struct pl_buf *b, const char *s, size_t n);
/** Append the C string `s` as a JSON string: quoted and escaped. */
int pl_buf_append_json_string(struct pl_buf *b, const char *s);
/** Append `s` as a Prometheus label value (the inside of its quotes): backslash, double quote
 *  and newline escaped, as the text exposition format requires. */
int pl_buf_append_prom_label(struct pl_buf *b, const char *s);
/** Drop the first `n` bytes (all of them if n >= len). */
void pl_buf_consume(struct pl_buf *b, size_t n);
/** Empty the buffer, keeping its storage. */
void pl_buf_reset(struct pl_buf *b);
/** Take the storage as a new NUL-terminated string (never NULL); the buffer is left empty. */
char *pl_buf_take(struct pl_buf *b);

#endif
