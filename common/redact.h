/* Secrets out of text that is about to be logged or shown: the password of a URL
 * (redis://user:password@host), bearer and basic credentials, API keys, JWTs and the values of
 * fields named like secrets ("token":"...", x-api-key: ...). The logger runs every line through
 * pl_redact_secrets; pl_redact_url is for the places that print a configured URL. */
#ifndef PARLEY_COMMON_REDACT_H
#define PARLEY_COMMON_REDACT_H

#include <stddef.h>

#include "common/buf.h"

/* What a removed secret is replaced with. */
#define PL_REDACTED "***"

/** Copy `url` (borrowed, NUL-terminated) into out[cap] with the password of its userinfo
 *  (up to the last '@') replaced by PL_REDACTED: "redis://u:pw@h:1/0" becomes
 *  "redis://u:" PL_REDACTED "@h:1/0"; a userinfo without a colon is all secret. A URL without
 *  userinfo is copied as it is. The result is cut to fit `cap` (cap > 0) and NUL-terminated.
 * Returns `out`. */
char *pl_redact_url(const char *url, char *out, size_t cap);

/** Append the `n` bytes at `s` to `out` with every secret found replaced by PL_REDACTED:
 *  - the password of a URL's userinfo (as pl_redact_url, anywhere in the text);
 *  - the credentials after "Bearer " or "Basic " (any case);
 *  - a JWT (three base64url parts starting "eyJ", separated by dots);
 *  - an API key of the form sk-... (16 or more key characters after the dash);
 *  - the value of a field named authorization, proxy-authorization, x-api-key, api-key, api_key,
 *    apikey, token, access_token, refresh_token, id_token, password, passwd, secret,
 *    client_secret, jwt_secret, jwt-secret, webhook_secret, aws_secret_access_key or
 *    aws_session_token (any case, as a whole word), followed by ':' or '=' (JSON "key":"value",
 *    key=value, a "key: value" header line).
 *  Returns PL_OK or PL_ETOOBIG when `out` is full (what fitted is kept). */
int pl_redact_secrets(struct pl_buf *out, const char *s, size_t n);

#endif
