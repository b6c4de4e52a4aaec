/* The HTTP message API (docs/protocol.md "HTTP message API"): a caller message posted over
 * HTTP is stored and answered exactly as a WebSocket `message`, and its turn is told as
 * server-sent events or as one JSON answer after a wait; a turn can be polled. Each request
 * that follows a turn is a listener of the turn engine. */
#ifndef PARLEY_BOT_HTTP_MESSAGES_H
#define PARLEY_BOT_HTTP_MESSAGES_H

#include "bot/http_server.h"

/* Longest wait a request may ask for, and the wait when it asks for none. */
#define HTTP_MESSAGES_WAIT_DEFAULT_MS 25000
#define HTTP_MESSAGES_WAIT_MAX_MS     120000
/* A comment line keeps an idle event stream (a turn queued behind others) alive through
 * proxies that close silent connections. */
#define HTTP_MESSAGES_SSE_PING_MS 15000

/** POST /v1/sessions/{sid}/messages (`sid` checked to be a session id). */
void http_messages_post(struct http_server_req *r, const char *sid);
/** GET /v1/sessions/{sid}/turns/{turn} (turn >= 1). */
void http_messages_get_turn(struct http_server_req *r, const char *sid, long turn);

#endif
