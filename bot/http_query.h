/* Reading a request's query string ("a=1&b=2", raw: as bot/http_parse.h leaves it). */
#ifndef PARLEY_BOT_HTTP_QUERY_H
#define PARLEY_BOT_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/** The value of the first parameter `name` of `query`, copied into `out` (NUL-terminated, cut
 *  to outlen - 1 bytes); false when there is none ("name" without "=" counts as none). */
bool http_query_value(const char *query, const char *name, char *out, size_t outlen);

/** Percent-decode `len` bytes of a raw query value into `out` (NUL-terminated): "%XX" (either
 *  case of hex digit) is the byte XX and "+" a space (form encoding, which browsers and curl
 *  use for a query). The decoded length in `*outn`. PL_EINVAL for "%" not followed by two hex
 *  digits or for a NUL byte ("%00": values are C strings), PL_ETOOBIG when the result and its
 *  NUL do not fit `outlen` (`out` is then ""). UTF-8 is not checked: that is the caller's. */
int http_query_decode(const char *in, size_t len, char *out, size_t outlen, size_t *outn);

#endif
