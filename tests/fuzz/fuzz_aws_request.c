/* libFuzzer target for AWS request preparation (connectors/aws_request.h). The first line of the
 * input is an endpoint URL, as the operator writes --bedrock-endpoint, --dynamodb-endpoint or
 * --embeddings-base-url; a split one must rebuild it (origin, base path, then only the '/'s cut
 * off), its authority non-empty and free of '/', '?' and '#'. The remaining lines are header
 * values, signed as Bedrock's request and sent unsigned: the lines out are exactly "name: value"
 * of the headers given, in order, then the signer's, NULL-terminated; refusals are only the
 * signer's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "connectors/aws_request.h"
#include "tests/fuzz/fuzz_check.h"

static void check_endpoint(const char *url)
{
    struct aws_endpoint ep;
    if (aws_endpoint_parse(&ep, url) != PL_OK) {
        CHECK(ep.origin == NULL && ep.authority == NULL && ep.base_path == NULL);
        aws_endpoint_cleanup(&ep);
        return;
    }
    size_t ol = strlen(ep.origin), bl = strlen(ep.base_path), al = strlen(ep.authority);
    CHECK(!strncmp(ep.origin, "http://", 7) || !strncmp(ep.origin, "https://", 8));
    CHECK(al > 0 && strcspn(ep.authority, "/?#") == al);
    CHECK(ol > al && !strcmp(ep.origin + ol - al, ep.authority));
    CHECK(!strncmp(url, ep.origin, ol) && !strncmp(url + ol, ep.base_path, bl));
    CHECK(bl == 0 || (ep.base_path[0] == '/' && ep.base_path[bl - 1] != '/'));
    for (const char *rest = url + ol + bl; *rest; rest++)
        CHECK(*rest == '/');
    aws_endpoint_cleanup(&ep);
}

static const char *const names[] = {"host",
                                    "content-type",
                                    "accept",
                                    "x-amzn-bedrock-trace",
                                    "x-amzn-bedrock-guardrailversion",
                                    "x-amz-target"};

static void check_lines(const struct pl_sigv4_header *hs, size_t n, bool sign)
{
    static const struct pl_sigv4_creds creds = {
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token"};
    struct pl_sigv4_request req = {.method = "POST",
                                   .path = "/model/m/converse-stream",
                                   .headers = hs,
                                   .n_headers = n,
                                   .payload = "{}",
                                   .payload_len = 2,
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = 1440938160};
    struct aws_request_headers h;
    int rc = aws_request_headers_sign(&h, &req, sign ? &creds : NULL);
    if (rc != PL_OK) {
        CHECK(sign && (rc == PL_EINVAL || rc == PL_ETOOBIG));
        CHECK(h.n == 0 && h.lines[0] == NULL);
        aws_request_headers_cleanup(&h);
        return;
    }
    CHECK(h.n == n + (sign ? 3 : 0)); /* x-amz-date, x-amz-security-token, authorization */
    CHECK(h.lines[h.n] == NULL);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(hs[i].name);
        CHECK(!strncmp(h.lines[i], hs[i].name, nl) && !strncmp(h.lines[i] + nl, ": ", 2) &&
              !strcmp(h.lines[i] + nl + 2, hs[i].value));
    }
    if (sign)
        CHECK(!strncmp(h.lines[h.n - 1], "authorization: AWS4-HMAC-SHA256 Credential=", 43));
    CHECK(aws_request_headers_add(&h, "user-agent: fuzz") == PL_OK);
    CHECK(!strcmp(h.lines[h.n - 1], "user-agent: fuzz") && h.lines[h.n] == NULL);
    aws_request_headers_cleanup(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    check_endpoint(text);
    /* Header values: the lines after the first, host first. */
    struct pl_sigv4_header hs[sizeof(names) / sizeof(names[0])];
    size_t n = 0;
    for (char *v = nl ? nl + 1 : NULL; v && n < sizeof(names) / sizeof(names[0]); n++) {
        char *end = strchr(v, '\n');
        if (end)
            *end = '\0';
        hs[n] = (struct pl_sigv4_header){names[n], v};
        v = end ? end + 1 : NULL;
    }
    check_lines(hs, n, false);
    check_lines(hs, n, true);
    free(text);
    return 0;
}
