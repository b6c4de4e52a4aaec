/* Where an S3 request goes and what path and query it carries (PROTOCOLS.md 6E), I/O-free:
 * virtual-hosted `https://BUCKET.s3.REGION.amazonaws.com/KEY` by default, path style
 * `https://s3.REGION.amazonaws.com/BUCKET/KEY` for a bucket name with dots (TLS cannot match
 * it), and path style on an endpoint given (an S3-compatible store, a VPC endpoint, a test
 * double): `ENDPOINT[/PATH]/BUCKET/KEY`. Paths and queries come out exactly as sent, which with
 * PL_SIGV4_S3_PATH is also how they are signed: each key segment percent-encoded once (RFC 3986
 * unreserved kept, '/' kept), query values encoded and the parameters in sorted order. */
#ifndef PARLEY_CONNECTORS_S3_ADDRESS_H
#define PARLEY_CONNECTORS_S3_ADDRESS_H

#include <stdbool.h>

#include "common/buf.h"

struct s3_address {
    char bucket[64];
    char host[512];      /* the Host header signed and sent: "docs.s3.eu-west-2.amazonaws.com" */
    char base[600];      /* scheme://host[:port] */
    char base_path[256]; /* an endpoint's own path, without a trailing '/'; "" */
    bool path_style;
};

/** True for a bucket name S3 accepts: 3 to 63 of a-z 0-9 . - (legacy upper case and '_' too). */
bool s3_bucket_valid(const char *bucket);
/** True for a region name: 1 to 64 of a-z 0-9 -. */
bool s3_region_valid(const char *region);

/** Address `bucket` in `region`, through `endpoint` (http or https URL, or NULL for AWS's).
 *  PL_OK, or PL_EINVAL for a bad bucket, region or endpoint. */
int s3_address_set(struct s3_address *a, const char *bucket, const char *region,
                   const char *endpoint);

/** The path of `key` as sent (NULL: the bucket's, for a listing), appended to `out`. */
void s3_address_path(const struct s3_address *a, const char *key, struct pl_buf *out);

/** A ListObjectsV2 query, appended to `out`: continuation-token (when not NULL), list-type=2,
 *  prefix (when not empty), sorted as signed. */
void s3_list_query(const char *prefix, const char *token, struct pl_buf *out);

#endif
