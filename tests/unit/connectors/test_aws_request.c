/* AWS request preparation (connectors/aws_request.h): endpoints split into origin, authority and
 * base path, and a signed request's exact header lines for the HTTP client (the Bedrock vector of
 * test_aws_sigv4.c), unsigned lines, added lines, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/aws_request.h"

static const struct pl_sigv4_creds example_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
static const time_t example_time = 1440938160; /* 2015-08-30T12:36:00Z */

static void expect_endpoint(const char *url, const char *origin, const char *authority,
                            const char *base_path)
{
    struct aws_endpoint ep;
    assert_int_equal(aws_endpoint_parse(&ep, url), PL_OK);
    assert_string_equal(ep.origin, origin);
    assert_string_equal(ep.authority, authority);
    assert_string_equal(ep.base_path, base_path);
    aws_endpoint_cleanup(&ep);
    assert_null(ep.authority);
}

static void test_endpoint(void **state)
{
    (void)state;
    expect_endpoint("https://bedrock-runtime.us-east-1.amazonaws.com",
                    "https://bedrock-runtime.us-east-1.amazonaws.com",
                    "bedrock-runtime.us-east-1.amazonaws.com", "");
    expect_endpoint("http://127.0.0.1:8080/", "http://127.0.0.1:8080", "127.0.0.1:8080", "");
    expect_endpoint("http://h:1/proxy/v1//", "http://h:1", "h:1", "/proxy/v1");
    expect_endpoint("https://[::1]:9443/a", "https://[::1]:9443", "[::1]:9443", "/a");

    const char *bad[] = {"",          "h:1",          "ftp://h",    "://h",    "http://",
                         "http:///x", "http://h?x=1", "http://h#f", "HTTP://h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct aws_endpoint ep;
        assert_int_equal(aws_endpoint_parse(&ep, bad[i]), PL_EINVAL);
        assert_null(ep.origin);
        aws_endpoint_cleanup(&ep);
    }
}

static const char body[] = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64,"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

static struct pl_sigv4_request bedrock_request(const struct pl_sigv4_header *hs, size_t n)
{
    return (struct pl_sigv4_request){
        .method = "POST",
        .path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
        .headers = hs,
        .n_headers = n,
        .payload = body,
        .payload_len = sizeof body - 1,
        .region = "us-east-1",
        .service = "bedrock",
        .time = example_time};
}

static const struct pl_sigv4_header bedrock_headers[] = {
    {"host", "bedrock-runtime.us-east-1.amazonaws.com"},
    {"content-type", "application/json"},
    {"accept", "application/vnd.amazon.eventstream"},
};

static void test_signed_lines(void **state)
{
    (void)state;
    struct pl_sigv4_request req = bedrock_request(bedrock_headers, 3);
    struct aws_request_headers h;
    assert_int_equal(aws_request_headers_sign(&h, &req, &example_creds), PL_OK);
    assert_int_equal(aws_request_headers_add(&h, "user-agent: parley/test"), PL_OK);
    const char *want[] = {
        "host: bedrock-runtime.us-east-1.amazonaws.com",
        "content-type: application/json",
        "accept: application/vnd.amazon.eventstream",
        "x-amz-date: 20150830T123600Z",
        "authorization: AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=accept;content-type;host;x-amz-date, "
        "Signature=bab1ee4ae310e40d2b02597823f8ac5ce409dd06dbb6b996765ec4777ea60548",
        "user-agent: parley/test",
    };
    assert_int_equal(h.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(h.lines[i], want[i]);
    assert_null(h.lines[6]);
    aws_request_headers_cleanup(&h);
    assert_null(h.lines[0]);
    assert_null(h.text.data);

    /* A session token and the payload hash: the signer's four, in its order. */
    struct pl_sigv4_creds temp = example_creds;
    temp.session_token = "tok/en+=";
    req.flags = PL_SIGV4_CONTENT_SHA256;
    assert_int_equal(aws_request_headers_sign(&h, &req, &temp), PL_OK);
    assert_int_equal(h.n, 7);
    assert_string_equal(h.lines[3], "x-amz-date: 20150830T123600Z");
    assert_string_equal(h.lines[4],
                        "x-amz-content-sha256: "
                        "bfe9595c6d3fa2509aa43ae91038e137bdd65ac5d9fe6b5a6f3d86a876b1ce96");
    assert_string_equal(h.lines[5], "x-amz-security-token: tok/en+=");
    assert_non_null(strstr(h.lines[6], "SignedHeaders=accept;content-type;host;"
                                       "x-amz-content-sha256;x-amz-date;x-amz-security-token, "
                                       "Signature="));
    assert_null(h.lines[7]);
    aws_request_headers_cleanup(&h);
}

static void test_unsigned_lines(void **state)
{
    (void)state;
    /* No credentials (a bearer key): the headers given, as lines, and nothing of the signer's. */
    struct pl_sigv4_request req = bedrock_request(bedrock_headers + 1, 2);
    struct aws_request_headers h;
    assert_int_equal(aws_request_headers_sign(&h, &req, NULL), PL_OK);
    assert_int_equal(aws_request_headers_add(&h, "authorization: Bearer k"), PL_OK);
    assert_int_equal(h.n, 3);
    assert_string_equal(h.lines[0], "content-type: application/json");
    assert_string_equal(h.lines[1], "accept: application/vnd.amazon.eventstream");
    assert_string_equal(h.lines[2], "authorization: Bearer k");
    assert_null(h.lines[3]);
    aws_request_headers_cleanup(&h);
}

static void test_refusals(void **state)
{
    (void)state;
    /* The signer's refusal (no host header) comes back, with nothing to send. */
    struct pl_sigv4_request req = bedrock_request(bedrock_headers + 1, 2);
    struct aws_request_headers h;
    assert_int_equal(aws_request_headers_sign(&h, &req, &example_creds), PL_EINVAL);
    assert_int_equal(h.n, 0);
    assert_null(h.lines[0]);
    aws_request_headers_cleanup(&h);

    /* Full: the lines stop at AWS_REQUEST_MAX_LINES, still NULL-terminated. */
    req = bedrock_request(bedrock_headers, 3);
    assert_int_equal(aws_request_headers_sign(&h, &req, NULL), PL_OK);
    while (h.n < AWS_REQUEST_MAX_LINES)
        assert_int_equal(aws_request_headers_add(&h, "x-a: b"), PL_OK);
    assert_int_equal(aws_request_headers_add(&h, "x-a: b"), PL_ETOOBIG);
    assert_null(h.lines[AWS_REQUEST_MAX_LINES]);
    aws_request_headers_cleanup(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_signed_lines),
        cmocka_unit_test(test_unsigned_lines),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
