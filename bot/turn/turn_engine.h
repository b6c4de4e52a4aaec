/* The turn engine: one conversational turn at a time per session, from a stored caller message
 * to a stored answer, with its events told to whoever listens to the session. It knows nothing
 * of sockets or wire formats: the caller WebSocket, the HTTP message API (and later agent
 * watchers and webhooks) are listeners. docs/architecture.md "The turn engine" has the picture.
 *
 * The one way a turn starts is turn_submit (or turn_recover for messages whose instance stopped
 * before answering them). A session's turns run one at a time, in order, across instances (a
 * lock in Redis). An answer covers every caller message up to its turn that has no answer yet:
 * normally just its own; several when messages of one session were acknowledged by different
 * instances at once, or an earlier turn failed before the model started. Every acknowledged turn
 * gets exactly one turn_end on the listeners of the instance that acknowledged it, naming the turn
 * whose answer covered it (answered_in).
 *
 * Loop thread only. Callbacks never run after the object they were given for is released as the
 * functions below say. */
#ifndef PARLEY_BOT_TURN_TURN_ENGINE_H
#define PARLEY_BOT_TURN_TURN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/api_error.h"
#include "prompts/prompt.h"

struct sess_store;
struct policy_source;
struct llm_provider;
struct llm_price_table;
struct prompt_builder;
struct turn_engine;
struct kb_index;
struct kb_vectors;

/* Dense retrieval (docs/knowledge.md "Dense retrieval"), as the engine sees it: the caller's
 * question embedded before the passages are searched, then BM25 and the vectors fused. */
struct turn_kb_dense {
    void *self;
    /** Start embedding `len` bytes of `text`: `done` runs once, later, with the vector
     *  (NULL: failed or too slow, BM25 alone); returns a handle for cancel, or NULL (no
     *  callback) when there is nothing to embed for. */
    void *(*embed)(void *self, const char *text, size_t len,
                   void (*done)(void *ud, const float *vec), void *ud);
    void (*cancel)(void *handle);
    /** The vectors to search (NULL: none yet). */
    const struct kb_vectors *(*vectors)(void *self);
};

struct turn_finished;

struct turn_engine_opts {
    uv_loop_t *loop;
    struct sess_store *store;
    struct policy_source *policy; /* where the bound policy's record is read (borrowed) */
    struct llm_provider *llm;
    const struct prompt_builder *prompts;
    const char *instance_id;  /* owner of this instance's turn locks (copied) */
    uint32_t turn_lock_ms;    /* lease of a session's turn lock, renewed while a turn runs */
    uint32_t turn_timeout_ms; /* deadline of one turn, from the moment it is taken up */
    uint32_t history_entries; /* transcript entries read for a prompt */
    uint32_t max_queued;      /* caller messages waiting for an answer per session */
    /* Knowledge passages placed in each prompt (docs/knowledge.md "In the prompt"); kb NULL or
     * kb_passages 0: none. The index is borrowed and searched on the loop thread. */
    struct kb_index *kb;
    uint32_t kb_passages;
    const struct turn_kb_dense *kb_dense; /* NULL: BM25 alone */
    /* Cost (docs/cost.md). Each answer is priced by the model that gave it; a reservation by
     * `reserve_model` (the primary provider's). Budgets per tenant per UTC day, 0: off. */
    const struct llm_price_table *prices; /* NULL: every cost 0 */
    const char *reserve_model;            /* copied */
    uint64_t budget_tokens;
    uint64_t budget_micros;
    uint32_t budget_warn_percent;
    /* Told once a turn's answer is stored when its prompt left out turns that the session's
     * summary does not cover (struct prompt.summary_due_through: the newest turn a new summary
     * should cover). NULL: nobody (no summaries). */
    void (*summary_due)(void *ud, const char *sid, long through);
    void *summary_ud;
    /* Told when a caller message is submitted here (turn 0: before it is stored, so its message
     * event follows) and just before an answer begins streaming here (turn: the turn, whose
     * turn_start follows at once): the agent desk follows the session from there
     * (bot/desk_fanout.h). NULL: nobody. */
    void (*turn_starting)(void *ud, const char *sid, long turn);
    void *turn_starting_ud;
    /* Told on this instance once a turn it took up has its answer (or its failure) stored: the
     * escalation signals watch the conversation from here (bot/escalation_signals.h). Not told
     * for a turn another answer covered, one that went to an agent, or one that never reached
     * the store. NULL: nobody. */
    void (*turn_finished)(void *ud, const char *sid, const struct turn_finished *f);
    void *turn_finished_ud;
};

