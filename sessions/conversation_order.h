/* The transcript stream is in arrival order: caller messages queued during an answer come
 * before that answer. People and models read a conversation turn by turn, so history and
 * prompts use this order instead: by turn, each turn's caller message first, then what answered
 * it (the assistant, or a human agent) in arrival order. */
#ifndef PARLEY_SESSIONS_CONVERSATION_ORDER_H
#define PARLEY_SESSIONS_CONVERSATION_ORDER_H

#include <stddef.h>

#include "sessions/session_store.h"

/** Fill `out` (n pointers into `entries`) in conversation order. Stable. */
void sess_conversation_order(const struct sess_entry *entries, size_t n,
                             const struct sess_entry **out);

#endif
