/* Circuit breaker state machine; see breaker_state.h. */
#include "connectors/breaker_state.h"

#include <string.h>

void breaker_init(struct breaker_state *b, unsigned threshold, uint64_t cooldown_ms,
                  uint64_t window_ms)
{
    memset(b, 0, sizeof(*b));
    b->threshold = threshold;
    b->cooldown_ms = cooldown_ms;
    b->window_ms = window_ms;
    b->mode = BREAKER_CLOSED;
}

static void open_at(struct breaker_state *b, uint64_t now)
{
    b->mode = BREAKER_OPEN;
    b->opened_at = now;
    b->opened_total++;
    b->failures = 0;
    b->probing = false;
}

enum breaker_verdict breaker_admit(struct breaker_state *b, uint64_t now,
                                   enum breaker_change *change)
{
    *change = BREAKER_NO_CHANGE;
    switch (b->mode) {
    case BREAKER_CLOSED:
        return BREAKER_PASS;
    case BREAKER_OPEN:
        if (now - b->opened_at < b->cooldown_ms)
            return BREAKER_SKIP;
        b->mode = BREAKER_HALF_OPEN;
        *change = BREAKER_HALF_OPENED;
        b->probing = true;
        return BREAKER_PROBE;
    case BREAKER_HALF_OPEN:
        if (b->probing)
            return BREAKER_SKIP;
        b->probing = true;
        return BREAKER_PROBE;
    }
    return BREAKER_PASS;
}

enum breaker_change breaker_record(struct breaker_state *b, uint64_t now, bool probe,
                                   enum breaker_result result)
{
    if (probe) {
        if (b->mode != BREAKER_HALF_OPEN)
            return BREAKER_NO_CHANGE;
        b->probing = false;
        if (result == BREAKER_SUCCESS) {
            b->mode = BREAKER_CLOSED;
            b->failures = 0;
            return BREAKER_CLOSED_AGAIN;
        }
        if (result == BREAKER_FAILURE) {
            open_at(b, now);
            return BREAKER_REOPENED;
        }
        return BREAKER_NO_CHANGE; /* the next call probes */
    }
    if (b->mode != BREAKER_CLOSED || b->threshold == 0)
        return BREAKER_NO_CHANGE;
    if (result == BREAKER_SUCCESS) {
        b->failures = 0;
    } else if (result == BREAKER_FAILURE) {
        if (b->failures > 0 && now - b->last_failure_at > b->window_ms)
            b->failures = 0;
        b->failures++;
        b->last_failure_at = now;
        if (b->failures >= b->threshold) {
            open_at(b, now);
            return BREAKER_OPENED;
        }
    }
    return BREAKER_NO_CHANGE;
}

enum breaker_mode breaker_mode_at(const struct breaker_state *b, uint64_t now)
{
    if (b->mode == BREAKER_OPEN && now - b->opened_at >= b->cooldown_ms)
        return BREAKER_HALF_OPEN;
    return b->mode;
}

uint64_t breaker_remaining_ms(const struct breaker_state *b, uint64_t now)
{
    if (b->mode != BREAKER_OPEN || now - b->opened_at >= b->cooldown_ms)
        return 0;
    return b->opened_at + b->cooldown_ms - now;
}
