/* What the turn engine's files share; nothing outside bot/turn/ includes this. The engine
 * (turn_engine.c) owns the live sessions (turn_session.c), each of which runs its turns one at a
 * time through the state machine of turn_run.c. */
#ifndef PARLEY_BOT_TURN_TURN_INTERNAL_H
#define PARLEY_BOT_TURN_TURN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bot/turn/turn_engine.h"
#include "common/buf.h"
#include "common/map.h"
#include "connectors/llm.h"
#include "sessions/session_store.h"

/* The states of a turn taken up on this instance:
 *   LOCKING   taking the session's turn lock and reading the record and history (or finding
 *             that another answer already covers the turn); with a daily budget on, then
 *             reserving the turn's most in its tenant's day (docs/cost.md)
 *   STREAMING the provider answers; each delta is kept (for replay) and told to the listeners
 *   STORING   the answer goes to the transcript and the lock is released; turn_end is told
 *             after the first attempt
 *   ENDED     turn_end was told; kept as the session's last turn for replay and polls */
enum turn_state { TURN_LOCKING, TURN_STREAMING, TURN_STORING, TURN_ENDED };

/* Documents an answer cites, owned (copies of the prompt's, or read back from the transcript). */
struct turn_citations {
    struct prompt_citation *items;
    size_t n;
};

struct turn {
    long turn;
    enum turn_state state;
    struct pl_buf answer; /* the text so far */
    size_t *delta_ends;   /* delta k spans answer[delta_ends[k-1] .. delta_ends[k]) */
    size_t n_deltas;
    size_t cap_deltas;
    struct llm_call *call; /* STREAMING */
    enum llm_stop stop;
    bool cancel_requested;     /* turn_cancel (or the deadline) while LOCKING or STREAMING */
    enum llm_stop cancel_stop; /* the stop reason a cancellation gives: cancelled or timeout */
    bool shutting_down;        /* ended by turn_engine_cancel_all while its begin was in flight */
    bool begin_in_flight;      /* a begin (or a budget reservation) waits for Redis */
    bool locked;               /* this instance took the session's turn lock for it */
    bool in_llm_start;         /* inside llm_start: an outcome is recorded, handled after */
    bool outcome_ready;        /* the provider finished inside llm_start */
    struct llm_usage usage;
    long long cost_micros;
    /* Cost: whose usage it is, the UTC day it counts to, and its budget reservation. */
    char tenant[SESS_TENANT_MAX + 1];
    char day[11];
    char reservation[96]; /* "" when none is held */
    struct prompt prompt; /* built, kept while the reservation is asked for */
    bool has_prompt;
    long summary_due; /* the prompt's summary_due_through: told once the answer is stored */
    /* For turn_finished: the question the prompt was built for (NULL: none built) and the
     * knowledge passages found for it (kb_searched false: none were searched for). */
    char *question;
    size_t question_len;
    bool kb_searched;
    size_t kb_found;
    char model[128];
    char provider[32];
    enum api_error error; /* API_ERR_NONE unless it failed before any text */
    char error_message[320];
    uint32_t retry_after_ms; /* with `error`: when asking again may succeed (0: no hint) */
    long answered_in;        /* the turn whose answer covers it: its own unless another's does */
    struct turn_citations citations;
    bool end_sent; /* turn_end was told (STORING: after the first store attempt) */
    /* Its turn_end went another way: on a turn here whose answer another instance streams, that
     * instance's turn_end tells it; on a turn told from elsewhere, this instance's own read of
     * the stored answer told it (turn_remote.c). */
    bool end_silent;
    unsigned begin_attempts;
    unsigned store_attempts;
    uint64_t taken_ms; /* loop time it was taken up */
    uint64_t lease_ms; /* loop time the lock was taken or last renewed */
    /* The lock and context that came with the append, kept until the loop pass has sent its
     * acks (see turn_run.c, on_start_check). */
    struct sess_turn_context *begun;
    /* The context kept while the session's policy record is read (begin_in_flight). */
    struct sess_turn_context *policy_ctx;
    /* Dense retrieval (turn_kb.c): the question's embedding in flight (begin_in_flight), the
     * context and the step it continues with, then the vector (NULL: BM25 alone). */
    void *kb_embed;
    struct sess_turn_context *kb_ctx;
    void (*kb_next)(struct turn_session *s, struct sess_turn_context *ctx);
    float *kb_qvec;
};