/** A new engine (it starts its lease timer at once). */
struct turn_engine *turn_engine_create(const struct turn_engine_opts *opts);

/* ---- listeners ---- */

/* How a turn ended, as every listener sees it. Borrowed for the call. */
struct turn_end {
    long turn;               /* the caller turn that ended */
    long answered_in;        /* the turn whose answer covers it: `turn` itself unless another
                                answer covered it (see above) */
    const char *stop_reason; /* docs/protocol.md "Stop reasons" */
    long input_tokens;
    long output_tokens;
    long cache_read_input_tokens;
    long cache_creation_input_tokens;
    long long cost_micros; /* USD micro-dollars, from the price table */
    const char *text; /* the whole answer, NUL-terminated ("" when it failed before any text) */
    size_t text_len;
    bool streamed; /* the text was told as deltas on this instance (false: answered elsewhere) */
    const struct prompt_citation *citations; /* NULL when n_citations is 0 */
    size_t n_citations;
    enum api_error error;      /* API_ERR_NONE, or why the turn failed before any text */
    uint32_t retry_after_ms;   /* with `error`: when asking again may succeed (0: no hint) */
    const char *error_message; /* what the error event said, when known here; NULL: the
                                  table's message (a turn read back from the transcript) */
};

/* What a stored turn came to, for whoever watches the conversation (turn_finished). Borrowed
 * for the call. */
struct turn_finished {
    const struct turn_end *end;
    const char *question; /* the caller's latest message up to the turn, as the knowledge base
                             was searched with ("" when no prompt was built) */
    size_t question_len;
    int passages; /* knowledge passages placed in the prompt; -1: none were searched for (no
                     knowledge base, an empty one, kb_passages 0, or no prompt built) */
};

/* Why a turn failed before any text, as the error event says it. Borrowed for the call. */
struct turn_error {
    enum api_error code;
    const char *message;     /* for the caller; never NULL */
    uint32_t retry_after_ms; /* when asking again may succeed: the end of a provider's
                                cool-down or rate limit, or of a daily budget (0: no hint) */
};

/* A human agent's action on the session (bot/agent.c), told to its listeners here. */
enum turn_agent_kind {
    TURN_AGENT_WATCH,    /* began watching */
    TURN_AGENT_TAKEOVER, /* holds the session: the bot answers no more */
    TURN_AGENT_SAY,      /* `text` was said to the caller */
    TURN_AGENT_RELEASE,  /* handed it back to the bot */
};

/* Borrowed for the call. */
struct turn_agent_event {
    enum turn_agent_kind kind;
    const char *agent; /* who: a token's sub */
    long turn;         /* the session's turn then, as the transcript entry carries it */
    long long ts_ms;
    const char *text; /* SAY; NULL otherwise */
    size_t len;
};

struct turn_listener;

/* What a listener is told. Every callback is optional (NULL: not interested). A listener may
 * detach itself (turn_unlisten) from inside its own callbacks; it must not detach others. */
