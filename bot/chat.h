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

struct pl_buf;
struct ws_endpoint;

/** The caller protocol on GET /v1/chat, subprotocol parley.chat.v1: an entry of the server's
 *  WebSocket table (bot_server.ws_endpoints). */
extern const struct ws_endpoint chat_ws_endpoint;

/** Prepare the server's frame buffer (bot_server.frame), in which every frame to a caller is
 *  built in turn (bot/outbuf.h). */
void chat_frames_init(struct pl_buf *frame);

#endif
