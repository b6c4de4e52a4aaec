/* The doubles' SigV4 verifier (sigv4_verify.h): a request signed by the server's signer passes,
 * for a JSON API and under S3's rules, and each way it can be wrong gives its own kind, JSON
 * exception name and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/aws_sigv4.h"
#include "tests/fakes/sigv4_verify.h"

#define KEY_ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BODY   "{\"TableName\":\"Policies\"}"

/* A request as received: its headers, as the doubles look them up. */
struct received {
    const char *names[12];
    char values[12][1024];
    size_t n;
};

static const char *lookup(void *ud, const char *name)
{
    struct received *r = ud;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name))
            return r->values[i];
    return NULL;
}

static void set(struct received *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name)) {
            snprintf(r->values[i], sizeof(r->values[i]), "%s", value);
            return;
        }
    r->names[r->n] = name;
    snprintf(r->values[r->n++], sizeof(r->values[0]), "%s", value);
}

/* The header no longer sent. */
static void drop(struct received *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name))
            r->names[i] = "x-dropped";
}

/* Sign POST / as a client would (secret, region and time given), into `r`. */
static void sign(struct received *r, const char *secret, const char *region, time_t t,
                 const char *token, bool s3)
{
    memset(r, 0, sizeof(*r));
    struct pl_sigv4_header hs[] = {{"host", "127.0.0.1:8000"},
                                   {"content-type", "application/x-amz-json-1.0"}};
    struct pl_sigv4_request req = {.method = "POST",
                                   .path = "/",
                                   .headers = hs,
                                   .n_headers = 2,
                                   .payload = BODY,
                                   .payload_len = strlen(BODY),
                                   .region = region,
                                   .service = s3 ? "s3" : "dynamodb",
                                   .time = t,
                                   .flags = s3 ? PL_SIGV4_S3_PATH | PL_SIGV4_CONTENT_SHA256 : 0};
    struct pl_sigv4_creds creds = {KEY_ID, secret, token};
    struct pl_sigv4_result out;
    assert_int_equal(pl_sigv4_sign(&req, &creds, &out), PL_OK);
    for (size_t i = 0; i < 2; i++)
        set(r, hs[i].name, hs[i].value);
    for (size_t i = 0; i < out.n_headers; i++)
        set(r, out.headers[i].name, out.headers[i].value);
    pl_sigv4_result_cleanup(&out);
}

static struct sigv4_verify_request request(struct received *r, bool s3)
{
    return (struct sigv4_verify_request){.method = "POST",
                                         .path = "/",
                                         .header = lookup,
                                         .header_ud = r,
                                         .body = BODY,
                                         .body_len = strlen(BODY),
                                         .s3 = s3,
                                         .access_key_id = KEY_ID,
                                         .secret_access_key = SECRET,
                                         .region = "eu-west-2",
                                         .service = s3 ? "s3" : "dynamodb",
                                         .max_skew_s = 300};
}

static void expect(const struct sigv4_verify_request *req, enum sigv4_fail kind, const char *type,
                   const char *message)
{
    struct sigv4_failure f;
    assert_false(sigv4_verify(req, &f));
    assert_int_equal(f.kind, kind);
    assert_string_equal(f.type, type);
    assert_string_equal(f.message, message);
}

static void test_accepted(void **state)
{
    (void)state;
    struct received r;
    struct sigv4_failure f;
    sign(&r, SECRET, "eu-west-2", time(NULL), NULL, false);
    struct sigv4_verify_request req = request(&r, false);
    assert_true(sigv4_verify(&req, &f));
    assert_int_equal(f.kind, SIGV4_OK);

    sign(&r, SECRET, "eu-west-2", time(NULL) - 200, "tok/en", true);
    req = request(&r, true);
    req.session_token = "tok/en";
    assert_true(sigv4_verify(&req, &f));
}

static void test_refused(void **state)
{
    (void)state;
    struct received r;
    struct sigv4_verify_request req = request(&r, false);
    const char *invalid = "InvalidSignatureException";

    sign(&r, SECRET, "eu-west-2", time(NULL), NULL, false);
    drop(&r, "authorization");
    expect(&req, SIGV4_NO_AUTH, "MissingAuthenticationTokenException",
           "Missing Authentication Token");
    set(&r, "authorization", "AWS4-HMAC-SHA256 Credential=" KEY_ID "/20260101/eu-west-2/dynamodb");
    expect(&req, SIGV4_MALFORMED, "IncompleteSignatureException",
           "Authorization header requires Credential, SignedHeaders and Signature");
    set(&r, "authorization",
        "AWS4-HMAC-SHA256 Credential=" KEY_ID "/20260101/eu-west-2/dynamodb, "
        "SignedHeaders=host, Signature=00");
    expect(&req, SIGV4_BAD_SCOPE, "IncompleteSignatureException", "malformed Credential scope");

    sign(&r, "wrongSecretKey", "eu-west-2", time(NULL), NULL, false);
    expect(&req, SIGV4_MISMATCH, invalid,
           "The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method.");
    sign(&r, SECRET, "us-east-1", time(NULL), NULL, false);
    expect(&req, SIGV4_WRONG_REGION, invalid,
           "Credential should be scoped to a valid region, not 'us-east-1'.");
    sign(&r, SECRET, "eu-west-2", 1440938160, NULL, false);
    expect(&req, SIGV4_SKEWED, invalid,
           "Signature expired: 20150830T123600Z is now earlier or later than 5 minutes");
    req.access_key_id = "AKIDOTHER";
    expect(&req, SIGV4_UNKNOWN_KEY, "UnrecognizedClientException",
           "The security token included in the request is invalid.");
    req.access_key_id = KEY_ID;

    /* A header changed after signing, a token the double does not know, a stale x-amz-date. */
    sign(&r, SECRET, "eu-west-2", time(NULL), NULL, false);
    set(&r, "content-type", "application/json");
    expect(&req, SIGV4_MISMATCH, invalid,
           "The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method.");
    sign(&r, SECRET, "eu-west-2", time(NULL), "tok", false);
    req.session_token = "other";
    expect(&req, SIGV4_BAD_TOKEN, "UnrecognizedClientException",
           "The security token included in the request is invalid.");
    req.session_token = NULL;
    set(&r, "x-amz-date", "20150830T123600Z");
    expect(&req, SIGV4_DATE_SCOPE, invalid, "Date in Credential scope does not match x-amz-date");

    /* S3: the body must be the one whose hash was signed. */
    sign(&r, SECRET, "eu-west-2", time(NULL), NULL, true);
    req = request(&r, true);
    req.body = "{}";
    req.body_len = 2;
    expect(&req, SIGV4_PAYLOAD_HASH, invalid,
           "The provided 'x-amz-content-sha256' header does not match what was computed.");
    drop(&r, "x-amz-content-sha256");
    expect(&req, SIGV4_NO_PAYLOAD_HASH, "IncompleteSignatureException",
           "Missing required header for this request: x-amz-content-sha256");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
