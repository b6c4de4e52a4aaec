/* base64url (RFC 4648 section 5) without padding, as JWTs (RFC 7515) use it; and decoding of
 * standard padded base64 (section 4), as AWS sends bytes in JSON. */
#ifndef PARLEY_COMMON_BASE64_H
#define PARLEY_COMMON_BASE64_H

#include <stddef.h>

/** New NUL-terminated base64url text of the `len` bytes at `in` (borrowed; may be NULL when len
 *  is 0), without '=' padding. Never NULL; the caller frees it with pl_free. */
char *pl_base64url_encode(const void *in, size_t len);

/** Decode `len` characters of unpadded base64url at `in` (borrowed). On PL_OK `*out` is a new
 *  buffer of `*outlen` bytes plus a NUL byte not counted (the caller frees it with pl_free).
 *  PL_EINVAL (nothing allocated, `*out` NULL, `*outlen` 0) for a character outside A-Z a-z 0-9
 *  '-' '_' (this includes '=' padding and the '+' '/' of standard base64), for len % 4 == 1, and
 *  for non-zero unused bits in the last character (a non-canonical encoding). */
int pl_base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/** Decode `len` characters of standard padded base64 (A-Z a-z 0-9 + /, '=' padding to a
 *  multiple of 4) at `in`, with pl_base64url_decode's contract otherwise (new buffer plus an
 *  uncounted NUL; PL_EINVAL for any other character, padding not at the end, a length that is
 *  not a multiple of 4, or non-zero unused bits). */
int pl_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
