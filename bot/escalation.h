/* Escalation phrases (--escalation-phrases): a caller message that contains one of them asks
 * for a human agent (docs/protocol.md "Escalation"). Pure functions, no I/O. */
#ifndef PARLEY_BOT_ESCALATION_H
#define PARLEY_BOT_ESCALATION_H

#include <stdbool.h>
#include <stddef.h>

#define ESCALATION_PHRASES_DEFAULT                                                                 \
    "speak to a human,talk to a human,speak to a person,talk to a person,real person,"             \
    "human agent,speak to an agent,talk to an agent,speak to someone,representative"

/** Does the `len` bytes of `text` contain one of the comma-separated `phrases` (each trimmed of
 *  spaces; empty ones skipped; ASCII letters compared without case, runs of white space in the
 *  text as one space)? When it does and `matched` is not NULL, the phrase is copied there (cut
 *  to `size` - 1 bytes, terminated). */
bool escalation_phrase_match(const char *phrases, const char *text, size_t len, char *matched,
                             size_t size);

#endif
