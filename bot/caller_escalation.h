/* A caller asking for a person, whichever channel the words came by (the caller WebSocket, the
 * HTTP message API): an `escalate` frame, or a message holding one of --escalation-phrases
 * (bot/escalation.h), puts the session in waiting_agent with the reason (docs/protocol.md
 * "Escalation"). The bot goes on answering until an agent takes over. Loop thread only. */
#ifndef PARLEY_BOT_CALLER_ESCALATION_H
#define PARLEY_BOT_CALLER_ESCALATION_H

#include <stddef.h>

#include "bot/server.h"

/** Put session `sid` in waiting_agent for `reason` (a session waiting already keeps its first
 *  reason). The outcome is logged; nothing is told to the caller. */
void caller_escalate(struct bot_server *srv, const char *sid, const char *reason);

/** When the `len` bytes of `text` (a caller message of session `sid`) hold an escalation
 *  phrase, caller_escalate with the reason `the caller said "PHRASE"`. */
void caller_escalate_on_words(struct bot_server *srv, const char *sid, const char *text,
                              size_t len);

#endif
