/* The request that folds a session's older turns into its summary (docs/prompts.md
 * "Conversation summaries"): the template summary.txt rendered with the previous summary and
 * the turns to fold, as the one user message of a PROMPT_PURPOSE_SUMMARY request that carries
 * its input as data too (struct prompt_fold), for the offline provider. Loop thread only; no
 * I/O after summary_prompts_load. */
#ifndef PARLEY_PROMPTS_SUMMARY_PROMPT_H
#define PARLEY_PROMPTS_SUMMARY_PROMPT_H

#include <stddef.h>

#include "common/buf.h"
#include "prompts/prompt.h"

/* The system prompt of every summary request. */
#define SUMMARY_PROMPT_SYSTEM                                                                      \
    "You write concise, factual summaries of contact centre conversations for the assistant "      \
    "that continues them."

/* The placeholders summary.txt may use. */
#define SUMMARY_PROMPT_PLACEHOLDERS "through", "previous_summary", "previous_through", "transcript"

struct summary_prompts;

/** Load summary.txt from `dir` (a blocking read: at start-up, or on a worker thread at a reload),
 * or the built-in copy when `dir` is NULL or has no summary.txt. PL_OK with a new set in *out, or
 * PL_EINVAL / PL_EIO with a message naming the file in `err` (a template that does not parse, an
 * unknown placeholder). */
int summary_prompts_load(const char *dir, struct summary_prompts **out, char *err, size_t errlen);
/** Accepts NULL. */
void summary_prompts_free(struct summary_prompts *sp);

/**
 * Append the transcript of `items` (conversation order) as the template's {{transcript}} says:
 * one line per non-empty item, "Caller (turn N): TEXT", "Assistant (turn N): TEXT" or
 * "Human agent (turn N): TEXT", joined by "\n", every "</" of a text written "<\/" (no text
 * can close the block). Failed (empty) answers are left out. PL_OK or PL_ETOOBIG (b's bound).
 */
int summary_prompt_transcript(const struct prompt_history_item *items, size_t n, struct pl_buf *b);

/**
 * Build the request folding `fold` (borrowed: it must outlive `out`, which points to it) into a
 * new summary: system SUMMARY_PROMPT_SYSTEM, one user message (the template rendered with
 * through, previous_summary ("</" written "<\/"), previous_through and transcript),
 * max_tokens `max_tokens`, user_id `session_id` (copied), purpose PROMPT_PURPOSE_SUMMARY and
 * fold `fold`. PL_OK (release with summary_prompt_cleanup), PL_EINVAL (no items, or max_tokens
 * < 1) or PL_ETOOBIG (the rendered text passes 1 MiB).
 */
int summary_prompt_build(const struct summary_prompts *sp, const struct prompt_fold *fold,
                         int max_tokens, const char *session_id, struct prompt *out);
/** Release what summary_prompt_build allocated and clear `p`. Accepts a cleared prompt. */
void summary_prompt_cleanup(struct prompt *p);

#endif
