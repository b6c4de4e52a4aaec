/* One inbound HTTP request as the routes see it (parsed by bot/conn.c), and how they answer:
 * at once or later (after Redis replies, or when a turn ends), with a whole body, or as a stream
 * (server-sent events). A route that answers later takes a reference; answering a request whose
 * connection closed meanwhile is a no-op, and `on_close` tells a route that keeps state (a
 * listener) that the connection went. Outbound HTTP is connectors/http_client.h: the prefixes
 * `http_server_` and `http_client_` keep the two apart. Loop thread only. */
#ifndef PARLEY_BOT_HTTP_SERVER_H
#define PARLEY_BOT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot/conn_limits.h"
#include "bot/http_parse.h"
#include "bot/server.h"
#include "common/api_error.h"
#include "common/buf.h"

struct conn;

struct http_server_req {
    struct bot_server *srv;
    struct conn *conn; /* NULL once the connection closed or the answer was written whole */
    int refs;
    /* The request (bot/http_parse.h): strings in `head`'s storage, "" when absent */
    const char *method;
    const char *path;
    const char *query; /* raw, without '?' */
    const char *authorization;
    const char *content_type;
    const char *accept;
    const char *origin;
    char client_key[CONN_PEER_KEY_LEN]; /* http_server_peer */
    struct http_head head;              /* every header, for routes that need others */
    struct pl_buf body;
    /* response */
    bool answered;
    int status;
    const char *allow;         /* the Allow header of a 405, static */
    const char *extra_headers; /* static header lines ("name: value\r\n"...), or NULL */
    uint32_t retry_after_s;    /* the Retry-After header of a 429 (0: none) */
    struct pl_buf resp;        /* the answer's head and body, or the stream's bytes not yet
                                  written */
    /* streaming (http_server_stream_*) */
    bool streaming;
    bool stream_ended;
    bool final_written;
    /* a route's hook: called once, when the connection closes (or the answer has been written)
     * before the route let go (http_server_release_hooks) */
    void (*on_close)(struct http_server_req *r);
    void *route_data;
    /* the connection's (bot/conn.c) */
    char *head_store;
    bool close_after; /* answer with Connection: close and close */
    const char *cors_origin;
};

/** The client's address as per-address limits count it (acceptor_conn_peer: an IPv6 address
 *  by its /64; "" for a unix socket): for a request from a trusted proxy, the client its
 *  X-Forwarded-For names. */
const char *http_server_peer(const struct http_server_req *r);

void http_server_ref(struct http_server_req *r);
void http_server_unref(struct http_server_req *r);

/** Answer with `status` and a body (copied). Content type NULL: application/json. */
void http_server_reply(struct http_server_req *r, int status, const char *content_type,
                       const void *body, size_t len);
/** Answer with the error table's status and {"error":{"code","message","retryable"}};
 *  `message` NULL gives the table's default. */
void http_server_reply_error(struct http_server_req *r, enum api_error code, const char *message);
/** The same for a refusal by a rate limit: the body's error gets "retry_after_ms":N and the
 *  response a Retry-After header (whole seconds, rounded up). 0 is http_server_reply_error. */
void http_server_reply_error_after(struct http_server_req *r, enum api_error code,
                                   const char *message, uint32_t retry_after_ms);
/** 405 with an Allow header listing `allow` (static, e.g. "GET, POST"). */
void http_server_reply_method_not_allowed(struct http_server_req *r, const char *allow);

/** Start a streamed answer: the status and headers now (no length: the stream ends when the
 *  connection closes, as server-sent events over HTTP/1.1 do), the body as it is written. */
void http_server_stream_begin(struct http_server_req *r, int status, const char *content_type);
/** Queue `len` bytes of the stream. PL_ETOOBIG when more than --send-queue-bytes wait for a
 *  client that does not read: the stream is then cut (the connection closes). */
int http_server_stream_write(struct http_server_req *r, const void *data, size_t len);
/** The stream is complete: the connection closes once everything queued is written. */
void http_server_stream_end(struct http_server_req *r);

/** The route is done with `r`: on_close is not called any more. */
void http_server_release_hooks(struct http_server_req *r);

/* What answers a complete request: http_routes.c's dispatcher, set by main.c in the server
 * context, so that the connection does not depend on the routes. */
typedef void (*http_server_dispatch_fn)(struct http_server_req *r);

#endif