struct turn_listener_ops {
    /** A caller message was stored here (or elsewhere: turn_tell_remote) as turn `turn` (not a
     * resent duplicate), after its acknowledgement and before its answer's events. `text` borrowed
     * for the call. */
    void (*message)(struct turn_listener *l, long turn, const char *text, size_t len);
    /** Turn `turn`'s answer begins. */
    void (*turn_start)(struct turn_listener *l, long turn);
    /** One piece of the answer; seq runs 0, 1, 2, ... without gaps within a turn. `text`
     *  borrowed for the call. */
    void (*delta)(struct turn_listener *l, long turn, long seq, const char *text, size_t len);
    /** The turn failed before any text; its turn_end follows at once or once stored. */
    void (*error)(struct turn_listener *l, long turn, const struct turn_error *err);
    /** The turn ended: exactly once per acknowledged turn on this instance, and once per turn
     *  told from another instance (turn_tell_remote). */
    void (*turn_end)(struct turn_listener *l, const struct turn_end *end);
    /** Caller turn `turn` went to the human agent who holds the session: no turn_start or
     *  turn_end follows for it (its message event went before). */
    void (*held)(struct turn_listener *l, long turn);
    /** A human agent acted on the session (turn_tell_agent). */
    void (*agent)(struct turn_listener *l, const struct turn_agent_event *ev);
    /** Told only of the turns answered and messages stored here, never of those told from
     *  another instance (turn_tell_remote), and every turn_end of this instance's own turns:
     *  the agent desk's publisher, which must not publish again what it received. */
    bool only_here;
};

/* Embed this in your own struct (PL_CONTAINER_OF gets back to it); set `ops` before
 * turn_listen. The fields after `ops` belong to the engine. */
struct turn_listener {
    const struct turn_listener_ops *ops;
    struct turn_session *_session;
    struct turn_listener *_prev, *_next;
    long _resume_turn, _resume_seq; /* `from` of a turn answered elsewhere, not known here yet */
};

/* Where a reconnecting listener left off: turn `turn`, deltas up to `after_seq` seen (-1: none). */
struct turn_replay {
    long turn;
    long after_seq;
};

/**
 * Attach `l` to the events of session `sid` (a valid session id). Before this returns, `l` gets
 * what it missed of the current turn, then live events follow with no gap and no duplicate:
 *  - `from` NULL: the turn being answered, from its turn_start, if one is;
 *  - `from` set: that turn's deltas after from->after_seq (and its turn_end if it has ended),
 *    when it is the turn being answered or the last one answered here, or the turn another
 *    instance answers (turn_tell_remote); otherwise as for NULL, and when that turn's events
 *    come from another instance later (told again from its start), those up to after_seq are
 *    left out.
 * A listener keeps the session live on this instance until turn_unlisten.
 */
void turn_listen(struct turn_engine *e, const char *sid, struct turn_listener *l,
                 const struct turn_replay *from);
/** Detach `l`; no callback of it runs afterwards. Idempotent. */
void turn_unlisten(struct turn_listener *l);

/* ---- starting, stopping and reading turns ---- */

/* How a submitted caller message came out. */
struct turn_ack {
    enum api_error err; /* API_ERR_NONE: the message is durably stored as caller turn `turn`;
                           send the acknowledgement now: the turn's events follow after the
                           callback returns. Otherwise nothing was stored: TOO_MANY_MESSAGES
                           (a rate limit), SESSION_FULL (the session holds as many messages as
                           it may), STORAGE_UNAVAILABLE, SESSION_GONE, SHUTTING_DOWN; or it was
                           stored but fewer Redis replicas than --ack-replicas confirmed it
                           (NOT_REPLICATED: not acknowledged; sending it again with the same
                           client id is acknowledged once they do) */
    long turn;
    bool duplicate;          /* a message with this client id was stored before, as `turn` */
    uint32_t retry_after_ms; /* TOO_MANY_MESSAGES: when the message may be sent again */
};
/** `ack` borrowed for the call. */
typedef void (*turn_ack_cb)(void *ud, const struct turn_ack *ack);

