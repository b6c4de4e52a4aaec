/* AWS request preparation; see aws_request.h. */
#include "connectors/aws_request.h"

#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

int aws_endpoint_parse(struct aws_endpoint *ep, const char *url)
{
    memset(ep, 0, sizeof(*ep));
    size_t scheme;
    if (!strncmp(url, "https://", 8))
        scheme = 8;
    else if (!strncmp(url, "http://", 7))
        scheme = 7;
    else
        return PL_EINVAL;
    const char *s = url + scheme;
    size_t n = strcspn(s, "/?#");
    if (n == 0 || s[n] == '?' || s[n] == '#')
        return PL_EINVAL;
    const char *b = s + n;
    size_t blen = strlen(b);
    while (blen > 0 && b[blen - 1] == '/')
        blen--;
    ep->origin = pl_strndup(url, scheme + n);
    ep->authority = pl_strndup(s, n);
    ep->base_path = pl_strndup(b, blen);
    return PL_OK;
}

void aws_endpoint_cleanup(struct aws_endpoint *ep)
{
    pl_free(ep->origin);
    pl_free(ep->authority);
    pl_free(ep->base_path);
    memset(ep, 0, sizeof(*ep));
}

/* Append "name: value" and its NUL to h->text, its offset to offsets. */
static int append_line(struct aws_request_headers *h, size_t *offsets, const char *name,
                       const char *value)
{
    if (h->n >= AWS_REQUEST_MAX_LINES)
        return PL_ETOOBIG;
    offsets[h->n++] = h->text.len;
    if (pl_buf_printf(&h->text, "%s: %s", name, value) != PL_OK ||
        pl_buf_append(&h->text, "", 1) != PL_OK)
        return PL_ETOOBIG;
    return PL_OK;
}

int aws_request_headers_sign(struct aws_request_headers *h, const struct pl_sigv4_request *req,
                             const struct pl_sigv4_creds *creds)
{
    memset(h, 0, sizeof(*h));
    /* Room for every header at its bounds: nothing a signer accepts is cut here. */
    pl_buf_init(&h->text, (size_t)AWS_REQUEST_MAX_LINES *
                                  (PL_SIGV4_MAX_HEADER_NAME + PL_SIGV4_MAX_HEADER_VALUE + 4) +
                              PL_SIGV4_MAX_TOKEN);
    struct pl_sigv4_result sig;
    memset(&sig, 0, sizeof(sig));
    int rc = creds ? pl_sigv4_sign(req, creds, &sig) : PL_OK;
    size_t offsets[AWS_REQUEST_MAX_LINES];
    for (size_t i = 0; rc == PL_OK && i < req->n_headers; i++)
        rc = append_line(h, offsets, req->headers[i].name, req->headers[i].value);
    for (size_t i = 0; rc == PL_OK && i < sig.n_headers; i++)
        rc = append_line(h, offsets, sig.headers[i].name, sig.headers[i].value);
    pl_sigv4_result_cleanup(&sig);
    if (rc != PL_OK) {
        aws_request_headers_cleanup(h);
        return rc;
    }
    /* The buffer has stopped moving: point at the lines. */
    for (size_t i = 0; i < h->n; i++)
        h->lines[i] = h->text.data + offsets[i];
    h->lines[h->n] = NULL;
    return PL_OK;
}

int aws_request_headers_add(struct aws_request_headers *h, const char *line)
{
    if (h->n >= AWS_REQUEST_MAX_LINES)
        return PL_ETOOBIG;
    h->lines[h->n++] = line;
    h->lines[h->n] = NULL;
    return PL_OK;
}

void aws_request_headers_cleanup(struct aws_request_headers *h)
{
    if (h->text.data)
        memset(h->text.data, 0, h->text.len);
    pl_buf_cleanup(&h->text);
    memset(h, 0, sizeof(*h));
}
