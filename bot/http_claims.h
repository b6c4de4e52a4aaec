/* Claim extraction over HTTP (docs/claims.md): POST /v1/claims/extract turns a customer's text
 * into the claim of prompts/claim_schema.json, by pattern with the offline (`local`) provider,
 * else by a model call on the `extract` route, checked and asked again once when invalid. */
#ifndef PARLEY_BOT_HTTP_CLAIMS_H
#define PARLEY_BOT_HTTP_CLAIMS_H

#include "bot/http_server.h"

/* The largest claim text accepted (bytes); more is 413 too_large. */
#define HTTP_CLAIMS_TEXT_MAX (32 * 1024)
/* The most of a model's answer kept; a longer answer is an invalid one. */
#define HTTP_CLAIMS_ANSWER_MAX (64 * 1024)
#define HTTP_CLAIMS_MAX_TOKENS 1024

/** POST /v1/claims/extract: agent or admin token; body {"text":S} (application/json) or the
 *  text itself (text/plain). */
void http_claims_extract(struct http_server_req *r);

#endif
