/* Who may call an HTTP route: the bearer token of a request checked against a role, or against
 * one session (a caller token opens only its own session). On refusal the request has been
 * answered with the error (401 or 403). */
#ifndef PARLEY_BOT_HTTP_AUTH_H
#define PARLEY_BOT_HTTP_AUTH_H

#include <stdbool.h>

#include "bot/auth_token.h"
#include "bot/http_server.h"

/** A valid token with at least `role` (admin > agent > caller). */
bool http_auth_require(struct http_server_req *r, enum auth_role role, struct auth_claims *claims);
/** A caller token for session `sid`, or any token with at least `other_role`. */
bool http_auth_session(struct http_server_req *r, const char *sid, enum auth_role other_role,
                       struct auth_claims *claims);

#endif
