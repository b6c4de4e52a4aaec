/* HTTP header values that are comma-separated lists of tokens (Connection, Upgrade,
 * Sec-WebSocket-Protocol: RFC 9110 section 5.6.1), read by the server's request parser and the
 * client's handshake check alike. */
#ifndef PARLEY_COMMON_TOKEN_LIST_H
#define PARLEY_COMMON_TOKEN_LIST_H

#include <stdbool.h>

/** Does the comma-separated list `list` hold `token` (case-insensitive, optional white space
 *  around items, empty items skipped)? */
bool token_list_has(const char *list, const char *token);

#endif
