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

/** True if the `len` bytes at `s` (borrowed) hold a control character: U+0000-U+001F (CR, LF,
 *  tab, ESC, ...), U+007F-U+009F (DEL and the C1 controls, U+009B being CSI) or the line and
 *  paragraph separators U+2028/U+2029. Such characters have no place in names and ids a caller
 *  gives (a session's channel, a client id) and could break a log line or a terminal. Bytes that
 *  are not UTF-8 are not looked into: check validity first. */
bool pl_utf8_has_control(const char *s, size_t len);

/** The length of the longest prefix of the `len` bytes at `s` that is at most `max` bytes and
 *  does not end inside a UTF-8 sequence (`len` itself when it fits). */
size_t pl_utf8_cut(const char *s, size_t len, size_t max);

#endif
