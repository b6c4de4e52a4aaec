/* What every AWS client here does before a request leaves: split its endpoint URL into the
 * authority (the host header, which SigV4 signs) and the endpoint's own base path, and turn the
 * signed headers plus the signer's own (x-amz-date, x-amz-content-sha256, x-amz-security-token,
 * authorization) into the "name: value" lines connectors/http_client.h sends. I/O-free. The
 * lines hold the signature and the session token: they live in one buffer that cleanup wipes,
 * so no copy outlives the transfer's start. */
#ifndef PARLEY_CONNECTORS_AWS_REQUEST_H
#define PARLEY_CONNECTORS_AWS_REQUEST_H

#include <stddef.h>

#include "common/buf.h"
#include "connectors/aws_sigv4.h"

/** An endpoint "http[s]://authority[/base]" in parts; every string owned. */
struct aws_endpoint {
    char *origin;    /* "https://authority": a request's URL is this plus its full path */
    char *authority; /* "host[:port]" as written: the host header sent and signed */
    char *base_path; /* the endpoint's own path without trailing '/': "" or "/proxy/v1" */
};

/** Split `url` (http or https, an authority, then nothing, or a path without query or fragment).
 *  PL_OK, or PL_EINVAL (then `ep` holds nothing to free; cleanup is still safe). */
int aws_endpoint_parse(struct aws_endpoint *ep, const char *url);
void aws_endpoint_cleanup(struct aws_endpoint *ep);

/* Lines one request carries at most: the caller's signed headers (Bedrock sends up to six), the
 * signer's four, and a few added after signing (user-agent, a bearer key, expect). */
#define AWS_REQUEST_MAX_LINES 20

/** A NULL-terminated line array for http_client_request.headers. Lines made by signing point
 *  into `text`; lines added with aws_request_headers_add are borrowed. */
struct aws_request_headers {
    const char *lines[AWS_REQUEST_MAX_LINES + 1];
    size_t n;
    struct pl_buf text;
};

/** Sign `req` with `creds` and set `h` to req->headers as "name: value" lines, in their order,
 *  then the signer's. `creds` NULL: no signing, req->headers' lines alone (a request that
 *  carries a bearer key, or no credentials). On failure pl_sigv4_sign's code (PL_EINVAL,
 *  PL_ETOOBIG, PL_ENOMEM), or PL_ETOOBIG past AWS_REQUEST_MAX_LINES; `h` is then empty. Call
 *  aws_request_headers_cleanup either way. */
int aws_request_headers_sign(struct aws_request_headers *h, const struct pl_sigv4_request *req,
                             const struct pl_sigv4_creds *creds);
/** Append a borrowed line ("user-agent: ...", "expect:"), which must outlive `h`'s use.
 *  PL_ETOOBIG when full. */
int aws_request_headers_add(struct aws_request_headers *h, const char *line);
/** Wipe the lines (they carry the signature and any session token) and free them. */
void aws_request_headers_cleanup(struct aws_request_headers *h);

#endif
