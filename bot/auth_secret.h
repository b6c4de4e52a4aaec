/* The rule for the HS256 secret that signs every token (docs/configuration.md, --jwt-secret):
 * whoever knows it mints admin tokens and reads every transcript, so parleyd and `parley token`
 * refuse a secret that is short or that anyone could read in a sample file. */
#ifndef PARLEY_BOT_AUTH_SECRET_H
#define PARLEY_BOT_AUTH_SECRET_H

#include <stddef.h>

/* Shortest secret accepted, in bytes: 256 bits, the size of the HMAC-SHA256 key block's hash. */
#define AUTH_SECRET_MIN_BYTES 32

/** PL_OK if `secret` (borrowed, NUL-terminated) may sign tokens. PL_EINVAL with a message in
 *  err[errlen] (naming `setting`, e.g. "--jwt-secret / PARLEY_JWT_SECRET", and how to make a
 *  good secret) when it is shorter than AUTH_SECRET_MIN_BYTES, one character repeated, or a
 *  known placeholder (the docker-compose sample, "change-me", "your-256-bit-secret", ...:
 *  compared ignoring case, and refused when the secret contains one). */
int auth_secret_check(const char *secret, const char *setting, char *err, size_t errlen);

#endif
