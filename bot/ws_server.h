/* The libwebsockets side of parleyd: one lws context on the server's libuv loop (foreign loop),
 * used as the socket layer only (raw sockets: accept or adopt, read, write with buffering, writable
 * callbacks). Each socket is a connection of bot/conn.h, which parses HTTP and WebSocket itself.
 * The only file with lws callbacks. Loop thread only. */
#ifndef PARLEY_BOT_WS_SERVER_H
#define PARLEY_BOT_WS_SERVER_H

#include <stddef.h>

#include "bot/server.h"

/** Create the lws context and start listening on cfg->listen. PL_EINVAL/PL_EIO with `err`. */
int ws_server_start(struct bot_server *srv, char *err, size_t errlen);
/** Hand an accepted socket `fd` to lws as a connection of ours (a raw socket speaking HTTP,
 *  then perhaps WebSocket). PL_OK; PL_ECLOSED when the server is stopping; PL_EIO when lws
 *  refused it. In every case the descriptor is lws's: closed by it, never by the caller. */
int ws_server_adopt(struct bot_server *srv, int fd);
/** Ask every caller connection to close with 1001 (going away) once its queued frames are
 *  written (chat.c does it from the connection's next WRITEABLE). */
void ws_server_close_callers(struct bot_server *srv);
/** Stop listening and close every connection (lws on a foreign loop destroys in two stages:
 *  this is the first; its libuv handles finish closing as the loop runs). Idempotent. */
void ws_server_stop(struct bot_server *srv);
/** Second stage, once the loop has run: free the context. Calls ws_server_stop if needed. */
void ws_server_free(struct bot_server *srv);

#endif
