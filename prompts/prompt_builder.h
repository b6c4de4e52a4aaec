/* Helpers of the prompt builder (prompt.c) that shape a conversation history into a valid model
 * request: merging consecutive messages of one role (models want user/assistant alternation)
 * and dropping the oldest messages so the system prompt plus the history fit a token budget.
 * Internal to prompts/: the rest of Parley uses prompts/prompt.h. */
#ifndef PARLEY_PROMPTS_PROMPT_BUILDER_H
#define PARLEY_PROMPTS_PROMPT_BUILDER_H

#include <stddef.h>

#include "prompts/prompt.h"

/* The result of prompt_merge_roles. Owns every messages[i].text (and the array); each
 * messages[i].role is borrowed from the input messages. Release with prompt_merged_cleanup. */
struct prompt_merged {
    struct prompt_message *messages; /* NULL when n == 0 */
    size_t n;
    char **_texts; /* private: the owned texts, _texts[i] == messages[i].text */
};

/** Token estimate of a text as used for budgets: bytes / 4, rounded up (NULL counts 0). */
size_t prompt_estimate_tokens(const char *text);

/**
 * Merge runs of consecutive messages with the same role (compared with strcmp) into one
 * message whose text is the run's texts joined with "\n\n" (NULL text counts as ""). Every
 * text in `out` is a new copy, so `in` may be freed afterwards (its role strings may not:
 * they are borrowed). `out` is overwritten; n == 0 gives an empty result.
 */
void prompt_merge_roles(const struct prompt_message *in, size_t n, struct prompt_merged *out);

/** Free what prompt_merge_roles allocated and empty `m`. Accepts an empty or zeroed `m`. */
void prompt_merged_cleanup(struct prompt_merged *m);

/**
 * How many of the oldest messages (msgs oldest first, borrowed) to drop so that
 * estimate(system) + estimate of the kept texts <= budget_tokens. Two rules override the
 * budget: the last "user" message is never dropped (so the result may still exceed the budget),
 * and the kept list starts with a "user" message (leading non-user messages are dropped even
 * when the budget would allow them). Without any "user" message the last message is kept.
 * Returns 0..n-1 (0 when n == 0); the kept messages are msgs[drop..n-1].
 */
size_t prompt_trim_to_budget(const char *system, const struct prompt_message *msgs, size_t n,
                             size_t budget_tokens);

#endif
