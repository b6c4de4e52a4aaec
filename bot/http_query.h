/* Reading a request's query string ("a=1&b=2", raw: as bot/http_parse.h leaves it). */
#ifndef PARLEY_BOT_HTTP_QUERY_H
#define PARLEY_BOT_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/** The value of the first parameter `name` of `query`, copied into `out` (NUL-terminated, cut
 *  to outlen - 1 bytes); false when there is none ("name" without "=" counts as none). */
bool http_query_value(const char *query, const char *name, char *out, size_t outlen);

#endif