/**
 * Store caller message `text` (`len` bytes, validated UTF-8) in session `sid` and answer it:
 * the one way a turn starts. `address` (nullable: none) is the sender's address as
 * bot/conn_limits.h keys it (conn_peer_key), for the per-address rate limit; the session's own
 * limit applies to every message. `client_id` (nullable) makes resending safe: a repeated id is
 * acknowledged again with its first turn, stored once, and its turn ends again here (from the
 * stored answer when it has one). Returns API_ERR_NONE when `cb` will run exactly once, or an
 * error when it never runs: BUSY (max_queued messages of the session wait for an answer),
 * STORAGE_UNAVAILABLE, SHUTTING_DOWN.
 */
enum api_error turn_submit(struct turn_engine *e, const char *sid, const char *address,
                           const char *client_id, const char *text, size_t len, turn_ack_cb cb,
                           void *ud);

/** Queue the session's acknowledged caller turns answered+1 .. turns that are not queued here
 *  already: messages whose instance stopped before answering them. */
void turn_recover(struct turn_engine *e, const char *sid, long answered, long turns);

/* Who stops an answer, which names its stop reason (docs/protocol.md "Stop reasons"). */
enum turn_cancel_reason {
    TURN_CANCEL_BY_CALLER,   /* `cancelled` */
    TURN_CANCEL_BY_TAKEOVER, /* `takeover`: a human agent took the session over */
};

/** Stop the answer being given in `sid`, with the stop reason `why` names (what was said is
 *  stored). A turn still waiting for its lock ends so as soon as it has it. Queued turns go on.
 *  A caller's cancel that stops an answer counts as a message in the rate limits: it is charged
 *  with the session's next turn_submit here (a takeover is not the caller's doing: never
 *  charged). False when this instance is answering nothing in `sid`. */
bool turn_cancel(struct turn_engine *e, const char *sid, enum turn_cancel_reason why);

/** Tell the listeners of `sid` on this instance of an agent's action (none: nothing). */
void turn_tell_agent(struct turn_engine *e, const char *sid, const struct turn_agent_event *ev);

/* ---- turns answered on other instances ---- */

/* The events of a turn another instance answers (published there, received here by
 * bot/desk_fanout.h), told to this instance's listeners of the session as its own turns are:
 * turn_start, each delta once and in order, error, then one turn_end. The engine keeps such a
 * turn (as it keeps its own last one) for listeners that join or resume mid-turn. A turn this
 * instance acknowledged too ends once: by the answering instance's turn_end, or, when that was
 * missed, by this instance's own read of the stored answer (streamed false: turn_end carries
 * the whole text). Events of a turn this instance answers or has ended, or of one older than
 * the newest told here, are dropped. */
enum turn_remote_kind {
    TURN_REMOTE_MESSAGE, /* a caller message stored elsewhere: `text` */
    TURN_REMOTE_START,
    TURN_REMOTE_DELTA, /* `seq`, `text` */
    TURN_REMOTE_ERROR, /* `error` */
    TURN_REMOTE_END,   /* `end`: its text is the whole answer when end->streamed is false (else
                          the deltas are); `seq`: how many deltas it had (-1: not known) */
};

/* Borrowed for the call. */
struct turn_remote_event {
    enum turn_remote_kind kind;
    long turn;
    long seq;
    const char *text;
    size_t len;
    const struct turn_error *error;
    const struct turn_end *end;
};

/** Tell `ev` of `sid` (nothing when the session has no listener or turn here). True when a
 *  delta came after a gap (a publish was missed): the answering instance should tell the turn
 *  again from its start. */
bool turn_tell_remote(struct turn_engine *e, const char *sid, const struct turn_remote_event *ev);
/** Called every few seconds while the session's events are followed: a turn answered elsewhere
 *  that was told nothing since the previous call (its turn_end missed, or its instance gone) is
 *  queued here as turn_recover would: its stored answer ends it (once the lock is free), or,
 *  when its instance stopped without answering, this one answers it. */
