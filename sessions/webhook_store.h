/* What the webhooks (POST /v1/lex, /v1/connect; docs/lex-connect.md) keep in Redis: signatures
 * accepted within the replay window, and the session of an outside conversation (a Lex
 * sessionId, a Connect InitialContactId) with what the channel brought: the caller's phone
 * number, the contact attributes, the turn whose answer the channel has not been given yet.
 * docs/redis-keys.md lists the keys and fields. Loop thread only; a call that returns an error
 * never runs its callback, one that returns PL_OK runs it exactly once. */
#ifndef PARLEY_SESSIONS_WEBHOOK_STORE_H
#define PARLEY_SESSIONS_WEBHOOK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessions/session_store.h"

/** Remember signature `sig` (hex) for `ttl_s` seconds unless it was remembered before (SET NX
 *  EX on parley:webhook:sig:{SIG}): `cb` gets PL_OK (new: accept), PL_EBUSY (a replay) or a
 *  storage error. */
int hook_signature_remember(struct sess_store *s, const char *sig, uint32_t ttl_s,
                            void (*cb)(void *ud, int status), void *ud);

/* The session of an outside conversation, as a webhook event opens it. */
struct hook_session_open {
    const char *sid;          /* derived from the conversation's id (bot/webhook_session.h) */
    const char *channel;      /* the channel given to a new session: lex, voice, chat, ... */
    const char *kind;         /* "lex" or "connect" */
    const char *external_id;  /* the conversation's own id */
    const char *caller_phone; /* nullable: kept as the session's caller_phone */
    const char *attributes;   /* nullable: a JSON object kept as contact_attributes */
    const char *tenant;       /* whose usage it counts to; NULL: anonymous */
    uint32_t ttl_s;           /* the session's retention (--session-ttl) */
    bool existing_only;       /* never create: PL_ENOTFOUND when there is no such session */
};

/* The session as the event found it. */
struct hook_session {
    bool created;   /* this event made it */
    long pending;   /* a turn whose answer the channel was not given yet (0: none) */
    char state[16]; /* bot, waiting_agent, ... */
    char channel[16];
    char policy_number[65];      /* "" until bound */
    bool verified;               /* a verify_policy intent succeeded in it */
    char escalation_reason[256]; /* why it waits for an agent ("" if it does not) */
};
typedef void (*hook_session_cb)(void *ud, int status, const struct hook_session *hs);

/** Get or create the session in one script (two first events at once make one session), keep
 *  the phone number and attributes given, refresh its expiry. PL_ENOTFOUND only with
 *  existing_only. */
int hook_session_open(struct sess_store *s, const struct hook_session_open *o, hook_session_cb cb,
                      void *ud);

/** Set `n` fields (names[i] = values[i]) of existing session `sid`: PL_OK, PL_ENOTFOUND (no
 *  such session: nothing set) or a storage error. For the webhook fields only (hook_pending,
 *  hook_verified, state, escalation_reason, handoff, handoff_updated). `cb` may be NULL. */
int hook_session_set(struct sess_store *s, const char *sid, const char *const *names,
                     const char *const *values, size_t n, void (*cb)(void *ud, int status),
                     void *ud);

/** The session's handoff packet (the last Connect `summary`): `cb` gets PL_OK with the text
 *  (borrowed for the call; NULL when there is none) or a storage error. */
int hook_session_handoff(struct sess_store *s, const char *sid,
                         void (*cb)(void *ud, int status, const char *text, size_t len), void *ud);

#endif
