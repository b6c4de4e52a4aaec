/* Which browser pages may use this server (`--allowed-origins`, docs/configuration.md): a page's
 * Origin is allowed when it is the server's own (its host and port are the request's Host), or
 * on the configured list, or the list is `*`. A request without Origin (a server, the CLI, a
 * same-origin GET) is not a page's and is not checked here. Checked at the WebSocket handshake
 * and for CORS on the HTTP API (bot/conn.c). No I/O. */
#ifndef PARLEY_BOT_ORIGIN_H
#define PARLEY_BOT_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

struct origin_list;

/** Parse a comma list of origins ("https://shop.example, http://localhost:3000") or "*" (any
 *  page). NULL or "" gives the empty list (only the server's own pages). Each entry is
 *  scheme://host[:port] with scheme http or https and nothing after the port; a default port
 *  (80, 443) is dropped as browsers drop it. PL_OK and a new list in `*out`; PL_EINVAL with a
 *  message naming the bad entry in `err`. */
int origin_list_parse(const char *spec, struct origin_list **out, char *err, size_t errlen);
/** Accepts NULL. */
void origin_list_free(struct origin_list *l);

/** May a page of `origin` (the Origin header's value) use this server, reached with `host` (the
 *  Host header's value)? `l` may be NULL (the empty list). */
bool origin_allowed(const struct origin_list *l, const char *origin, const char *host);

#endif
