/* POST /v1/lex (docs/lex-connect.md): an Amazon Lex V2 code-hook event in (as parley-lambda
 * forwards it, signed: bot/webhook_auth.h), a Lex V2 response out. The Lex sessionId is a
 * Parley session; each intent does what --lex-intents says (bot/lex_intents.h): answer through
 * the turn engine within --lex-time-budget-ms (else the holding message, and the answer with
 * the next event), verify a policy, escalate, or delegate. */
#ifndef PARLEY_BOT_HTTP_LEX_H
#define PARLEY_BOT_HTTP_LEX_H

#include "bot/http_server.h"

/* Said when the caller's words did not come through (an empty transcript). */
#define LEX_NOT_HEARD "Sorry, I did not catch that. Could you say it again?"
/* Most undelivered turns read for one event (the rest come with the next), and most bytes of
 * answers said in one response (Lex takes 10 messages of 1024 characters). */
#define LEX_DELIVER_MAX 5
#define LEX_TEXT_MAX    (64 * 1024)
/* Said when the words are longer than --max-message-chars. */
#define LEX_TOO_LONG "Sorry, that was too long for me. Could you say it in fewer words?"
/* Said when a turn failed or the message could not be taken: Lex gets a valid answer. */
#define LEX_FAILED "Sorry, I cannot answer that right now. Please try again in a moment."

void http_lex_post(struct http_server_req *r);

#endif
