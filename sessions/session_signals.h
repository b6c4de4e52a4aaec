/* The memory of the escalation signals (bot/escalation_signals.h) across a session's turns,
 * whichever instance answers them: fields of the session record, updated by one script per
 * stored turn. Loop thread only. */
#ifndef PARLEY_SESSIONS_SESSION_SIGNALS_H
#define PARLEY_SESSIONS_SESSION_SIGNALS_H

#include <stdbool.h>

#include "sessions/session_store.h"

/* What one stored turn showed. */
struct sess_signal_note {
    long turn;            /* the caller turn (> 0) */
    bool unsure;          /* its answer said the bot does not know */
    int miss;             /* 1: the knowledge base had no passage for it; 0: it had; -1: not
                             searched (the run of misses stays as it is) */
    const char *question; /* a digest of its normalised question ("" or NULL: none) */
};

/* The session's memory once the turn is noted. */
struct sess_signal_counts {
    bool noted;    /* false: this turn (or a later one) was noted before; nothing changed */
    long unsure;   /* answers of the session that said the bot does not know */
    long misses;   /* turns in a row whose question had no passage */
    bool repeated; /* its question is the one of the turn just before it */
};

/** `status` PL_OK with `counts`, PL_ENOTFOUND (no such session) or a storage error. */
typedef void (*sess_signal_cb)(void *ud, int status, const struct sess_signal_counts *counts);

/** Note turn `n` in `sid`'s record (signal_turn, signal_unsure, signal_misses,
 *  signal_question) and say what the memory holds now, in one script. A turn is noted once:
 *  a turn number not above signal_turn changes nothing. `repeated` holds when the record's
 *  question digest equals n->question and was noted for turn n->turn - 1. Otherwise as the
 *  store's calls. */
int sess_signal_note(struct sess_store *s, const char *sid, const struct sess_signal_note *n,
                     sess_signal_cb cb, void *ud);

#endif