void turn_remote_check(struct turn_engine *e, const char *sid);

enum turn_status {
    TURN_STATUS_UNKNOWN, /* no such turn in this session */
    TURN_STATUS_PENDING, /* acknowledged, not ended: queued, or streaming (text so far) */
    TURN_STATUS_ENDED,   /* `end` says how */
};

struct turn_snapshot {
    enum turn_status status;
    long turn;
    const char *text; /* PENDING: the text so far ("" when this instance is not streaming it) */
    size_t text_len;
    const struct turn_end *end; /* ENDED */
};

/** `err` API_ERR_NONE with `snap`; or SESSION_GONE / STORAGE_UNAVAILABLE with `snap` NULL; or
 *  TOO_MANY_POLLS (the session's polls that reach Redis are over its rate limit) with `snap`
 *  NULL and `retry_after_ms` saying when to ask again. Borrowed for the call. */
typedef void (*turn_poll_cb)(void *ud, enum api_error err, const struct turn_snapshot *snap,
                             uint32_t retry_after_ms);

/** What is known of turn `turn` of `sid`: from memory when this instance is answering it or
 *  answered it last, else from the transcript in Redis. `cb` runs exactly once, possibly before
 *  this returns, when API_ERR_NONE is returned; STORAGE_UNAVAILABLE is returned (cb never runs)
 *  when Redis cannot be asked. */
enum api_error turn_poll(struct turn_engine *e, const char *sid, long turn, turn_poll_cb cb,
                         void *ud);

/* ---- shutting down ---- */

/** Start no more turns: turns queued here end now (error SHUTTING_DOWN, then turn_end; they are
 *  answered when their caller comes back) and turn_submit refuses; turns being answered go on. */
void turn_engine_drain(struct turn_engine *e);
/** Turns taken up on this instance and not yet ended (waiting for a lock, streaming, storing). */
size_t turn_engine_busy(const struct turn_engine *e);
/** End every turn now: answers being streamed are cancelled (and stored as such), turns still
 *  waiting for their lock end with SHUTTING_DOWN. */
void turn_engine_cancel_all(struct turn_engine *e);
/** Close the engine's handles and stop using the store and the provider (calls in flight still
 *  complete). Idempotent. */
void turn_engine_stop(struct turn_engine *e);
/** Free the engine once the loop has closed every handle (no session may be live). Accepts NULL. */
void turn_engine_free(struct turn_engine *e);

struct turn_engine_stats {
    uint64_t turns_started;   /* turns that reached the model */
    uint64_t turns_completed; /* turn_end told */
    uint64_t turns_failed;    /* turns that ended with an error */
    uint64_t deltas;          /* text deltas told to listeners */
    uint64_t stores_retried;  /* answer writes retried after a storage error */
    /* Usage counted on this instance (docs/cost.md): tokens of each kind, their cost. */
    uint64_t input_tokens;
    uint64_t output_tokens;
    uint64_t cache_read_input_tokens;
    uint64_t cache_creation_input_tokens;
    uint64_t cost_micros;
    uint64_t budget_refused;  /* turns refused by a tenant's daily budget */
    uint64_t budget_warnings; /* tenants' days that reached the warning threshold here */
    size_t sessions_live;     /* sessions with a listener or a turn on this instance */
};

void turn_engine_stats(const struct turn_engine *e, struct turn_engine_stats *out);

struct sess_turn_context;
/** The transcript entries of `ctx` as the prompt builder reads them (turn_history.c): in
 *  conversation order, callers', answers' and agents' lines only, an answer that failed before
 *  any text marked failed. `items` has room for ctx->n; texts are borrowed from `ctx`. Returns
 *  how many. Used by turns and by the summaries of older turns (bot/summary.h). */
size_t turn_history_items(const struct sess_turn_context *ctx, struct prompt_history_item *items);

#endif
