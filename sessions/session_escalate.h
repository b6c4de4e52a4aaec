/* A session asks for a human agent (docs/protocol.md "Escalation"): its record's state becomes
 * waiting_agent with the reason and the time it began to wait, so the agent desk lists it first
 * (sessions/session_list.h). Loop thread only. */
#ifndef PARLEY_SESSIONS_SESSION_ESCALATE_H
#define PARLEY_SESSIONS_SESSION_ESCALATE_H

#include "sessions/session_store.h"

enum sess_escalate_result {
    SESS_ESCALATED,       /* it waits for an agent now */
    SESS_ALREADY_WAITING, /* it was waiting already: the first reason and time are kept */
    SESS_WITH_AGENT,      /* an agent has it (or it is closed): nothing changed */
};

/** `status` PL_OK with `result`, PL_ENOTFOUND (no such session) or a storage error. */
typedef void (*sess_escalate_cb)(void *ud, int status, enum sess_escalate_result result);

/** Put `sid` in waiting_agent with `reason` (at most 255 bytes are kept). One script: sets
 *  state, escalation_reason, waiting_since (Unix ms) and updated, unless the session waits
 *  already or is with an agent or closed. `cb` may be NULL. Otherwise as the store's calls. */
int sess_escalate(struct sess_store *s, const char *sid, const char *reason, sess_escalate_cb cb,
                  void *ud);

#endif
