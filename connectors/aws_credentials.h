/* AWS credentials found the way the AWS SDKs find them (PROTOCOLS.md section 6D), for signing
 * Bedrock (and later S3, DynamoDB) requests with aws_sigv4.h. Sources, first that applies:
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), unless
 *      AWS_PROFILE is set;
 *   2. the shared credentials and config files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE,
 *      ~/.aws/...) for AWS_PROFILE or "default" (aws_profile.h);
 *   3. the ECS/EKS container endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN);
 *   4. EC2 instance metadata, IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true).
 * Files are read at creation (start-up); the two endpoints are fetched on the loop through the
 * non-blocking HTTP client (the container token file is read on libuv's thread pool), and
 * temporary credentials are fetched again AWS_CREDENTIALS_REFRESH_BEFORE_MS before they expire
 * (the old ones stay in use until a refresh succeeds or they expire; a failed fetch is retried
 * with backoff). Instance metadata is the last source: with nothing else found, creation
 * succeeds and starts an IMDS fetch, and aws_credentials_get answers PL_EBUSY until it ends.
 * Nothing here logs a key, secret or token: only the source name and the expiry time.
 * Loop thread only. */
#ifndef PARLEY_CONNECTORS_AWS_CREDENTIALS_H
#define PARLEY_CONNECTORS_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "connectors/aws_sigv4.h"
#include "connectors/http_client.h"

struct aws_credentials;
struct aws_credentials_wait;

/* Where the environment comes from: getenv, or a test's own table. */
typedef const char *(*aws_getenv_fn)(const char *name);

/* Temporary credentials are fetched again this long before their Expiration (the JS SDK's
 * margin; EC2 rotates its keys at least 5 minutes ahead). */
#define AWS_CREDENTIALS_REFRESH_BEFORE_MS (5u * 60u * 1000u)

struct aws_credentials_options {
    uv_loop_t *loop;
    struct http_client *http;
    aws_getenv_fn getenv; /* NULL: getenv(3); also gives HOME */
    /* Tests shorten these; 0 means the default. */
    uint32_t refresh_before_ms; /* AWS_CREDENTIALS_REFRESH_BEFORE_MS */
    uint32_t retry_base_ms;     /* first retry after a failed fetch: 1 s, doubling (backoff.h) */
    uint32_t retry_max_ms;      /* longest wait between retries: 60 s */
    uint32_t fetch_timeout_ms;  /* connect and whole-request timeout of each request: 1 s */
};

/** Find the source (reading the shared files now: call at start-up). PL_OK with `out`, or
 *  PL_ENOTFOUND when no source applies (err says what was looked for; only with
 *  AWS_EC2_METADATA_DISABLED=true, as instance metadata applies otherwise), or PL_EINVAL for a
 *  malformed file or variable, or a container FULL_URI to a host plain http may not reach (err
 *  names it, never a value). A malformed shared file while the environment's keys are used
 *  only loses the profile's region (logged). A source that needs fetching starts its first
 *  fetch from the loop, at its next turn. */
int aws_credentials_create(const struct aws_credentials_options *opts, struct aws_credentials **out,
                           char *err, size_t errlen);
/** Cancels waits (their callbacks do not run). Accepts NULL. */
void aws_credentials_destroy(struct aws_credentials *c);

/** Current credentials: PL_OK with `out` pointing into `c` (valid until control returns to
 *  the loop); PL_EBUSY while the first fetch is in flight (use aws_credentials_wait);
 *  PL_EUPSTREAM when the source failed and holds nothing usable, or its keys have expired and
 *  no refresh has succeeded (`detail`, valid until the next call, says why, no secret). */
int aws_credentials_get(struct aws_credentials *c, struct pl_sigv4_creds *out, const char **detail);

/** Call `cb` once, from the loop (never from inside this call), when aws_credentials_get would
 *  no longer return PL_EBUSY (soon, if it already would not). Returns a handle for
 *  aws_credentials_wait_cancel (after which cb never runs); the handle is gone once cb has run.
 *  cb may start requests, wait again or destroy `c`. */
struct aws_credentials_wait *aws_credentials_wait(struct aws_credentials *c, void (*cb)(void *ud),
                                                  void *ud);
void aws_credentials_wait_cancel(struct aws_credentials_wait *w);

/** The region from the shared config file's profile, or NULL. */
const char *aws_credentials_profile_region(const struct aws_credentials *c);
/** "environment", "profile NAME", "container endpoint" or "instance metadata", for the log. */
const char *aws_credentials_source_name(const struct aws_credentials *c);

#endif
