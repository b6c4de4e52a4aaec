/* A test double of the two AWS credentials endpoints, on the test's own libuv loop (a loopback
 * port, one request per connection, on fake_http.h): the ECS/EKS container endpoint (GET of any
 * path under /container) and EC2 instance metadata, IMDSv2 and IMDSv1 (PUT /latest/api/token, GET
 * /latest/meta-data/iam/security-credentials/ and .../<role>). It checks the headers the SDKs
 * send (the token TTL on the PUT, the session token on the GETs, the container Authorization),
 * answers a wrong one with 401 (400 for a PUT without its TTL) and counts what it saw, so a test
 * asserts on the requests without a sleep. Keys served carry a serial number ("AKID1", then
 * "AKID2"), so a test can tell a refresh's keys from the first ones. */
#ifndef PARLEY_TESTS_FAKES_FAKE_AWS_METADATA_H
#define PARLEY_TESTS_FAKES_FAKE_AWS_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "tests/fakes/fake_http.h"

#define FAKE_AWS_ROLE "parley-role"

struct fake_aws_metadata {
    /* Behaviour: the test sets these at any time. */
    const char *key_prefix;     /* access key id before the serial: "AKID" */
    const char *secret_prefix;  /* "SECRET" */
    const char *token_prefix;   /* "TOKEN" */
    int64_t expires_in_ms;      /* Expiration this long after the reply; < 0: none sent */
    const char *container_auth; /* Authorization the container endpoint wants; NULL: none */
    int put_status;             /* 0: the PUT issues a token; else it answers this status */
    int creds_status;           /* 0: the credentials GETs answer 200; else this status */
    bool unauthorized_once;     /* the next GET with a token answers 401 and forgets every token */
    uint32_t delay_ms;          /* answer each request this late */
    size_t pad_bytes;           /* a credentials reply carries a "Padding" member this long */
    bool fixed_keys;            /* serve the three prefixes as they are, without a serial */

    /* What it saw. */
    unsigned puts, role_gets, creds_gets, container_gets, rejected;
    unsigned v1_gets; /* instance metadata GETs without a token */
    unsigned issued;  /* credentials replies served: the serial of the last keys */
    char last_authorization[512];

    int port; /* where it listens, on 127.0.0.1 */

    /* Internals. */
    struct fake_http _http;
    unsigned _tokens_issued, _tokens_valid_from; /* tokens "imds-token-N", N > valid_from */
};

/** Listen on 127.0.0.1, a free port; 0 or a libuv error. Defaults: prefixes AKID/SECRET/TOKEN,
 *  expiry in one hour, tokens issued, 200 answers, no delay. */
int fake_aws_metadata_start(struct fake_aws_metadata *f, uv_loop_t *loop);
/** The same on a chosen port (0: any). */
int fake_aws_metadata_start_on(struct fake_aws_metadata *f, uv_loop_t *loop, int port);
/** Stop listening and close the connections; the loop then runs until they are closed. */
void fake_aws_metadata_stop(struct fake_aws_metadata *f);

#endif
