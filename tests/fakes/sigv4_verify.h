/* How the AWS doubles (fake_bedrock.c, fake_s3.c, fake_dynamodb.c) check a request's SigV4
 * signature as AWS does (PROTOCOLS.md 3): the Authorization header's Credential scope, the
 * key id, region and service, x-amz-date against the scope and the clock, the headers it says it
 * signed, the session token; then the request as received re-signed with the server's own signer
 * (connectors/aws_sigv4.h) from those headers and compared. One verifier, so the doubles differ
 * only in how they answer: each maps a failure's kind to its own wire format and error names. */
#ifndef PARLEY_TESTS_FAKES_SIGV4_VERIFY_H
#define PARLEY_TESTS_FAKES_SIGV4_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Why a request was refused, in the order the checks run. */
enum sigv4_fail {
    SIGV4_OK,
    SIGV4_NO_AUTH,         /* no Authorization header */
    SIGV4_NOT_SIGV4,       /* an Authorization that is not AWS4-HMAC-SHA256 */
    SIGV4_MALFORMED,       /* Credential, SignedHeaders or Signature missing */
    SIGV4_BAD_SCOPE,       /* Credential not KEY/DATE/REGION/SERVICE/aws4_request */
    SIGV4_UNKNOWN_KEY,     /* not the expected access key id */
    SIGV4_WRONG_SERVICE,   /* scoped to another service */
    SIGV4_WRONG_REGION,    /* scoped to another region */
    SIGV4_BAD_DATE,        /* x-amz-date missing or malformed */
    SIGV4_DATE_SCOPE,      /* x-amz-date not on the scope's date */
    SIGV4_SKEWED,          /* x-amz-date too far from now */
    SIGV4_NO_PAYLOAD_HASH, /* x-amz-content-sha256 required and absent */
    SIGV4_UNSIGNED_HEADER, /* a signed header absent; host, the token or a required hash unsigned */
    SIGV4_BAD_TOKEN,       /* not the expected session token */
    SIGV4_MISMATCH,        /* the signature (or the signed-headers list) is not ours */
    SIGV4_PAYLOAD_HASH,    /* x-amz-content-sha256 is not the body's hash */
};

struct sigv4_failure {
    enum sigv4_fail kind;
    const char *type; /* the JSON APIs' exception name: "InvalidSignatureException" ... */
    char message[300];
};

/* The parts of an Authorization header's value; the scope's pieces point into `credential`. */
struct sigv4_auth {
    char credential[512];
    char signed_headers[2048];
    char signature[80];
    const char *key_id, *date, *region, *service;
};

struct sigv4_verify_request {
    const char *method;
    const char *path;  /* as on the request line, without the query */
    const char *query; /* NULL or "" for none */
    /* The value of a request header by lower-case name, or NULL. */
    const char *(*header)(void *ud, const char *name);
    void *header_ud;
    const char *body;
    size_t body_len;
    /* S3's rules: the path signed as sent (PL_SIGV4_S3_PATH), x-amz-content-sha256 required and
     * signed, its value (the body's hash or UNSIGNED-PAYLOAD) what is signed, then checked against
     * the body. Otherwise the body is hashed, and a signed x-amz-content-sha256 must agree. */
    bool s3;
    const char *access_key_id, *secret_access_key;
    const char *session_token; /* NULL: any token (signed) is accepted */
    const char *region, *service;
    long max_skew_s;
};

/** Split `authorization` (the header's value, or NULL). False with `f` set (NO_AUTH, NOT_SIGV4,
 *  MALFORMED, BAD_SCOPE). */
bool sigv4_auth_parse(const char *authorization, struct sigv4_auth *a, struct sigv4_failure *f);
/** Check a parsed header against the request. False with `f` set. */
bool sigv4_auth_check(const struct sigv4_verify_request *r, const struct sigv4_auth *a,
                      struct sigv4_failure *f);
/** Both: parse the request's Authorization header and check it. */
bool sigv4_verify(const struct sigv4_verify_request *r, struct sigv4_failure *f);

#endif
