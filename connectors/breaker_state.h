/* The state machine of one circuit breaker, free of I/O and clocks: the time is passed in (the
 * loop's uv_now in parleyd, a fake clock in tests). Closed: calls pass, and `threshold`
 * failures in a row (each within `window_ms` of the one before) open it. Open: calls are
 * skipped for `cooldown_ms`. Then half-open: exactly one call, the probe, passes; its success
 * closes the breaker, its failure opens it for another cool-down, and a probe that ends
 * neither way (cancelled) lets the next call probe. Which outcomes are failures is the
 * caller's rule (connectors/llm_breaker.h). */
#ifndef PARLEY_CONNECTORS_BREAKER_STATE_H
#define PARLEY_CONNECTORS_BREAKER_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum breaker_mode { BREAKER_CLOSED = 0, BREAKER_OPEN = 1, BREAKER_HALF_OPEN = 2 };

/* What to do with a call. */
enum breaker_verdict {
    BREAKER_PASS,  /* closed: go ahead */
    BREAKER_PROBE, /* half-open: go ahead as the one probe; report it with probe = true */
    BREAKER_SKIP,  /* open, or the probe is out: do not call */
};

enum breaker_result {
    BREAKER_SUCCESS, /* the upstream answered (even with an error that is the caller's fault) */
    BREAKER_FAILURE, /* the upstream is unwell: unavailable, overloaded, timed out, cut */
    BREAKER_NEUTRAL, /* says nothing about the upstream (cancelled) */
};

/* A change of mode, for the log and the counters. */
enum breaker_change {
    BREAKER_NO_CHANGE,
    BREAKER_OPENED,      /* closed -> open */
    BREAKER_HALF_OPENED, /* open -> half-open: the cool-down is over */
    BREAKER_CLOSED_AGAIN,
    BREAKER_REOPENED, /* half-open -> open: the probe failed */
};

struct breaker_state {
    unsigned threshold;   /* failures in a row that open it; 0: it never opens */
    uint64_t cooldown_ms; /* open this long before a probe */
    uint64_t window_ms;   /* a failure longer than this after the last one starts a new count */
    enum breaker_mode mode;
    unsigned failures; /* in a row, while closed */
    uint64_t last_failure_at;
    uint64_t opened_at;
    bool probing;          /* half-open: the probe is out */
    uint64_t opened_total; /* times it opened (re-openings included) */
};

/** A closed breaker. */
void breaker_init(struct breaker_state *b, unsigned threshold, uint64_t cooldown_ms,
                  uint64_t window_ms);

/** May a call go now? An open breaker whose cool-down is over turns half-open here (`*change`
 *  BREAKER_HALF_OPENED) and lets this call probe. */
enum breaker_verdict breaker_admit(struct breaker_state *b, uint64_t now,
                                   enum breaker_change *change);

/** Report how an admitted call ended; `probe` as breaker_admit said. A non-probe result that
 *  arrives while the breaker is no longer closed (a call started before it opened) changes
 *  nothing. */
enum breaker_change breaker_record(struct breaker_state *b, uint64_t now, bool probe,
                                   enum breaker_result result);

/** The mode as it stands at `now`: an open breaker whose cool-down is over shows as half-open. */
enum breaker_mode breaker_mode_at(const struct breaker_state *b, uint64_t now);

/** Time left of an open breaker's cool-down (0 when it is not open or the cool-down is over). */
uint64_t breaker_remaining_ms(const struct breaker_state *b, uint64_t now);

#endif
