/* Circuit breakers per provider and model (docs/configuration.md "Model providers"): one
 * breaker_state (breaker_state.h) per "kind:model", on the loop's clock, shared by every chain
 * that uses that provider and model (the chat chain and the routes alike: an upstream is
 * unwell for all of them). The chain (llm_chain.c) asks before each attempt and reports each
 * outcome; transitions are logged once each (WARN open, NOTICE closed); /metrics shows the state
 * and the openings. Loop thread only. */
#ifndef PARLEY_CONNECTORS_LLM_BREAKER_H
#define PARLEY_CONNECTORS_LLM_BREAKER_H

#include <stdint.h>

#include <uv.h>

#include "common/buf.h"
#include "connectors/breaker_state.h"
#include "connectors/llm.h"

struct llm_breakers;
struct llm_breaker;

struct llm_breaker_options {
    unsigned failures;    /* failures in a row that open a breaker; 0: breakers off */
    uint32_t cooldown_ms; /* open this long, then one probe */
    uint32_t window_ms;   /* failures further apart than this do not add up */
};

/** A registry of breakers on `loop` (borrowed). New; destroy with llm_breakers_destroy. */
struct llm_breakers *llm_breakers_create(uv_loop_t *loop, const struct llm_breaker_options *o);
/** Accepts NULL. No chain may use it any more. */
void llm_breakers_destroy(struct llm_breakers *r);

/** The breaker of provider `kind` and `model`, made on first use (borrowed: lives as long as the
 *  registry). NULL when `r` is NULL or breakers are off. */
struct llm_breaker *llm_breakers_get(struct llm_breakers *r, const char *kind, const char *model);

/** Append parley_llm_breaker_state{provider,model} (0 closed, 1 open, 2 half-open) and
 *  parley_llm_breaker_opened_total{provider,model} for every breaker. Accepts NULL. */
void llm_breakers_metrics(const struct llm_breakers *r, struct pl_buf *out);

/** May a call go to this provider now (breaker_admit on the loop's clock, transition logged)? */
enum breaker_verdict llm_breaker_admit(struct llm_breaker *b);
/** Report an admitted call's outcome: failures are the outcomes that say the upstream is unwell
 *  (llm_breaker_result); `probe` as llm_breaker_admit said. */
void llm_breaker_record(struct llm_breaker *b, bool probe, const struct llm_outcome *o);
/** Time left before an open breaker lets a probe through (0 if it is not open). */
uint64_t llm_breaker_remaining_ms(const struct llm_breaker *b);

/** How an outcome counts: cancelled is neutral; unavailable, rate-limited, timed out, cut,
 *  malformed and any 429 or 5xx a failure; everything else a success (the upstream answered,
 *  even if it refused the request: a 400 is the caller's fault, not the upstream's). */
enum breaker_result llm_breaker_result(const struct llm_outcome *o);

#endif
