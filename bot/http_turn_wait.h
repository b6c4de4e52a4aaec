/* A turn_wait (bot/turn_wait.h) held by an HTTP request: the one plumbing of the routes that
 * answer a caller message within a wait (the HTTP message API, POST /v1/lex, POST /v1/connect).
 * The request is referenced until the wait ends. When its client goes first, the wait is
 * cancelled (the turn goes on and is stored) and `gone` runs; otherwise `done` runs with the
 * request's hooks released and the message counted (messages_total when taken, rate_limited
 * when refused by a rate limit). Loop thread only. */
#ifndef PARLEY_BOT_HTTP_TURN_WAIT_H
#define PARLEY_BOT_HTTP_TURN_WAIT_H

#include "bot/http_server.h"
#include "bot/turn_wait.h"

/** Submit `req` for `r`. Exactly one of `done` and `gone` (may be NULL) runs, never before this
 *  returns, when API_ERR_NONE is returned; otherwise the engine's immediate refusal, and neither
 *  runs. */
enum api_error http_turn_wait(struct http_server_req *r, const struct turn_wait_request *req,
                              turn_wait_cb done, void (*gone)(void *ud), void *ud);

#endif
