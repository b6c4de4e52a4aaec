/* The libwebsockets side of parleyd: one lws context on the server's libuv loop (foreign loop),
 * serving HTTP (routes in http_api.c) and the caller WebSocket (chat.c). The only file that
 * includes lws callbacks. Loop thread only. */
#ifndef PARLEY_BOT_WS_SERVER_H
#define PARLEY_BOT_WS_SERVER_H

#include <stddef.h>

#include "bot/server.h"

/** Create the lws context and start listening on cfg->listen. PL_EINVAL/PL_EIO with `err`. */
int ws_server_start(struct bot_server *srv, char *err, size_t errlen);
/** Destroy the context: connections close; the loop finishes closing its handles. */
void ws_server_stop(struct bot_server *srv);

#endif
