/* The caller WebSocket protocol (docs/protocol.md "Caller WebSocket", subprotocol
 * parley.chat.v1): one chat_conn per connection, its hello/message/cancel handling, and its
 * bounded send queue. bot/conn.c feeds it the WebSocket's messages and writable calls, and it sends
 * through conn_ws_send; once ready, a connection is a listener of its session in the turn engine
 * (bot/turn/turn_engine.h). Loop thread only. */
#ifndef PARLEY_BOT_CHAT_H
#define PARLEY_BOT_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/server.h"

struct conn;
struct chat_conn;
struct pl_buf;

/** A new WebSocket connection was established. */
struct chat_conn *chat_conn_open(struct bot_server *srv, struct conn *conn);
/** A received piece of a WebSocket message (`first`, `final`: it starts, ends the message).
 *  Returns -1 to close the socket. */
int chat_conn_receive(struct chat_conn *c, const void *data, size_t len, bool first, bool final,
                      bool binary);
/** The socket may be written: send queued frames while it has room. Returns -1 to close. */
int chat_conn_writeable(struct chat_conn *c);
/** The socket closed; the conn detaches from its session and is released when unused. */
void chat_conn_closed(struct chat_conn *c);

/** Prepare the server's frame buffer (bot_server.frame), in which every frame to a caller is
 *  built in turn (bot/outbuf.h). */
void chat_frames_init(struct pl_buf *frame);

#endif
