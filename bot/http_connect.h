/* POST /v1/connect (docs/lex-connect.md): an Amazon Connect contact-flow event in (as
 * parley-lambda forwards it, signed: bot/webhook_auth.h), a flat map of plain-text strings out
 * for the flow's $.External. The InitialContactId is a Parley session; Parameters.action says
 * what to do: ask, poll, summary, escalate. */
#ifndef PARLEY_BOT_HTTP_CONNECT_H
#define PARLEY_BOT_HTTP_CONNECT_H

#include "bot/http_server.h"

void http_connect_post(struct http_server_req *r);

#endif
