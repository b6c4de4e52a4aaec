/* Strict UTF-8 (RFC 3629) checking and code point counting for text that peers send: no
 * overlong forms, no UTF-16 surrogates, nothing above U+10FFFF. */
#ifndef PARLEY_COMMON_UTF8_H
#define PARLEY_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/** True if the `len` bytes at `s` (borrowed; may hold NUL bytes, which are valid U+0000) are
 *  well-formed UTF-8 under RFC 3629. An empty string is valid. */
bool pl_utf8_valid(const char *s, size_t len);

/** Length (1-4) of the well-formed UTF-8 sequence at the start of the `len` bytes at `s`
 *  (borrowed), or 0 if they do not start with one (or len is 0). */
size_t pl_utf8_seq_len(const char *s, size_t len);

/** Number of code points in `len` bytes of valid UTF-8 at `s` (borrowed). For invalid input the
 *  result is the number of bytes that are not continuation bytes (0x80-0xBF); check first. */
size_t pl_utf8_count(const char *s, size_t len);

#endif
