/* Sessions in Redis: the session record (hash), the transcript (stream), caller message
 * de-duplication, and the per-session turn lock that serialises turns across instances.
 * Every key carries the session id as a hash tag, so the layout works on Redis Cluster;
 * docs/redis-keys.md documents it. All calls are asynchronous and loop-thread only; a call
 * that returns an error never runs its callback, one that returns PL_OK runs it exactly once. */
#ifndef PARLEY_SESSIONS_SESSION_STORE_H
#define PARLEY_SESSIONS_SESSION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define SESS_ID_LEN 32 /* lower-case hex, 128 random bits */
/* The preview of a session's newest line (last_text, the agent desk's list): bytes, cut on a UTF-8
 * boundary. */
#define SESS_PREVIEW_BYTES 160

struct sess_store;

/* Parley's own limits (docs/configuration.md "Rate limits"). They are enforced by the scripts
 * that store caller messages, so they hold across instances and add no round trip. A
 * *_per_minute of 0 turns that limit off. */
struct sess_limits {
    uint32_t messages_per_minute;             /* per session */
    uint32_t messages_burst;                  /* per session: how many may come at once */
    uint32_t messages_per_minute_per_address; /* per sender address (burst: a minute's worth) */
    uint32_t anon_sessions_per_minute; /* anonymous sessions per address (burst: a minute's) */
    uint32_t anon_session_ttl_s;       /* an anonymous session's keys, until its first caller
                                          message (then ttl_s); 0: ttl_s from the start */
    uint32_t max_session_messages;     /* caller messages one session holds (0: 1000) */
    uint32_t polls_per_minute;         /* sess_turn_answer calls per session (0: no limit) */
    uint32_t polls_burst;              /* how many may come at once */
};

struct sess_store_opts {
    const char *redis_url;
    uint32_t ttl_s; /* sliding retention of a session's keys */
    struct sess_limits limits;
    uint32_t connect_timeout_ms;     /* 0: default */
    uint32_t command_timeout_ms;     /* 0: default */
    uint32_t live_max_subscriptions; /* sess_live (session_live.h): subscriptions held at once
                                        (0: 100000); past it PL_EBUSY */
    uint32_t ack_replicas;   /* --ack-replicas: a caller message is reported stored only once
                                this many replicas confirmed it (WAIT); 0: no WAIT */
    uint32_t ack_timeout_ms; /* how long WAIT waits (0: command_timeout_ms, or 3000) */
};

/** Called whenever Redis becomes reachable (up) or unreachable. */
typedef void (*sess_state_cb)(void *ud, bool up);

/** Start the store (connects in the background). PL_EINVAL with `err` for a bad URL. Each time
 *  the connection comes up, Redis's persistence settings are read (CONFIG GET appendonly,
 *  appendfsync, save) and what an ack then promises is logged (sessions/ack_promise.h). */
int sess_store_create(uv_loop_t *loop, const struct sess_store_opts *opts, sess_state_cb on_state,
                      void *state_ud, struct sess_store **out, char *err, size_t errlen);
/** Pending calls complete with PL_ECANCELED. Accepts NULL. */
void sess_store_destroy(struct sess_store *s);
/** True while Redis is reachable. */
bool sess_store_ready(const struct sess_store *s);
/** True if `sid` has the form of a session id (cheap check before touching Redis). */
bool sess_id_valid(const char *sid);

struct sess_caller {
    const char *id; /* each nullable */
    const char *name;
    const char *policy_number;
    const char *tenant; /* whose usage the session counts to (docs/cost.md); NULL: "anonymous" */
};

/* A session's usage so far: its answers' tokens of each kind and their cost. */
struct sess_usage_totals {
    long long input_tokens;
    long long output_tokens;
    long long cache_read_input_tokens;
    long long cache_creation_input_tokens;
    long long cost_micros; /* USD micro-dollars */
};

struct sess_record {
    char id[SESS_ID_LEN + 1];
    char channel[16]; /* web, voice, chat, ... */
    char state[16];   /* bot, agent, waiting_agent, closed */
    char agent[129];  /* while state is agent: who holds it (a token's sub); "" otherwise */
    char caller_id[129];
    char caller_name[129];
    char policy_number[65];
    long long created_ms;
    long long updated_ms;
    long turns;       /* last turn number given to a caller message */
    long answered;    /* last turn whose answer is stored */
    char tenant[129]; /* "anonymous" for a session stored without one */
    struct sess_usage_totals usage;
    long summary_through; /* the last turn the stored summary covers (0: no summary) */
};

