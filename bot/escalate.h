/* A session asks for a human agent, whoever asks (the caller's words or `escalate` frame, a Lex
 * or Connect flow, the escalation signals): stored with sess_escalate (waiting_agent, reason,
 * waiting_since; docs/protocol.md "Escalation"), then, when the session began to wait, the
 * desk's live list is told (bot/desk_list.h). Loop thread only. */
#ifndef PARLEY_BOT_ESCALATE_H
#define PARLEY_BOT_ESCALATE_H

#include "bot/server.h"
#include "sessions/session_escalate.h"

/** sess_escalate on srv->store, and the desk told; `cb` (may be NULL) as sess_escalate's. */
int bot_escalate(struct bot_server *srv, const char *sid, const char *reason, sess_escalate_cb cb,
                 void *ud);

#endif
