/* The HTTP routes of parleyd (docs/protocol.md "HTTP"): health, metrics, the demo pages, the
 * session API and the HTTP message API. */
#ifndef PARLEY_BOT_HTTP_ROUTES_H
#define PARLEY_BOT_HTTP_ROUTES_H

#include "bot/http_server.h"

/** Answer a complete request (the server context's http_dispatch). */
void http_routes_dispatch(struct http_server_req *r);

#endif
