/* What a handoff packet (bot/handoff.h) reads of a session beyond its record and transcript:
 * why and since when it waits for an agent, and how its caller was identified by a webhook
 * (docs/redis-keys.md, parley:{SID}:session). Loop thread only. */
#ifndef PARLEY_SESSIONS_SESSION_HANDOFF_H
#define PARLEY_SESSIONS_SESSION_HANDOFF_H

#include <stdbool.h>

#include "sessions/session_store.h"

struct sess_handoff_facts {
    char escalation_reason[256]; /* "" when it never waited */
    long long waiting_since_ms;  /* 0: not recorded */
    char hook[16];               /* "lex", "connect", or "" (a web session) */
    bool hook_verified;          /* a Lex verify_policy succeeded */
};

/** `facts` borrowed for the call; status PL_OK, PL_ENOTFOUND (no such session) or a storage
 *  error. */
typedef void (*sess_handoff_cb)(void *ud, int status, const struct sess_handoff_facts *facts);

/** Read them (one HMGET). `cb` runs exactly once, later, when PL_OK is returned. */
int sess_handoff_facts(struct sess_store *s, const char *sid, sess_handoff_cb cb, void *ud);

#endif
