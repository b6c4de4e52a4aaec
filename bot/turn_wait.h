/* Submit a caller message and wait for its answer up to a budget: the one way the HTTP message
 * API (a wait, not a stream) and the webhooks (POST /v1/lex, /v1/connect) ask the turn engine
 * for an answer within a time limit. The message is stored and its turn submitted as
 * turn_submit does; a listener of the session waits for that turn's end; when the budget runs
 * out first the outcome says "pending" and the turn goes on in the background (it is stored;
 * turn_poll reads it later). Loop thread only. */
#ifndef PARLEY_BOT_TURN_WAIT_H
#define PARLEY_BOT_TURN_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bot/turn/turn_engine.h"
#include "common/api_error.h"

struct turn_wait;

/* How a wait came out. Borrowed for the call. */
struct turn_wait_result {
    enum api_error err;      /* API_ERR_NONE: acknowledged as `turn`; otherwise the engine's
                                refusal (nothing stored; turn_ack says which) */
    uint32_t retry_after_ms; /* with `err`: when sending again may succeed (0: no hint) */
    long turn;
    bool duplicate;             /* the client id was stored before, as `turn` */
    const struct turn_end *end; /* the turn ended within the wait; NULL: still pending */
};
typedef void (*turn_wait_cb)(void *ud, const struct turn_wait_result *r);

struct turn_wait_request {
    const char *sid;       /* a valid session id */
    const char *address;   /* the sender's address for the per-address limit; NULL: none */
    const char *client_id; /* nullable: makes resending safe (turn_submit) */
    const char *text;      /* validated UTF-8 */
    size_t len;
    uint32_t wait_ms; /* 0: answer "pending" as soon as the message is acknowledged */
};

/**
 * Store and submit `req`'s message in `engine`, then wait up to req->wait_ms for its turn to
 * end. `cb` runs exactly once, never before this returns, unless turn_wait_cancel comes first.
 * Returns API_ERR_NONE with `*out` set (valid until `cb` has run or turn_wait_cancel), or the
 * engine's immediate refusal (BUSY, STORAGE_UNAVAILABLE, SHUTTING_DOWN: cb never runs).
 */
enum api_error turn_wait_submit(struct turn_engine *engine, uv_loop_t *loop,
                                const struct turn_wait_request *req, turn_wait_cb cb, void *ud,
                                struct turn_wait **out);

/** The waiter is gone (its client went): `cb` never runs; the turn goes on. Only before `cb`
 *  has run. */
void turn_wait_cancel(struct turn_wait *w);

#endif
