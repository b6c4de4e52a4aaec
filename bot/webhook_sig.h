/* Signed webhooks (API.md "Signed webhooks"; docs/security.md): the sender adds
 *   X-Parley-Timestamp: <unix seconds>
 *   X-Parley-Signature: v1=<hex HMAC-SHA256(webhook secret, timestamp + "." + raw body)>
 * and Parley accepts the request only when a v1 signature matches (compared in constant time)
 * and the timestamp is within WEBHOOK_TOLERANCE_S of its clock. The header may list several
 * signatures ("v1=..,v1=.."), so that a sender can sign with a new secret and the old one while
 * they change over. Refusing a signature seen before is the caller's (it remembers accepted
 * ones for the window in Redis). I/O-free; used by POST /v1/lex, /v1/connect and parley-lambda;
 * fuzzed by tests/fuzz/fuzz_webhook_sig.c. */
#ifndef PARLEY_BOT_WEBHOOK_SIG_H
#define PARLEY_BOT_WEBHOOK_SIG_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_TOLERANCE_S 300
/* Hex of an HMAC-SHA256, and its NUL. */
#define WEBHOOK_SIG_HEX_LEN 64
/* Most signatures looked at in one header. */
#define WEBHOOK_SIGS_MAX 4

enum webhook_verdict {
    WEBHOOK_OK,
    WEBHOOK_MISSING,   /* no timestamp or no signature header */
    WEBHOOK_MALFORMED, /* a timestamp that is not decimal seconds, or no v1=<64 hex> entry */
    WEBHOOK_STALE,     /* the timestamp is more than the tolerance from now */
    WEBHOOK_MISMATCH,  /* no signature matches */
};

/** The v1 signature of `len` bytes of `body` sent at `timestamp` (decimal seconds, as sent),
 *  in lower-case hex with its NUL. */
void webhook_sign(const char *secret, size_t secret_len, const char *timestamp, const char *body,
                  size_t len, char out[WEBHOOK_SIG_HEX_LEN + 1]);

/** Check a request's headers (NULL when absent) against `secret` at `now_s`. On WEBHOOK_OK,
 *  `matched` (if not NULL) holds the signature that matched, to remember against replays. */
enum webhook_verdict webhook_verify(const char *secret, size_t secret_len, const char *timestamp,
                                    const char *signature, const char *body, size_t len,
                                    int64_t now_s, char matched[WEBHOOK_SIG_HEX_LEN + 1]);

/** A sentence for the log and the 401's message ("the X-Parley-Signature does not match"). */
const char *webhook_verdict_message(enum webhook_verdict v);

#endif
