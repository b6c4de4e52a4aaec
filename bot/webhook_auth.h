/* Authentication of the signed webhooks POST /v1/lex and /v1/connect (API.md "Signed
 * webhooks", docs/security.md), shared by both: the endpoints are on only with
 * --webhook-secret; a request must carry a v1 signature of its raw body made with that secret
 * at a timestamp within WEBHOOK_TOLERANCE_S of the server's clock (bot/webhook_sig.h), and a
 * signature accepted once is refused again (remembered in Redis for the window:
 * sessions/webhook_store.h). Every refusal is answered here, from the one error table, with a
 * message saying what is wrong; nothing is stored for it. Also: the session id an outside
 * conversation maps to, and a phone number as logs may show it. Loop thread only. */
#ifndef PARLEY_BOT_WEBHOOK_AUTH_H
#define PARLEY_BOT_WEBHOOK_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/config.h"
#include "bot/http_server.h"
#include "bot/webhook_sig.h"
#include "sessions/session_store.h"

/* Largest webhook body (Lex V1 took 12 KB in; V2 events with many slots and attributes are
 * larger, but not by this much). */
#define WEBHOOK_BODY_MAX (128 * 1024)
/* How long an accepted signature is remembered: a timestamp at the edge of the window is
 * accepted until WEBHOOK_TOLERANCE_S after it, so twice the tolerance covers every replay. */
#define WEBHOOK_REPLAY_TTL_S (2 * WEBHOOK_TOLERANCE_S)

/** The first, synchronous check of request `r` to `endpoint` ("lex", "connect"): the
 *  webhooks on, the headers present, the signature matching, the timestamp fresh. True with
 *  `matched` set (to remember), or false once the refusal has been answered (404 when off, 401
 *  otherwise). */
bool webhook_auth_verify(struct http_server_req *r, const char *endpoint,
                         char matched[WEBHOOK_SIG_HEX_LEN + 1]);

/** The second check: remember `matched` unless it was accepted before. `done` runs exactly
 *  once (before this returns when Redis cannot be asked) with `ok` true when it is new and the
 * client is still there; with false the refusal (401 for a replay, 503 for storage) is answered
 * already. Holds a reference to `r` until `done` has run. */
void webhook_auth_remember(struct http_server_req *r, const char *endpoint,
                           const char matched[WEBHOOK_SIG_HEX_LEN + 1],
                           void (*done)(struct http_server_req *r, void *ud, bool ok), void *ud);

/** The key that names webhook sessions: --webhook-session-key, else --webhook-secret. */
const char *webhook_session_key(const struct bot_config *cfg);

/** The session id of outside conversation `external_id` of `kind` ("lex", "connect"): the
 *  first 128 bits of HMAC-SHA256(`secret`, kind "." id) in hex, `secret` the session key
 *  (webhook_session_key). The same conversation gives the same session on every instance;
 *  nobody without the key can name it. */
void webhook_session_id(const char *secret, const char *kind, const char *external_id,
                        char out[SESS_ID_LEN + 1]);

/** A phone number (or any caller address) as logs may show it: its last 4 characters after
 *  asterisks ("***4567"); 4 or fewer: all asterisks. */
void webhook_mask_phone(const char *phone, char *out, size_t cap);

#endif