struct turn_session {
    struct turn_engine *engine;
    char sid[SESS_ID_LEN + 1];
    int refs; /* listeners, queued or running turns, appends in flight, polls */
    struct turn_listener *listeners;
    struct turn_listener *emit_next; /* the next listener an emission will tell */
    long *queue;                     /* acknowledged turns waiting here, oldest first */
    size_t queue_len;
    size_t queue_cap;
    struct turn *active;        /* the turn taken up, or NULL */
    struct turn *last;          /* the last ended turn, kept for replay and polls */
    size_t appends_in_flight;   /* caller messages being stored */
    unsigned cancels_uncharged; /* answers the caller cancelled here, not yet charged to the rate
                                   limits (turn_submit charges them with the next message) */
    uv_timer_t timer; /* begin retries, the turn deadline or store retries: one at a time */
    struct turn_session *prev, *next;   /* in the engine's list of live sessions */
    struct turn_session *next_starting; /* in the engine's list of begun turns to start */
    bool policy_missing_logged;         /* its bound policy has no record: said once */
    /* The newest turn another instance answers, as told here (turn_remote.c): LOCKING until its
     * turn_start, STREAMING, ENDED. NULL: none. */
    struct turn *remote;
    bool remote_heard;   /* an event of it since the last turn_remote_check */
    bool remote_stalled; /* it went quiet: this instance reads its answer back */
    long remote_retold;  /* the turn a tell-again was asked for (once per turn) */
};

struct turn_engine {
    struct turn_engine_opts opts;
    char instance_id[64];
    struct pl_map sessions; /* sid -> struct turn_session * */
    struct turn_session *all;
    uv_timer_t lease_timer;        /* renews the turn locks of running turns */
    uv_check_t start_check;        /* starts begun turns once a loop pass's acks are out */
    struct turn_session *starting; /* sessions whose begun turn waits for start_check */
    bool draining;
    bool stopped;
    struct turn_engine_stats stats;
    char reserve_model[128];
};

/* ---- turn_session.c: live sessions, listeners and what they are told ---- */

/** The live session of `sid`, created if absent, with one reference for the caller. */
struct turn_session *turn_session_get(struct turn_engine *e, const char *sid);
/** The live session of `sid` or NULL (no reference taken). */
struct turn_session *turn_session_find(struct turn_engine *e, const char *sid);
void turn_session_ref(struct turn_session *s);
/** Drop a reference; the last one removes the session and frees it once its timer is closed. */
void turn_session_unref(struct turn_session *s);
/** True if `turn` is queued or taken up here (not ended). */
bool turn_session_has_turn(const struct turn_session *s, long turn);
/** A turn taken up at loop time `now`, LOCKING. */
struct turn *turn_new(long turn, uint64_t now);
/** Give `t` the stored answer `a` that covers it (text, stop reason, usage, citations, error,
 *  answered_in); `a` NULL (no longer in the transcript): answered_in `answered`, nothing else. */
void turn_take_answer(struct turn *t, const struct sess_entry *a, long answered);
/** Free a turn and everything it owns. Accepts NULL. */
void turn_free(struct turn *t);

/* One walk over a session's listeners, each free to detach itself meanwhile: begin, next until
 * NULL, end. */
struct turn_emission {
    struct turn_session *s;
    struct turn_listener *saved; /* the cursor of an emission this one runs inside */
};
void turn_emission_begin(struct turn_emission *e, struct turn_session *s);
struct turn_listener *turn_emission_next(struct turn_emission *e);
void turn_emission_end(struct turn_emission *e);
/** The stop reason named `name` (end_turn for an unknown one). */
enum llm_stop turn_stop_from_name(const char *name);

