/* Conversation summaries (docs/prompts.md "Conversation summaries"): a session's older turns
 * folded into one stored summary, which later prompts carry instead of those turns. A job reads
 * the session (record, stored summary, transcript), asks the `summary` model route with the
 * summary prompt (prompts/summary_prompt.h), counts the call's usage to the session's tenant and
 * stores the new summary only if it covers more turns than the stored one (sessions/
 * session_store.h, sess_summary_store). The turn engine asks for one in the background after a
 * turn is stored whose prompt left out turns the summary does not cover; anything else may ask
 * for one now and get the text (summarizer_run). Loop thread only. */
#ifndef PARLEY_BOT_SUMMARY_H
#define PARLEY_BOT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bot/prompt_reload.h"
#include "common/buf.h"

struct sess_store;
struct llm_provider;
struct llm_price_table;

/* Most summary jobs running at once on an instance (summarizer_opts.max_jobs 0). */
#define SUMMARY_JOBS_DEFAULT 4
/* Most transcript entries a job reads. */
#define SUMMARY_READ_MAX 2000
/* What a summary request holds besides the turns it folds, at most: the template's text (the
 * previous summary and the answer are counted at max_tokens each). */
#define SUMMARY_TEMPLATE_TOKENS 1000
/* Most bytes of a summary kept from the model's answer (the rest is dropped). */
#define SUMMARY_TEXT_MAX (64 * 1024)

struct summarizer_opts {
    uv_loop_t *loop;
    struct sess_store *store;
    struct llm_provider *llm;  /* the summary route's chain (llm_route(routes, "summary")) */
    const char *templates_dir; /* summary.txt from here when it has one; NULL: built-in */
    uint32_t max_tokens;       /* max_tokens of a summary request (--summary-max-tokens) */
    /* Most estimated tokens of turns one request folds (the prompt builder's history budget),
     * capped so that the request fits the summary route's model (prompt_model_context_tokens,
     * less max_tokens twice and SUMMARY_TEMPLATE_TOKENS): when more wait, the oldest are left
     * out of the summary (logged). */
    size_t fold_budget_tokens;
    unsigned max_jobs;                    /* 0: SUMMARY_JOBS_DEFAULT */
    const struct llm_price_table *prices; /* NULL: every cost 0 */
};

struct summarizer;

/** A new summarizer; PL_EINVAL with `err` when summary.txt does not load (start-up only: it
 *  reads templates_dir). */
int summarizer_create(const struct summarizer_opts *opts, struct summarizer **out, char *err,
                      size_t errlen);

/** Fold session `sid`'s turns up to `through` into its summary, in the background: nothing is
 *  told back (the outcome is logged and counted). Not started (false) when a job of `sid` runs
 *  on this instance, max_jobs run, or the summarizer is stopped; a later turn asks again. */
bool summarizer_request(struct summarizer *sm, const char *sid, long through);

/** The turn engine's hook (struct turn_engine_opts.summary_due): summarizer_request with `ud`
 *  the summarizer. */
void summarizer_on_due(void *ud, const char *sid, long through);

/** How summarizer_run came out: status PL_OK with the session's summary `text` (borrowed for the
 *  call) covering turns up to `through` (the stored one when it already covered them: nothing
 *  was asked), or PL_ENOTFOUND (no such session, or no turn to summarise: text NULL), PL_EBUSY
 *  (a job of the session runs here), or the model's or storage's failure. */
typedef void (*summary_done_cb)(void *ud, int status, const char *text, long through);

/** Summarise `sid` now, through turn `through` (0: its last answered turn), and tell `cb`
 *  (exactly once, never before this returns) when the summary is stored. Returns PL_OK, or
 *  PL_EINVAL (bad session id) / PL_ECANCELED (stopped) when cb never runs. Counts towards
 *  max_jobs but is not refused by it. */
int summarizer_run(struct summarizer *sm, const char *sid, long through, summary_done_cb cb,
                   void *ud);

struct summarizer_stats {
    uint64_t started;
    uint64_t stored;
    uint64_t stale;   /* written, but an equal or newer summary was stored meanwhile */
    uint64_t failed;  /* the model or storage failed: asked again at a later turn */
    uint64_t skipped; /* not started: max_jobs ran */
    uint64_t input_tokens;
    uint64_t output_tokens;
    uint64_t cache_read_input_tokens;
    uint64_t cache_creation_input_tokens;
    uint64_t cost_micros;
    size_t running;
};
void summarizer_stats(const struct summarizer *sm, struct summarizer_stats *out);
/** The /metrics lines of the summaries (parley_summaries_total{result}, parley_summary_tokens_total
 *  {kind}, parley_summary_cost_usd_micros_total). Accepts NULL (nothing). */
void summarizer_metrics(const struct summarizer *sm, struct pl_buf *out);

/** Start no more jobs and cancel the model calls in flight (their jobs end; run callbacks get
 *  PL_ECANCELED). Jobs waiting for Redis end when the store completes them. Idempotent. */
void summarizer_stop(struct summarizer *sm);
/** Free once stopped and the store is destroyed (no job is left). Accepts NULL. */
void summarizer_free(struct summarizer *sm);

/** The summary request's template as a part of the SIGHUP reload (bot/prompt_reload.h): read
 *  with the chat templates, swapped with them; jobs already asked keep the request they built. */
struct prompt_reload_part summarizer_reload_part(struct summarizer *sm);

#endif
