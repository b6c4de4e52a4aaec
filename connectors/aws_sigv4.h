/* AWS Signature Version 4 (header signing), I/O-free: from a request as it will be sent, the
 * time and credentials, the headers to add (x-amz-date, x-amz-content-sha256 when asked,
 * x-amz-security-token with a session token, authorization). The canonical request and the
 * string to sign are kept in the result for tests and for the upstream double, which checks
 * signatures with the same code. HMAC-SHA256 and SHA-256 come from OpenSSL.
 *
 * Paths: give the path exactly as it goes on the request line. For every service but S3 the
 * canonical URI is that path with dot and empty segments removed and every byte outside
 * A-Za-z0-9-_.~ and '/' percent-encoded once more, so a model id sent as `v1%3A0` is signed
 * as `v1%253A0` (PROTOCOLS.md section 3). PL_SIGV4_S3_PATH signs the path as sent. Build
 * Bedrock paths with pl_sigv4_uri_encode(.., false) on the model id, inference-profile id or
 * ARN: ':' becomes %3A and '/' %2F, as the AWS SDKs send a URI label. */
#ifndef PARLEY_CONNECTORS_AWS_SIGV4_H
#define PARLEY_CONNECTORS_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"

/* Bounds: an input past one of these is refused with PL_ETOOBIG. */
#define PL_SIGV4_MAX_METHOD       32
#define PL_SIGV4_MAX_PATH         8192 /* bytes of the path as sent */
#define PL_SIGV4_MAX_QUERY        8192 /* bytes of the query string as sent */
#define PL_SIGV4_MAX_QUERY_PARAMS 128
#define PL_SIGV4_MAX_HEADERS      64 /* headers given by the caller */
#define PL_SIGV4_MAX_HEADER_NAME  128
#define PL_SIGV4_MAX_HEADER_VALUE 16384 /* Bedrock's request metadata header takes 8500 */
#define PL_SIGV4_MAX_SCOPE_PART   64    /* region, service */
#define PL_SIGV4_MAX_KEY          256   /* access key id, secret */
#define PL_SIGV4_MAX_TOKEN        8192  /* session token */
/* Largest canonical request: every part encoded at worst three bytes for one. */
#define PL_SIGV4_MAX_CANONICAL                                                                     \
    (PL_SIGV4_MAX_METHOD + 3 * PL_SIGV4_MAX_PATH + 3 * PL_SIGV4_MAX_QUERY + 2 * 1024 +             \
     (PL_SIGV4_MAX_HEADERS + 4) * (PL_SIGV4_MAX_HEADER_NAME + PL_SIGV4_MAX_HEADER_VALUE + 4) +     \
     PL_SIGV4_MAX_TOKEN)

enum pl_sigv4_flags {
    PL_SIGV4_S3_PATH = 1,        /* sign the path as sent: no normalising, no second encoding */
    PL_SIGV4_CONTENT_SHA256 = 2, /* add and sign x-amz-content-sha256 (S3 needs it) */
};

/** A header as given: both NUL-terminated. Values must not hold CR or LF. */
struct pl_sigv4_header {
    const char *name;
    const char *value;
};

/** session_token NULL or "" for long-term keys. Never logged, never copied but into the
 *  x-amz-security-token header the caller sends. */
struct pl_sigv4_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
};

struct pl_sigv4_key_cache; /* below */

struct pl_sigv4_request {
    const char *method; /* "POST" */
    const char *path;   /* as on the request line, starting with '/', without the query */
    const char *query;  /* after '?', as sent; NULL or "" for none */
    const struct pl_sigv4_header *headers; /* must include host; not the headers the signer adds */
    size_t n_headers;
    const void *payload; /* hashed when payload_sha256 is NULL */
    size_t payload_len;
    const char *payload_sha256; /* 64 lower-case hex digits or "UNSIGNED-PAYLOAD"; or NULL */
    const char *region;         /* "us-east-1" */
    const char *service;        /* signing name: "bedrock" for bedrock-runtime */
    time_t time;                /* the signing time (UTC seconds), passed in for testability */
    unsigned flags;             /* enum pl_sigv4_flags */
    /* Optional: keeps the derived signing key and OpenSSL's implementations between requests;
     * NULL derives and fetches everything for this request alone. */
    struct pl_sigv4_key_cache *key_cache;
};

