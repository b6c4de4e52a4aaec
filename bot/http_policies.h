/* Policy records over HTTP (docs/protocol.md "Policy records"): PUT /v1/policies/{number} for
 * admins, GET /v1/policies/{number} for agents and admins. A record is a JSON object of at most
 * 64 KiB; a policy_number field in it, if any, must be the path's number. */
#ifndef PARLEY_BOT_HTTP_POLICIES_H
#define PARLEY_BOT_HTTP_POLICIES_H

#include "bot/http_server.h"

/** /v1/policies/{number}: `number` is the path after "/v1/policies/". */
void http_policies_route(struct http_server_req *r, const char *number);

#endif
