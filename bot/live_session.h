/* A session live on this instance: its connected callers, the queue of acknowledged caller
 * messages waiting for an answer, and the turn being answered (turn.c runs it). It exists while
 * a caller is connected or a turn is queued, running or being stored; the session itself lives
 * in Redis and outlives it. Loop thread only. */
#ifndef PARLEY_BOT_LIVE_SESSION_H
#define PARLEY_BOT_LIVE_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "bot/server.h"
#include "common/buf.h"
#include "connectors/llm.h"
#include "sessions/session_store.h"

struct chat_conn;

enum turn_state {
    TURN_LOCKING,   /* waiting for the session's turn lock and context */
    TURN_STREAMING, /* the model is answering */
    TURN_STORING,   /* the answer is being written to the transcript */
    TURN_DONE,      /* stored; kept for resume until the next turn ends */
};

struct bot_turn {
    long turn;
    enum turn_state state;
    struct pl_buf answer; /* the text sent so far */
    size_t *delta_ends;   /* delta k spans answer[delta_ends[k-1] .. delta_ends[k]) */
    size_t n_deltas;
    size_t cap_deltas;
    struct llm_call *call;
    enum llm_stop stop;
    enum llm_stop cancel_reason; /* why we cancelled the call, when we did */
    bool cancelled;
    struct llm_usage usage;
    char model[128];
    char provider[32];
    const char *error_code; /* static string; NULL unless the turn failed before any text */
    bool end_pending;       /* turn_end waits for the answer to be stored */
    bool end_sent;          /* turn_end was sent (replayed to reconnecting callers) */
    unsigned store_attempts;
    unsigned begin_attempts;
    uint64_t started_ms;
    uint64_t lease_ms; /* loop time the turn lock was taken or last renewed */
    /* The lock and context that came with the append, kept until the loop pass has sent every
     * ack it has to send (turn.c starts the turn from its check handle); ours to free. */
    struct sess_turn_context *begun;
};

struct bot_session {
    struct bot_server *srv;
    char sid[SESS_ID_LEN + 1];
    int refs;
    struct chat_conn *conns; /* linked through chat_conn's session link */
    long *queue;             /* acknowledged turns waiting for an answer, oldest first */
    size_t queue_len;
    size_t queue_cap;
    struct bot_turn *active;  /* the turn being answered, or NULL */
    struct bot_turn *last;    /* the last finished turn, kept for resume */
    size_t appends_in_flight; /* caller messages being stored */
    uv_timer_t timer;         /* retries or the turn deadline: one at a time */
    bool timer_closing;
    struct bot_session *next_starting; /* in the server's list of turns to start (turn.c) */
};

/** The live session for `sid`, created (with one reference for the caller) if absent. */
struct bot_session *live_session_get(struct bot_server *srv, const char *sid);
void live_session_ref(struct bot_session *s);
/** Drop a reference; the last one removes the session from the server and frees it. */
void live_session_unref(struct bot_session *s);
/** True if `turn` is queued or being answered here. */
bool live_session_has_turn(const struct bot_session *s, long turn);

/* ---- turn engine (turn.c) ---- */

/** True if a caller message appended now would be the next turn to answer, and so could begin
 *  its turn in the same round trip as the append; fills `o` for sess_append_caller. */
bool turn_begin_with_append(const struct bot_session *s, struct sess_begin_opts *o);
/** Queue an acknowledged caller turn; starts it if nothing is being answered, with the lock and
 *  context `begun` (nullable) that came with its append (taking it, on every path). PL_EBUSY if the
 *  queue is full. */
int turn_enqueue(struct bot_session *s, long turn, struct sess_turn_context *begun);
/** Stop the answer being streamed (stop reason `why`); queued turns go on. False if none. */
bool turn_cancel_active(struct bot_session *s, enum llm_stop why);
/** Start the turn engine's handles: the lease timer (renews, every third of --turn-lock-ms, the
 *  Redis turn locks this instance holds) and the check handle that starts begun turns. */
void turn_engine_start(struct bot_server *srv);
/** Close those handles. Idempotent. */
void turn_engine_stop(struct bot_server *srv);
/** Free a finished turn. Accepts NULL. */
void turn_free(struct bot_turn *t);

#endif