/* One transcript entry. Strings are borrowed for the duration of the callback. */
struct sess_entry {
    const char *role; /* caller, assistant, agent, audit (sessions/session_agent.h) */
    long turn;
    const char *text;
    size_t text_len;
    long long ts_ms;
    const char *client_id;   /* caller entries; "" if none */
    const char *stop_reason; /* assistant entries; "" otherwise */
    const char *error;       /* assistant entries that failed: the error code; "" otherwise */
    long input_tokens;
    long output_tokens;
    long cache_read_input_tokens;
    long cache_creation_input_tokens;
    long long cost_micros; /* USD micro-dollars of the answer */
    const char *model;
    const char *citations; /* assistant entries: a JSON array of {"source","title"}, "" when none */
    const char *agent;     /* agent and audit entries: who (a token's sub); "" otherwise */
};

/* How beginning a turn came out (status PL_OK). */
enum sess_begin_result {
    SESS_BEGIN_LOCKED,         /* the turn lock is ours: rec, entries and n are filled */
    SESS_BEGIN_HELD_ELSEWHERE, /* another owner holds the session's turn lock: try again later */
    SESS_BEGIN_ANSWERED,       /* the session's `answered` already covers the turn: no lock was
                                  taken; rec and answer are filled */
    SESS_BEGIN_WITH_AGENT,     /* a human agent holds the session (state agent): the message is
                                  theirs, no lock was taken and no model turn runs */
};

/* What a turn needs to start. Allocated by the store and owned by the callback that receives
 * it, which frees it (and everything it points to) with sess_turn_context_free, at once or
 * later: the turn engine keeps it until the loop pass's acks are out. */
struct sess_turn_context {
    int status;                       /* PL_OK; PL_ENOTFOUND (no such session) or a storage error
                                         (then nothing else is set) */
    enum sess_begin_result result;    /* when status is PL_OK */
    struct sess_record rec;           /* LOCKED and ANSWERED */
    const struct sess_entry *entries; /* LOCKED: the newest max_entries entries, oldest first */
    size_t n;
    const struct sess_entry *answer; /* ANSWERED: the answer that covers the turn, or NULL when
                                        the transcript no longer holds it */
    char *summary; /* LOCKED (and sess_summary_read): the stored summary of the turns up to
                      rec.summary_through, NULL when none; freed with the context */
};
/** Accepts NULL. */
void sess_turn_context_free(struct sess_turn_context *ctx);

struct sess_begin_opts {
    const char *owner;
    uint32_t lock_ttl_ms;
    size_t max_entries;
    long turn; /* sess_turn_begin: the caller turn to begin (sess_append_caller ignores it and
                  begins the new message's turn) */
};

typedef void (*sess_record_cb)(void *ud, int status, const struct sess_record *rec);
/** `rec`/`entries` borrowed; entries oldest first; status PL_ENOTFOUND for no such session. */
typedef void (*sess_open_cb)(void *ud, int status, const struct sess_record *rec,
                             const struct sess_entry *entries, size_t n);
/* How appending a caller message came out. */
struct sess_append_result {
    int status;              /* PL_OK (stored, or a duplicate); PL_ENOTFOUND (no such session);
                                PL_ELIMITED (refused by a rate limit: nothing stored); PL_ETOOBIG (the
                      session holds max_session_messages: nothing stored); PL_EREPLICAS (stored,
                      but fewer replicas than --ack-replicas confirmed it); a storage error */
    long turn;               /* PL_OK: the message's turn */
    bool duplicate;          /* PL_OK: its client_id was stored before, as `turn` */
    uint32_t retry_after_ms; /* PL_ELIMITED: when the same message may be sent again */
    struct sess_turn_context *begun; /* owned by the callback (free with sess_turn_context_free);
                                        NULL unless `begin` was given and the message was stored
                                        as new */
};
typedef void (*sess_append_cb)(void *ud, struct sess_append_result *r);
/* `ctx` is never NULL and is owned by the callback. */
typedef void (*sess_begin_cb)(void *ud, struct sess_turn_context *ctx);
typedef void (*sess_done_cb)(void *ud, int status);

/** Create a session with a new random id. */
int sess_create(struct sess_store *s, const char *channel, const struct sess_caller *caller,
                sess_record_cb cb, void *ud);

/* An anonymous session created (status PL_OK, `rec`), or PL_ELIMITED (too many from this
 * address: nothing created; retry after `retry_after_ms`), or a storage error. */
typedef void (*sess_anon_cb)(void *ud, int status, const struct sess_record *rec,
                             uint32_t retry_after_ms);
/** Create a session (channel "web") for a caller without a token, from `address` (as
 *  bot/client_address.h names it; NULL or "": not limited), unless the anonymous sessions
 *  limit refuses it. It is kept anon_session_ttl_s until its first caller message. */
int sess_create_anonymous(struct sess_store *s, const char *address, sess_anon_cb cb, void *ud);

