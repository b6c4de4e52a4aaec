/* The escalation signals at work (bot/escalation_signals.h): an observer of the turn engine
 * (its turn_finished hook) that notes each turn stored here in the session's memory in Redis
 * (one script per turn, sessions/session_signals.h) and, when a signal fires, puts the session
 * in waiting_agent with the signal's reason (bot/escalate.h). Loop thread only. */
#ifndef PARLEY_BOT_ESCALATION_WATCH_H
#define PARLEY_BOT_ESCALATION_WATCH_H

#include "bot/turn/turn_engine.h"

struct bot_server;

/* Filled by its owner and kept for as long as the engine may call it. */
struct escalation_watch {
    struct bot_server *srv;     /* its store; the desk told of an escalation (bot/escalate.h) */
    unsigned signals;           /* enum esc_signal bits; 0: the hook is not needed */
    const char *unsure_phrases; /* comma list (borrowed) */
};

/** struct turn_engine_opts.turn_finished, with `ud` a struct escalation_watch. The turn's
 *  outcome is observed now; Redis is asked once (none when only `unavailable` is on), and once
 *  more when a signal fires. Outcomes are logged; nothing is told to the caller. */
void escalation_watch_turn_finished(void *ud, const char *sid, const struct turn_finished *f);

#endif
