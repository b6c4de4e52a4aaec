/* What a model's tokens cost: a table of prices per model (docs/cost.md, "Prices"), the cost of
 * one turn's usage in whole micro-dollars, and decimal dollar amounts read exactly. Integers
 * throughout, so that totals summed across turns and instances are exact. */
#ifndef PARLEY_CONNECTORS_LLM_PRICES_H
#define PARLEY_CONNECTORS_LLM_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include "connectors/llm.h"

/* One model's prices, in micro-dollars per million tokens (USD 3.75 per MTok is 3750000). */
struct llm_price {
    uint64_t input;
    uint64_t output;
    uint64_t cache_read;
    uint64_t cache_write;
};

struct llm_price_table;

/** The built-in table (docs/cost.md lists its figures). Never NULL. */
struct llm_price_table *llm_prices_default(void);
/** The table of `json` (`len` bytes): {"MODEL":{"input":N,"output":N,"cache_read":N,
 *  "cache_write":N},...}, USD per million tokens, each a non-negative number with at most six
 *  decimals (cache_read and cache_write may be left out: 0.1 and 1.25 times input). PL_EINVAL
 *  with a message in `err` naming what is wrong. */
int llm_prices_parse(const char *json, size_t len, struct llm_price_table **out, char *err,
                     size_t errlen);
/** Read the table of a file at start-up (a blocking read). PL_EIO or PL_EINVAL with `err`. */
int llm_prices_load(const char *path, struct llm_price_table **out, char *err, size_t errlen);
/** Accepts NULL. */
void llm_prices_free(struct llm_price_table *t);

/** The prices of `model`: the entry whose model id equals it, else the longest entry contained
 *  in it (so "claude-sonnet-4-5" prices "claude-sonnet-4-5-20250929" and Bedrock's
 *  "us.anthropic.claude-sonnet-4-5-20250929-v1:0"). NULL when none matches (cost 0). */
const struct llm_price *llm_prices_find(const struct llm_price_table *t, const char *model);

/** The cost of `u` at `p` (NULL: 0) in micro-dollars, rounded up to a whole one. */
uint64_t llm_cost_micros(const struct llm_price *p, const struct llm_usage *u);

/** An amount of dollars written in decimal ("25", "0.5", "12.345678") as micro-dollars. PL_OK,
 *  or PL_EINVAL for anything else (a sign, more than six decimals, an exponent, > 10^12). */
int llm_usd_parse(const char *s, uint64_t *micros);

#endif
