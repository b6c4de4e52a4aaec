/* The replies of the AWS credentials endpoints, I/O-free: the ECS/EKS container endpoint's and
 * EC2 instance metadata's JSON document {AccessKeyId, SecretAccessKey, Token, Expiration}
 * (PROTOCOLS.md section 6D), and the RFC 3339 times they carry (also AWS_CREDENTIAL_EXPIRATION).
 *
 * Secrets: nothing here logs or prints a value; error messages are fixed strings. The key id,
 * secret and token go into request headers, so a value with a control byte is refused. */
#ifndef PARLEY_CONNECTORS_AWS_CREDENTIALS_JSON_H
#define PARLEY_CONNECTORS_AWS_CREDENTIALS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "connectors/aws_sigv4.h"

#define PL_AWS_CREDS_MAX_REPLY (64 * 1024) /* a reply longer than this is refused */
#define PL_RFC3339_MAX         40          /* bytes pl_rfc3339_format writes, with the NUL */

struct pl_aws_creds_reply {
    char access_key_id[PL_SIGV4_MAX_KEY + 1];
    char secret_access_key[PL_SIGV4_MAX_KEY + 1];
    char session_token[PL_SIGV4_MAX_TOKEN + 1]; /* "" without one */
    int64_t expiration_ms; /* Unix time in ms (0 for one before 1970); -1 without an Expiration */
    const char *error;     /* a fixed reason on failure, NULL on success */
};

/** Read one reply body. A "Code" member, when present (instance metadata always sends one),
 *  must be "Success". AccessKeyId and SecretAccessKey are required; Token and Expiration are
 *  optional (null counts as absent); other members are ignored.
 *  PL_OK; PL_EPROTO for a body that is not a JSON object, a Code other than "Success", a
 *  missing or empty key, a member of the wrong type, a value with a control byte or an
 *  Expiration that is not RFC 3339; PL_ETOOBIG for a body or value past its bound. `out` is
 *  always fully written: on failure everything but `error` is empty (expiration -1). */
int pl_aws_creds_reply_parse(const char *body, size_t len, struct pl_aws_creds_reply *out);

/** Parse an RFC 3339 date-time ("2026-11-30T04:00:00Z", "2026-11-30T06:00:00.5+02:00";
 *  't', 'z' and a space for 'T' also accepted) into Unix milliseconds (fractions past the
 *  millisecond are dropped). Years 0001-9999. PL_OK or PL_EINVAL. */
int pl_rfc3339_parse(const char *s, size_t len, int64_t *out_ms);

/** Write `ms` as "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds) into `out` of at least
 *  PL_RFC3339_MAX bytes, for log lines. */
void pl_rfc3339_format(int64_t ms, char out[PL_RFC3339_MAX]);

#endif
