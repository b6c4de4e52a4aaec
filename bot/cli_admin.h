/* What the admin CLI's commands share (`parley token`, `parley policy`, `parley kb`): the
 * secret's check, a short-lived admin token for the HTTP API, and curl's body collector. */
#ifndef PARLEY_BOT_CLI_ADMIN_H
#define PARLEY_BOT_CLI_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

/** The server's secret (--jwt-secret or PARLEY_JWT_SECRET) is there and strong enough
 *  (bot/auth_secret.h); otherwise says why on stderr, prefixed with `prog` ("parley kb"). */
bool cli_secret_ok(const char *prog, const char *secret);
/** An admin token (sub "parley-cli") valid for 5 minutes, signed with `secret` (new string). */
char *cli_admin_token(const char *secret);
/** A CURLOPT_WRITEFUNCTION appending the body to the struct pl_buf given as CURLOPT_WRITEDATA. */
size_t cli_curl_to_buf(char *p, size_t size, size_t n, void *buf);

#endif