/** Load a session record and its last `max_entries` transcript entries; refreshes the TTL. */
int sess_open(struct sess_store *s, const char *sid, size_t max_entries, sess_open_cb cb, void *ud);

/* Who sent a caller message, for the rate limits. */
struct sess_sender {
    const char *address; /* the sender's address as bot/conn_limits.h keys it; NULL or "":
                            no per-address limit (a unix socket, an admin) */
    unsigned cost;       /* what the message is charged (0 counts as 1): 1, plus the cancels
                            charged with it */
};

/** Durably append a caller message and give it the next turn number, unless the rate limits
 *  refuse it (PL_ELIMITED; `sender` NULL: cost 1, no address). A `client_id` already seen in
 *  this session returns its earlier turn with `duplicate` true and stores nothing (it is
 *  charged all the same). With `begin` (nullable), a new message's turn is also begun as by
 *  sess_turn_begin, in the same script: one round trip instead of two when the session has
 *  nothing else to answer. With `ack_replicas` set, the callback waits for that many replicas
 *  to confirm the write (WAIT, duplicates too); when fewer do in time, status is PL_EREPLICAS
 *  with `turn` and `duplicate` filled: the message is stored (a resend with the same client id
 *  is a duplicate) but must not be acknowledged; no turn was begun (a lock taken for it is
 *  released). */
int sess_append_caller(struct sess_store *s, const char *sid, const struct sess_sender *sender,
                       const char *client_id, const char *text, size_t len,
                       const struct sess_begin_opts *begin, sess_append_cb cb, void *ud);

/** Append a human agent's message (not a turn of its own: it carries the current turn). */
int sess_append_agent(struct sess_store *s, const char *sid, const char *agent, const char *text,
                      size_t len, sess_done_cb cb, void *ud);

/** Begin caller turn `begin->turn`: when the session's `answered` already covers it, ANSWERED
 *  with the record and the covering answer, taking no lock; otherwise take the session's turn
 *  lock for `begin->owner` (re-entrant for the same owner) and load the record with the last
 *  `max_entries` transcript entries for the prompt (LOCKED), or HELD_ELSEWHERE. */
int sess_turn_begin(struct sess_store *s, const char *sid, const struct sess_begin_opts *begin,
                    sess_begin_cb cb, void *ud);

struct sess_answer {
    long turn;
    const char *text;
    size_t text_len;
    const char *stop_reason;
    const char *error; /* nullable: error code when the turn failed */
    long input_tokens;
    long output_tokens;
    long cache_read_input_tokens;
    long cache_creation_input_tokens;
    long long cost_micros;
    const char *model;     /* nullable */
    const char *provider;  /* nullable */
    const char *citations; /* nullable: JSON array text; NULL or "" stores nothing */
    /* Usage per tenant and day (docs/cost.md): with `tenant` and `day` set, a newly stored
     * answer's usage is added to that day's totals, and `reservation` (nullable: none) is
     * settled, in the same script (sessions/tenant_usage.h names the keys). */
    const char *tenant;
    const char *day; /* YYYY-MM-DD, UTC: the day the turn started */
    const char *reservation;
};

/* The answer that covers caller turn `turn` (read only; refreshes no expiry). status PL_OK
 * with `rec`; `answer` is the covering answer when rec->answered >= turn (NULL when the turn
 * has no answer yet, or the transcript no longer holds it); PL_ENOTFOUND for no such session.
 * Everything borrowed for the call. */
/* Status PL_OK with `rec`; PL_ENOTFOUND (no session); PL_ELIMITED (the session's polls are over
 * sess_limits.polls_per_minute: ask again after `retry_after_ms`); a storage error. */
typedef void (*sess_answer_cb)(void *ud, int status, const struct sess_record *rec,
                               const struct sess_entry *answer, uint32_t retry_after_ms);
int sess_turn_answer(struct sess_store *s, const char *sid, long turn, sess_answer_cb cb, void *ud);

/** Store a turn's answer (once: a turn already answered is not stored again), add its usage to
 *  the session's totals and its tenant's day (when stored), settle its budget reservation (in
 *  any case), and release the lock if `owner` still holds it. */
int sess_turn_end(struct sess_store *s, const char *sid, const char *owner,
                  const struct sess_answer *a, sess_done_cb cb, void *ud);

/** Extend the owner's turn lock to `lock_ttl_ms` from now (the lock is a lease, renewed while
 *  the turn runs, so a crashed instance blocks a session for one lease at most). Status PL_OK,
 *  or PL_EBUSY if the owner no longer holds the lock. `cb` may be NULL. */
int sess_turn_renew(struct sess_store *s, const char *sid, const char *owner, uint32_t lock_ttl_ms,
                    sess_done_cb cb, void *ud);
/** Release the lock if `owner` holds it, storing nothing. */
int sess_turn_release(struct sess_store *s, const char *sid, const char *owner, sess_done_cb cb,
                      void *ud);