/** What signing can keep from one request to the next, owned by the caller and used by one
 *  thread at a time: the SHA-256 and HMAC implementations and contexts (OpenSSL 3 looks an
 *  algorithm up again on every one-shot call), and the signing key derived from the secret for
 *  one access key id, date, region and service. The secret itself is not kept, only its
 *  SHA-256, to notice a rotated secret; the key is wiped when replaced and when the cache is
 *  freed. NULL when OpenSSL cannot provide the algorithms. */
struct pl_sigv4_key_cache *pl_sigv4_key_cache_new(void);
void pl_sigv4_key_cache_free(struct pl_sigv4_key_cache *cache); /* NULL is fine */
/** How many times the cache derived a key (tests: a request in the same scope derives none). */
unsigned long pl_sigv4_key_cache_derivations(const struct pl_sigv4_key_cache *cache);

#define PL_SIGV4_MAX_ADDED 4

struct pl_sigv4_result {
    /* Headers to add to the request, in this order: x-amz-date, x-amz-content-sha256 (when
     * asked), x-amz-security-token (with a session token), authorization. Names lower-case;
     * values point into this result (or at the caller's session token). */
    struct pl_sigv4_header headers[PL_SIGV4_MAX_ADDED];
    size_t n_headers;
    char amz_date[17];       /* YYYYMMDD'T'HHMMSS'Z' */
    char payload_sha256[65]; /* the payload hash signed (or UNSIGNED-PAYLOAD) */
    char signature[65];      /* lower-case hex */
    struct pl_buf authorization;
    struct pl_buf signed_headers;    /* "host;x-amz-date" */
    struct pl_buf canonical_request; /* the six lines, joined with '\n' */
    struct pl_buf string_to_sign;
};

/** Sign `req` (with req->key_cache when set: the same signature as without). On PL_OK `out` holds
 * everything above; release it with pl_sigv4_result_cleanup (also after a failure). PL_EINVAL for a
 * malformed input (no host header, a header the signer sets, a bad character, a bad percent escape
 * in the query, a time gmtime cannot show), PL_ETOOBIG past a bound, PL_ENOMEM when OpenSSL fails.
 */
int pl_sigv4_sign(const struct pl_sigv4_request *req, const struct pl_sigv4_creds *creds,
                  struct pl_sigv4_result *out);
void pl_sigv4_result_cleanup(struct pl_sigv4_result *out);

/* The canonicalisation steps, exposed for tests and fuzzing; each appends to `out`. */

/** Canonical URI of a path as sent (flags: PL_SIGV4_S3_PATH). */
int pl_sigv4_canonical_uri(struct pl_buf *out, const char *path, unsigned flags);
/** Canonical query of a query string as sent: each name and value percent-decoded then
 *  encoded (RFC 3986 unreserved kept, upper-case hex), sorted by name then value, joined with
 *  '&'; empty for an empty query. Idempotent. */
int pl_sigv4_canonical_query(struct pl_buf *out, const char *query);
/** Canonical headers block ("name:value\n" each, sorted, duplicates joined with ',') into
 *  `block` and the signed-headers list into `names`; at most PL_SIGV4_MAX_HEADERS +
 *  PL_SIGV4_MAX_ADDED headers. Headers never signed (connection,
 *  user-agent, proxy-*, ...) are left out. */
int pl_sigv4_canonical_headers(struct pl_buf *block, struct pl_buf *names,
                               const struct pl_sigv4_header *headers, size_t n);
/** Percent-encode `len` bytes of `s` (RFC 3986 unreserved kept; '/' kept when keep_slash). */
int pl_sigv4_uri_encode(struct pl_buf *out, const char *s, size_t len, bool keep_slash);

#endif
