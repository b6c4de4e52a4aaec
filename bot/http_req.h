/* One HTTP request as the routes see it (parsed by ws_server.c), and how they answer. A route
 * answers at once or later (after Redis replies): it takes a reference for the wait, and
 * http_reply on a request whose socket closed meanwhile is a no-op. Loop thread only. */
#ifndef PARLEY_BOT_HTTP_REQ_H
#define PARLEY_BOT_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/server.h"
#include "common/buf.h"

struct lws;

struct http_req {
    struct bot_server *srv;
    struct lws *wsi; /* NULL once the connection closed */
    int refs;
    char method[8];
    char path[256];
    char query[1024]; /* raw, without '?' */
    char authorization[1024];
    char content_type[128];
    struct pl_buf body;
    bool body_too_large;
    bool answered;
    /* response */
    int status;
    char resp_type[64];
    struct pl_buf resp;
    bool headers_sent;
};

void http_req_ref(struct http_req *r);
void http_req_unref(struct http_req *r);

/** Answer with `status` and a body (copied). Content type NULL: application/json. */
void http_reply(struct http_req *r, int status, const char *content_type, const void *body,
                size_t len);
/** Answer with the error shape of docs/protocol.md ("HTTP"), {"error":{"code","message"}},
 *  and the code's status. */
void http_reply_error(struct http_req *r, const char *code, const char *message);

/** Route a complete request (http_api.c). */
void http_api_dispatch(struct http_req *r);

#endif
