/* S3 addressing; see s3_address.h. */
#include "connectors/s3_address.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "common/err.h"
#include "connectors/aws_sigv4.h"

bool s3_bucket_valid(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return false;
    for (const char *p = b; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

bool s3_region_valid(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (!n || n > PL_SIGV4_MAX_SCOPE_PART)
        return false;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* scheme://host[:port][/path] of an endpoint, with curl's URL parser (no I/O). */
static int set_endpoint(struct s3_address *a, const char *endpoint)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    int rc = PL_EINVAL;
    if (u && curl_url_set(u, CURLUPART_URL, endpoint, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
        curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        size_t pl = path ? strlen(path) : 0;
        while (pl && path[pl - 1] == '/')
            pl--;
        if ((size_t)snprintf(a->host, sizeof(a->host), "%s%s%s", host, port ? ":" : "",
                             port ? port : "") < sizeof(a->host) &&
            (size_t)snprintf(a->base, sizeof(a->base), "%s://%s", scheme, a->host) <
                sizeof(a->base) &&
            pl < sizeof(a->base_path)) {
            memcpy(a->base_path, path, pl);
            a->base_path[pl] = '\0';
            rc = PL_OK;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

int s3_address_set(struct s3_address *a, const char *bucket, const char *region,
                   const char *endpoint)
{
    memset(a, 0, sizeof(*a));
    if (!s3_bucket_valid(bucket) || !s3_region_valid(region))
        return PL_EINVAL;
    snprintf(a->bucket, sizeof(a->bucket), "%s", bucket);
    if (endpoint) {
        a->path_style = true;
        int rc = set_endpoint(a, endpoint);
        if (rc != PL_OK)
            memset(a, 0, sizeof(*a));
        return rc;
    }
    a->path_style = strchr(bucket, '.') != NULL;
    if (a->path_style)
        snprintf(a->host, sizeof(a->host), "s3.%s.amazonaws.com", region);
    else
        snprintf(a->host, sizeof(a->host), "%s.s3.%s.amazonaws.com", bucket, region);
    snprintf(a->base, sizeof(a->base), "https://%s", a->host);
    return PL_OK;
}

void s3_address_path(const struct s3_address *a, const char *key, struct pl_buf *out)
{
    pl_buf_append_str(out, a->base_path);
    if (a->path_style) {
        pl_buf_append_str(out, "/");
        pl_buf_append_str(out, a->bucket);
    }
    if (key || !a->path_style)
        pl_buf_append_str(out, "/");
    if (key)
        pl_sigv4_uri_encode(out, key, strlen(key), true);
}

void s3_list_query(const char *prefix, const char *token, struct pl_buf *out)
{
    if (token) {
        pl_buf_append_str(out, "continuation-token=");
        pl_sigv4_uri_encode(out, token, strlen(token), false);
        pl_buf_append_str(out, "&");
    }
    pl_buf_append_str(out, "list-type=2");
    if (prefix && *prefix) {
        pl_buf_append_str(out, "&prefix=");
        pl_sigv4_uri_encode(out, prefix, strlen(prefix), false);
    }
}
