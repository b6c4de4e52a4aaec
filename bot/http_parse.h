/* A strict, incremental parser of HTTP/1.1 request heads (RFC 9112), without I/O: bytes go in as
 * they arrive, split anywhere; out comes a complete head, or the error to answer with. Strict
 * where leniency lets two parsers disagree on where a request ends (request smuggling): any
 * duplicate Content-Length, Content-Length with Transfer-Encoding, obs-fold, a bare CR or LF,
 * control characters, whitespace before a header's colon, a bad version are refused (400).
 * Chunked request bodies are not supported: `Transfer-Encoding: chunked` is refused with 411 at
 * once (every client of ours sends Content-Length). A head longer than the limit, or with more
 * than HTTP_HEAD_MAX_FIELDS header lines, is refused with 431. The body is the caller's business
 * (Content-Length bytes after the head). Used by bot/conn.c; fuzzed by
 * tests/fuzz/fuzz_http_request.c. */
#ifndef PARLEY_BOT_HTTP_PARSE_H
#define PARLEY_BOT_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/api_error.h"
#include "common/buf.h"

/* Header lines one request may carry (431 beyond): far more than any browser sends (about 20),
 * and a bound on the work of looking headers up. */
#define HTTP_HEAD_MAX_FIELDS 100
/* Longest method token accepted (400 beyond). */
#define HTTP_METHOD_MAX 15
/* Most digits of a Content-Length (400 beyond): no body we take is near 10^18 bytes. */
#define HTTP_CONTENT_LENGTH_DIGITS 18

/* One header line: name and value (trimmed), NUL-terminated, in the head's storage. */
struct http_field {
    const char *name;
    const char *value;
};

/* A complete request head. Every string is NUL-terminated in the parser's storage (see
 * http_parser_take) and never NULL: "" when absent. */
struct http_head {
    const char *method; /* a token, e.g. "GET" */
    const char *path;   /* the request target up to '?' (origin-form: starts with '/') */
    const char *query;  /* after '?', raw (not decoded) */
    int version_minor;  /* HTTP/1.0 or HTTP/1.1 */
    struct http_field fields[HTTP_HEAD_MAX_FIELDS];
    size_t nfields;
    /* Headers that may appear once (a duplicate is a 400) */
    const char *host;
    const char *authorization;
    const char *content_type;
    const char *origin;
    const char *sec_websocket_key;
    const char *sec_websocket_version;
    bool has_host, has_origin;
    bool has_content_length;
    uint64_t content_length; /* 0 when absent */
    /* From Connection, Upgrade and Expect (lists, may repeat) */
    bool keep_alive;         /* the connection may carry another request after this one */
    bool connection_upgrade; /* Connection lists "upgrade" */
    bool upgrade_websocket;  /* Upgrade lists "websocket" */
    bool expect_continue;    /* Expect: 100-continue */
};

enum http_parse_status {
    HTTP_PARSE_ERROR = -1, /* see http_parser.error, .message; the connection must close */
    HTTP_PARSE_MORE = 0,   /* every byte fed was taken; feed more */
    HTTP_PARSE_DONE = 1,   /* the head is complete: http_parser.head */
};

/* The parser. Fields are read-only for callers once a feed returned DONE (head) or ERROR
 * (error, message). */
struct http_parser {
    struct pl_buf store; /* the head's bytes (the empty lines before it left out) */
    size_t limit;        /* most bytes of one head */
    bool started;        /* a byte of the request line was seen */
    char prev;           /* last byte taken, for CR LF checks across feeds */
    int crlf_run;        /* line ends in a row at the end of what was taken (2: head ends) */
    int state;           /* enum http_parse_status of the last feed */
    struct http_head head;
    enum api_error error; /* on HTTP_PARSE_ERROR: BAD_REQUEST, LENGTH_REQUIRED, ... */
    const char *message;  /* on HTTP_PARSE_ERROR: static text saying what is wrong */
};

/** Prepare `p` for heads of at most `limit` bytes (request line, headers and the empty line). */
void http_parser_init(struct http_parser *p, size_t limit);
/** Free the storage. Accepts NULL. */
void http_parser_cleanup(struct http_parser *p);
/** Start on the next request (after DONE or to abandon one), keeping the limit. */
void http_parser_reset(struct http_parser *p);

/** Feed `len` bytes. `*used` is set to how many of them the head took: all of them for MORE;
 *  for DONE, those up to the end of the head (the rest belong to the body or the next request);
 *  for ERROR, an unspecified count (nothing after an error may be read as a request). Empty
 *  lines before the request line are skipped (RFC 9112 section 2.2). After DONE or ERROR, feeding
 *  again returns the same result with `*used` 0 until http_parser_reset. */
enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *used);

/** After DONE: take the storage that the head's strings point into (pl_free it once they are not
 *  needed); `p` starts on the next request as after http_parser_reset, and `*head` (copied out)
 *  stays valid with the storage. */
char *http_parser_take(struct http_parser *p, struct http_head *head);

/** The value of the first header named `name` (case-insensitive), or NULL. */
const char *http_head_field(const struct http_head *h, const char *name);
/** True when some header named `name` lists `token` (comma-separated, case-insensitive). */
bool http_head_lists(const struct http_head *h, const char *name, const char *token);

#endif
