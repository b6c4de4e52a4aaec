/* A human agent's actions on a session (docs/protocol.md "Takeover", docs/redis-keys.md): each
 * checks and changes the session's record and writes to its transcript in one script, so two
 * agents racing for a session cannot both have it. Every action leaves an entry naming the
 * agent: watch, takeover and release an `audit` entry (text: the action), say the `agent` entry
 * that carries its text. Loop thread only. */
#ifndef PARLEY_SESSIONS_SESSION_AGENT_H
#define PARLEY_SESSIONS_SESSION_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "sessions/session_store.h"

enum sess_agent_action {
    SESS_AGENT_WATCH,    /* audit only */
    SESS_AGENT_TAKEOVER, /* state agent, held by the agent */
    SESS_AGENT_SAY,      /* an `agent` entry, while the agent holds the session */
    SESS_AGENT_RELEASE,  /* state bot; the messages the agent had count as answered, so no
                            recovery gives them to the model */
};

enum sess_agent_result {
    SESS_AGENT_DONE,
    SESS_AGENT_HELD_BY_OTHER, /* another agent holds it (takeover, say, release) */
    SESS_AGENT_NOT_HELD,      /* say or release while no agent holds it */
    SESS_AGENT_CLOSED,        /* takeover of a closed session */
};

/* How an action came out: `status` PL_OK with `result` (and `turn`, the session's current turn,
 * which the entry carries), PL_ENOTFOUND (no such session) or a storage error. */
typedef void (*sess_agent_cb)(void *ud, int status, enum sess_agent_result result, long turn);

/** The action's name as audit entries and events carry it: "watch", "takeover", ... */
const char *sess_agent_action_name(enum sess_agent_action a);

/** Do `action` as `agent` (the token's sub) on `sid`. `override` (an admin): the session's
 *  holder does not matter. `text`/`len`: say's text (ignored otherwise). `cb` may be NULL.
 *  Otherwise as the store's calls. */
int sess_agent_act(struct sess_store *s, const char *sid, enum sess_agent_action action,
                   const char *agent, bool override, const char *text, size_t len, sess_agent_cb cb,
                   void *ud);

#endif
