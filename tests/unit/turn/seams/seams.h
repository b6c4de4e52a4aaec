/* Link seams for the turn engine's unit suite (in the style of mosquitto's *_stubs.c): the
 * engine's sources are compiled into the test with these in place of libuv's timers and clock,
 * the session store, the provider interface and the prompt builder. Each records what the
 * engine asked and lets the test answer when and how it chooses: no I/O, no real time. */
#ifndef PARLEY_TESTS_UNIT_TURN_SEAMS_H
#define PARLEY_TESTS_UNIT_TURN_SEAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"
#include "connectors/llm.h"
#include "prompts/prompt.h"
#include "sessions/session_store.h"

/* ---- the clock and timers (fake_uv.c) ---- */

/** Forget every handle and set the clock to 1000 ms. */
void fake_uv_reset(void);
/** One loop pass: run the check handles, then the close callbacks. */
void fake_uv_pass(void);
/** Move the clock forward by `ms`, firing due timers in order (each followed by a loop pass). */
void fake_uv_advance(uint64_t ms);
/** Handles initialised and not closed (timers and checks): 0 after everything shut down. */
size_t fake_uv_open_handles(void);
extern uv_loop_t fake_loop;

/* ---- the session store (fake_store.c) ---- */

enum fake_call_kind {
    CALL_APPEND,
    CALL_BEGIN,
    CALL_END,
    CALL_RENEW,
    CALL_RELEASE,
    CALL_ANSWER,
    CALL_POLICY /* sess_policy_get (sessions/policy_store.h): the number is `text` */
};

struct fake_call {
    enum fake_call_kind kind;
    char sid[SESS_ID_LEN + 1];
    long turn;            /* BEGIN, END, ANSWER */
    bool with_begin;      /* APPEND */
    char *text;           /* APPEND: the message; END: the answer */
    char *client_id;      /* APPEND */
    char address[64];     /* APPEND: the sender's address ("" when none) */
    unsigned cost;        /* APPEND: what the message is charged */
    char stop_reason[32]; /* END */
    char error[32];       /* END */
    char *citations;      /* END */
    long input_tokens, output_tokens;
    char reservation[96]; /* END */
    void *cb;
    void *ud;
    struct fake_call *next;
};

/* Budget reservations: answered at once with `result` and `warn`; what was asked is kept. */
struct fake_budget {
    int status; /* of the reservation: PL_OK, or a storage failure */
    enum sess_reserve_result result;
    bool warn;
    size_t reserves, unreserves;
    char member[96];
    unsigned long long tokens;
};
extern struct fake_budget fake_budget;

void fake_store_reset(void);
/** The oldest call of `kind` not answered yet, or NULL. */
struct fake_call *fake_store_pending(enum fake_call_kind kind);
/** Calls of `kind` made so far (answered or not). */
size_t fake_store_count(enum fake_call_kind kind);
/** Make the next call of `kind` fail at once with `status`. */
void fake_store_fail_next(enum fake_call_kind kind, int status);

void fake_store_answer_append(struct fake_call *c, int status, long turn, bool duplicate,
                              struct sess_turn_context *begun);
/** Answer an append as refused by a rate limit. */
void fake_store_refuse_append(struct fake_call *c, uint32_t retry_after_ms);
/** Refuse a sess_turn_answer call as the poll rate limit does. */
void fake_store_refuse_answer(struct fake_call *c, uint32_t retry_after_ms);
void fake_store_answer_begin(struct fake_call *c, struct sess_turn_context *ctx);
/** Answer a policy read with `status` and `record` (NULL unless PL_OK). */
void fake_store_answer_policy(struct fake_call *c, int status, const char *record);
void fake_store_answer_done(struct fake_call *c, int status);
void fake_store_answer_answer(struct fake_call *c, int status, const struct sess_record *rec,
                              const struct sess_entry *answer);

/** A context: LOCKED with the caller messages "q1".."qN" (turns 1..N) and no answers. */
struct sess_turn_context *fake_ctx_locked(long turns);
/** LOCKED with the given entries (copied). */
struct sess_turn_context *fake_ctx_locked_with(const struct sess_entry *entries, size_t n,
                                               long turns, long answered);
struct sess_turn_context *fake_ctx_held(void);
struct sess_turn_context *fake_ctx_with_agent(void);
/** ANSWERED by `answer` (copied; NULL: no longer in the transcript) with rec.answered. */
struct sess_turn_context *fake_ctx_answered(const struct sess_entry *answer, long answered);
struct sess_turn_context *fake_ctx_status(int status);
/** Contexts allocated and not yet freed. */
size_t fake_ctx_live(void);

/* ---- the provider (fake_llm.c) ---- */

struct fake_llm_call {
    struct llm_sink sink;
    char *last_question; /* the last user message */
    size_t n_messages;
    bool live;
};

void fake_llm_reset(void);
/** The newest call started, or NULL. */
struct fake_llm_call *fake_llm_current(void);
size_t fake_llm_started(void);
/** Make the next llm_start refuse the request (return NULL). */
void fake_llm_refuse_next(void);
/** Make the next llm_start finish inside itself with `status` (a chain whose providers all
 *  refuse). */
void fake_llm_finish_inside_next(int status);
void fake_llm_text(struct fake_llm_call *c, const char *text);
/** Finish with PL_OK and `stop`. */
void fake_llm_end(struct fake_llm_call *c, enum llm_stop stop, long in, long out);
/** Fail with `status`, `err` and `detail`. */
void fake_llm_fail(struct fake_llm_call *c, int status, enum llm_stop stop, enum api_error err,
                   const char *detail);
extern struct llm_provider *fake_provider;

/* ---- the prompt builder (fake_prompt.c) ---- */

void fake_prompt_reset(void);
/** The history of the last prompt built: "caller:1:q1|assistant:1:a1|...", a failed answer as
 *  "assistant:2:(failed)". */
const char *fake_prompt_history(void);
/** Citations every later prompt places (copied). */
void fake_prompt_cite(const char *source, const char *title);
/** The policy of the last prompt built: "NUMBER:RECORD" ("NUMBER:" without a record, "" when
 *  the session is bound to none). */
const char *fake_prompt_policy(void);
/** Make the next prompt_build fail with `status`. */
void fake_prompt_fail_next(int status);
/** Every later prompt says a summary is due through `through` (0: none). */
void fake_prompt_summary_due(long through);
/** "N:TEXT": the summary the last prompt was given ("" when none). */
const char *fake_prompt_summary(void);
extern const struct prompt_builder *fake_prompts;

#endif
