/* Amazon S3's XML replies, I/O-free (PROTOCOLS.md 6E): a ListObjectsV2 page
 * (<ListBucketResult>) and an error body (<Error><Code/><Message/>...). Only what a document
 * sync needs is kept: each object's Key, ETag (with its quotes, as S3 sends it), Size and
 * LastModified; IsTruncated and NextContinuationToken to page on. Other elements (Owner,
 * StorageClass, CommonPrefixes, ...) are skipped wherever they are.
 *
 * The XML read is the subset S3 writes: an optional <?xml ...?> declaration, elements with
 * attributes (the namespace), text with the five predefined entities (&quot; &amp; &lt; &gt;
 * &apos;) and numeric references (&#38; &#x26;), comments and CDATA sections. A DOCTYPE, an
 * unknown entity, a reference to a code point XML cannot carry (NUL, a surrogate, past
 * U+10FFFF), mismatched tags or text past the end are refused. Texts are returned decoded,
 * untrimmed (a key may begin or end with a space), as NUL-terminated strings. */
#ifndef PARLEY_CONNECTORS_S3_LIST_H
#define PARLEY_CONNECTORS_S3_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_LIST_MAX_TEXT    8192  /* bytes of one decoded element text (a key is at most 1024) */
#define S3_LIST_MAX_OBJECTS 10000 /* per page (S3 sends at most 1000) */
#define S3_LIST_MAX_DEPTH   16

struct s3_object {
    char *key;  /* decoded, non-empty, without NUL */
    char *etag; /* as sent, quotes kept: "\"9b2cf535f27731c974343645a3985328\""; "" if absent */
    uint64_t size;
    char last_modified[32]; /* "2026-01-02T03:04:05.000Z" as sent (cut at 31 bytes); "" */
};

struct s3_list_page {
    struct s3_object *objects;
    size_t n;
    bool is_truncated;
    char *next_token; /* NextContinuationToken, or NULL */
};

/** Read one ListObjectsV2 reply. PL_OK with `out` filled; PL_EPROTO when it is not a
 *  well-formed <ListBucketResult> (an object without a Key, a Size that is not a number,
 *  IsTruncated other than true/false, truncated without a token); PL_ETOOBIG past a bound
 *  above. On failure `out` is empty. Release with s3_list_page_cleanup (also after failure). */
int s3_list_parse(const char *xml, size_t len, struct s3_list_page *out);
void s3_list_page_cleanup(struct s3_list_page *page);

/* The fields of an S3 error body, cut to their size; control bytes become spaces, so each can
 * be printed on one line. "" when absent. */
struct s3_error {
    char code[64];       /* NoSuchBucket, AccessDenied, PermanentRedirect, ... */
    char message[512];   /* S3's sentence */
    char region[64];     /* <Region> of AuthorizationHeaderMalformed */
    char endpoint[256];  /* <Endpoint> of PermanentRedirect */
    char bucket[256];    /* <BucketName> */
    char request_id[64]; /* <RequestId>, for a support case */
};

/** Read an <Error> body: PL_OK when its root is <Error> with a non-empty <Code>; PL_EPROTO
 *  otherwise (the fields then empty). */
int s3_error_parse(const char *xml, size_t len, struct s3_error *out);

/** Decode the entities and character references of `len` bytes of XML text into `out` (room
 *  for `cap` bytes and a NUL). PL_OK with *out_len; PL_EPROTO for a bad reference or a '<';
 *  PL_ETOOBIG when it does not fit. */
int s3_xml_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len);

#endif
