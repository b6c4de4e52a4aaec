/* Backoff with jitter; see backoff.h. rand() is seeded per process in main(): jitter needs to
 * differ between instances, not to be unpredictable. */
#include "common/backoff.h"

#include <stdlib.h>

uint32_t pl_backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms, unsigned jitter_pct)
{
    unsigned shift = attempt > 1 ? attempt - 1 : 0;
    uint64_t wait = shift >= 32 ? UINT64_MAX : (uint64_t)base_ms << shift;
    if (wait > max_ms)
        wait = max_ms;
    if (jitter_pct > 100)
        jitter_pct = 100;
    uint64_t spread = wait * jitter_pct / 100;
    if (spread)
        wait -= (uint64_t)rand() % (spread + 1);
    return (uint32_t)wait;
}