/* ---- conversation summaries (docs/prompts.md "Conversation summaries") ---- */

/** Read what a summary is written from: the record (with summary_through), the stored summary
 *  and the last `max_entries` transcript entries, as a context (status, rec, entries, n,
 *  summary; `result` unused) owned by `cb`. Refreshes the keys' expiry, as sess_open does. */
int sess_summary_read(struct sess_store *s, const char *sid, size_t max_entries, sess_begin_cb cb,
                      void *ud);

/* A summary to store, with the usage of the call that wrote it. */
struct sess_summary {
    long through; /* the last turn it covers */
    const char *text;
    size_t text_len;
    const char *model; /* nullable */
    long input_tokens;
    long output_tokens;
    long cache_read_input_tokens;
    long cache_creation_input_tokens;
    long long cost_micros;
    /* With both set, the usage is added to that day of the tenant (docs/cost.md). */
    const char *tenant;
    const char *day;
};

/* How storing a summary came out. */
enum sess_summary_result {
    SESS_SUMMARY_STORED,
    SESS_SUMMARY_STALE, /* the session's summary already covers `through` or more: kept */
};
typedef void (*sess_summary_cb)(void *ud, int status, enum sess_summary_result result);

/** Store `sum` as the session's summary (fields summary, summary_through, summary_model,
 *  summary_updated) only if `through` is past the stored summary_through, in one script, so two
 *  instances never step it back; in any case add the call's usage to the session's usage_*
 *  totals and (tenant and day set) to the tenant's day (the four counts, cost_micros and
 *  `summaries`; not `turns`). status PL_OK with `result`, PL_ENOTFOUND (no such session:
 *  nothing counted) or a storage error. `cb` may be NULL. */
int sess_summary_store(struct sess_store *s, const char *sid, const struct sess_summary *sum,
                       sess_summary_cb cb, void *ud);

/* ---- usage per tenant and day (docs/cost.md) ---- */

/* How long a tenant's day of usage is kept after its last change. */
#define SESS_TENANT_USAGE_TTL_S (40 * 24 * 3600)
/* A tenant name as keys and logs hold it: 1..128 bytes of [A-Za-z0-9._@:+-]. */
#define SESS_TENANT_MAX 128

/** `out` (SESS_TENANT_MAX + 1 bytes) is `claim` as a tenant name: each byte outside the set
 *  above becomes '_' (so a claim cannot break a key's hash tag or a log line), cut to
 *  SESS_TENANT_MAX; NULL or "" gives "anonymous". */
void sess_tenant_name(char *out, const char *claim);

/* A turn's reservation against its tenant's daily budgets. */
struct sess_reservation {
    const char *tenant;
    const char *day;                   /* YYYY-MM-DD, UTC */
    const char *member;                /* "SID:TURN:TOKENS:MICROS": the turn, and what it holds */
    long long expires_ms;              /* Unix ms after which any reservation may reclaim it */
    unsigned long long tokens, micros; /* what it holds */
    unsigned long long budget_tokens, budget_micros; /* 0: that budget is off */
    unsigned warn_percent;
};

enum sess_reserve_result {
    SESS_RESERVED,
    SESS_REFUSED_TOKENS, /* the day's token budget has no room for it */
    SESS_REFUSED_USD,    /* the day's cost budget has no room for it */
};
/** status PL_OK with `result`, and `warn` true when this call was the first of the tenant's
 *  day to find its use at or past warn_percent of a budget; or a storage error. */
typedef void (*sess_reserve_cb)(void *ud, int status, enum sess_reserve_result result, bool warn);

/** Reserve `r`'s amounts atomically (exact across instances; docs/cost.md, "Budgets"), first
 *  reclaiming the day's expired reservations. Settled by sess_turn_end (sess_answer.reservation)
 *  or sess_unreserve. */
int sess_reserve(struct sess_store *s, const struct sess_reservation *r, sess_reserve_cb cb,
                 void *ud);
/** Settle a reservation that no stored answer settles. `cb` may be NULL. */
int sess_unreserve(struct sess_store *s, const char *tenant, const char *day, const char *member,
                   sess_done_cb cb, void *ud);

/* A tenant's day. */
struct sess_tenant_day {
    struct sess_usage_totals used;
    long long turns;
    long long reserved_tokens; /* held by turns under way */
    long long reserved_micros;
    bool warned; /* the warning threshold was reached */
};
/** `day` borrowed for the call; all zero for a day without usage. */
typedef void (*sess_tenant_day_cb)(void *ud, int status, const struct sess_tenant_day *day);
int sess_tenant_usage(struct sess_store *s, const char *tenant, const char *day,
                      sess_tenant_day_cb cb, void *ud);

#endif
