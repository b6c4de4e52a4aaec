/* Exponential backoff with jitter: the one formula for every retry wait in Parley (Redis
 * reconnects, turn starts and answer stores, upstream retries), so a fleet of instances never
 * retries in lockstep and no caller waits longer than the cap. */
#ifndef PARLEY_COMMON_BACKOFF_H
#define PARLEY_COMMON_BACKOFF_H

#include <stdint.h>

/** The wait before retry number `attempt` (1 for the first retry): base_ms * 2^(attempt-1),
 *  capped at max_ms, then shortened by a random amount of up to `jitter_pct` percent of itself
 *  (0: no jitter, 50: somewhere in [50%, 100%]). attempt 0 counts as 1. */
uint32_t pl_backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms, unsigned jitter_pct);

#endif
