/* The libwebsockets side of parleyd: one lws context on the server's libuv loop (foreign loop),
 * used as the socket layer only (raw sockets: accept or adopt, read, write with buffering, writable
 * callbacks). Each socket is a connection of bot/conn.h, which parses HTTP and WebSocket itself.
 * The only file with lws callbacks. Loop thread only. */
#ifndef PARLEY_BOT_WS_SERVER_H
#define PARLEY_BOT_WS_SERVER_H

#include <stddef.h>

#include "bot/server.h"

struct acceptor_conn;

/** Create the lws context (it listens on nothing: bot/acceptor.h does). PL_EIO with `err`. */
int ws_server_start(struct bot_server *srv, char *err, size_t errlen);
/** Hand accepted socket `fd` to lws as a connection of ours (a raw socket speaking HTTP, then
 *  perhaps WebSocket); `conn` is released (acceptor_conn_closed) once the socket is closed, and
 *  a connection accepted into the health-check reserve answers health checks only. The
 *  acceptor_adopt_fn of the acceptor: 0, or -1 with `fd` closed and `conn` not to be released. */
int ws_server_adopt(struct bot_server *srv, int fd, struct acceptor_conn *conn);
/** Ask every caller connection to close with 1001 (going away) once its queued frames are
 *  written (chat.c does it from the connection's next WRITEABLE). */
void ws_server_close_callers(struct bot_server *srv);
/** Stop listening and close every connection (lws on a foreign loop destroys in two stages:
 *  this is the first; its libuv handles finish closing as the loop runs). Idempotent. */
void ws_server_stop(struct bot_server *srv);
/** Second stage, once the loop has run: free the context. Calls ws_server_stop if needed. */
void ws_server_free(struct bot_server *srv);

#endif