void turn_emit_agent(struct turn_session *s, const struct turn_agent_event *ev);
void turn_emit_held(struct turn_session *s, long turn);
void turn_emit_start(struct turn_session *s, long turn);
void turn_emit_message(struct turn_session *s, long turn, const char *text, size_t len);
void turn_emit_delta(struct turn_session *s, long turn, long seq, const char *text, size_t len);
/** Tell the error of `t`: its code, its message (the table's when none was written) and its
 *  retry_after_ms. */
void turn_emit_error(struct turn_session *s, const struct turn *t);
void turn_emit_end(struct turn_session *s, struct turn *t);
/** Fill `out` from `t` (borrowing its storage). */
void turn_end_of(const struct turn *t, struct turn_end *out);

/* ---- turn_run.c: the state machine ---- */

/** Queue acknowledged turn `turn` unless it is queued or taken up here; start it if nothing is
 *  being answered. `begun` (owned, nullable): the lock and context that came with its append. */
void turn_enqueue(struct turn_session *s, long turn, struct sess_turn_context *begun);
/** True when a message appended now would be the next turn taken up (so its append may begin
 *  it in the same round trip); fills `o`. */
bool turn_can_begin_with_append(const struct turn_session *s, struct sess_begin_opts *o);
/** End every queued turn of `s` with SHUTTING_DOWN. */
void turn_drop_queue(struct turn_session *s);
/** End the session's active turn now, as turn_engine_cancel_all says. */
void turn_end_now(struct turn_session *s);
/** Stop the active turn with stop reason `stop` (a cancel already asked for keeps its own). */
bool turn_cancel_active(struct turn_session *s, enum llm_stop stop);
void turn_on_lease_timer(uv_timer_t *timer);
void turn_on_start_check(uv_check_t *check);

/* ---- turn_citations.c ---- */

/* Knowledge passages of one question (turn_kb.c), owned. */
#define TURN_KB_MAX_PASSAGES 16
/* A passage scoring below this share of the best one is left out: it matches the question's
 * common words only. */
#define TURN_KB_RELATIVE_CUTOFF 0.3
struct turn_kb_passages {
    struct prompt_document docs[TURN_KB_MAX_PASSAGES];
    size_t n;
};
struct kb_index;
/** The best passages (at most k, and TURN_KB_MAX_PASSAGES) of `ix` for the len bytes of
 *  `question` into `out`; returns how many. `ix` NULL or k 0: none. With `dense` and the
 *  question's vector `qvec` (both may be NULL), BM25 and dense hits fused (kb_fusion.h). */
size_t turn_kb_find(struct kb_index *ix, const struct turn_kb_dense *dense, const float *qvec,
                    uint32_t k, const char *question, size_t len, struct turn_kb_passages *out);
/** Embed the caller's latest question of `ctx` (up to the active turn) when dense retrieval
 *  is on, then continue with `next(s, ctx)` (at once when it is off or has nothing to search;
 *  otherwise once the embedding is in, failed or timed out, with begin_in_flight meanwhile).
 *  Takes `ctx` over until `next` gets it. */
void turn_kb_embed_question(struct turn_session *s, struct sess_turn_context *ctx,
                            void (*next)(struct turn_session *s, struct sess_turn_context *ctx));
void turn_kb_cleanup(struct turn_kb_passages *p);
/** Narrow `c` to what `answer` cites: when the answer names one or more "[kb:FILE#N]" (or
 *  "[kb:FILE]"), the kb: citations it does not name are dropped; other citations stay. */
void turn_citations_narrow(struct turn_citations *c, const char *answer);

void turn_citations_copy(struct turn_citations *dst, const struct prompt_citation *src, size_t n);
/** From the JSON array text stored with an answer; malformed or empty text gives none. */
void turn_citations_parse(struct turn_citations *dst, const char *json);
/** The JSON array text for the transcript (new string), or NULL when there are none. */
char *turn_citations_json(const struct turn_citations *c);
void turn_citations_cleanup(struct turn_citations *c);

#endif
