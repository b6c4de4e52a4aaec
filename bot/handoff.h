/* The handoff packet (docs/protocol.md "Takeover"): what a human agent needs when a conversation
 * comes to them, built from Redis whichever instance served it: the caller as identified, why
 * the session waits, a summary of the conversation (the summary route's model, asked now), the
 * documents the recent answers cited and the knowledge-base passages found again for the caller's
 * last question (the ones the bot's prompt held, when the index has not changed since). Told as
 * text to a Connect flow (its `summary` action) and as JSON to the agent console at takeover.
 * Loop thread only. */
#ifndef PARLEY_BOT_HANDOFF_H
#define PARLEY_BOT_HANDOFF_H

#include <stddef.h>

#include <jansson.h>

#include "bot/server.h"
#include "common/buf.h"

#define HANDOFF_ENTRIES      20  /* transcript entries read */
#define HANDOFF_SOURCES      5   /* most cited documents named */
#define HANDOFF_PASSAGES     3   /* most passages given */
#define HANDOFF_PASSAGE_TEXT 600 /* bytes of a passage's text at most (cut at a UTF-8 boundary) */

/* How the caller's policy came to be bound to the session (docs/security.md, trusted sources). */
enum handoff_identity {
    HANDOFF_NOT_IDENTIFIED, /* no policy bound */
    HANDOFF_VERIFIED,       /* a Lex verify_policy checked a second factor */
    HANDOFF_BY_FLOW,        /* a Connect contact attribute set by the flow */
    HANDOFF_BY_SIGN_IN,     /* the policy claim of the website's caller token */
};

struct handoff_doc {
    const char *source; /* "kb:FILE", "policy:N" */
    const char *title;
    const char *text; /* passages only: the passage ("" for a cited document) */
    size_t text_len;
};

/* Borrowed for the callback. */
struct handoff {
    const char *session_id;
    const char *channel;
    const char *state; /* bot, agent, waiting_agent, closed */
    const char *caller_id, *caller_name, *policy_number;
    enum handoff_identity identity;
    const char *reason; /* why it waits (or waited) for an agent; "" if it never did */
    long long waiting_since_ms;
    const char *summary;  /* NULL: none (no turn yet, or the model failed) */
    const char *question; /* the caller's last message; "" if none */
    struct handoff_doc sources[HANDOFF_SOURCES];
    size_t n_sources;
    struct handoff_doc passages[HANDOFF_PASSAGES];
    size_t n_passages;
};

/** `h` NULL when status is not PL_OK (PL_ENOTFOUND: no such session; or a storage error). */
typedef void (*handoff_cb)(void *ud, int status, const struct handoff *h);

/** Build the packet of session `sid`. `cb` runs exactly once, later, when PL_OK is returned
 *  (PL_EINVAL for a malformed sid, or Redis down: cb never runs). */
int handoff_build(struct bot_server *srv, const char *sid, handoff_cb cb, void *ud);

/** One paragraph for a contact flow: "Caller: verified, policy N. Escalated: REASON. Summary:
 *  ... Sources: TITLE (SOURCE); ...". */
void handoff_text(const struct handoff *h, struct pl_buf *out);

/** Store the packet's text in the session (fields handoff, handoff_updated: what
 *  GET /v1/sessions/{sid} shows) and give it in *text (new, always set). Returns the store's
 *  answer to the call (PL_OK: `cb`, may be NULL, runs later with the outcome). */
int handoff_store(struct bot_server *srv, const struct handoff *h, char **text,
                  void (*cb)(void *ud, int status), void *ud);

/** {"session_id","channel","state","caller":{"id","name","policy_number","identified_by"},
 *  "verified","reason","waiting_since","summary","question","sources":[{"source","title"}],
 *  "passages":[{"source","title","text"}]}; unknown strings null. New reference. */
json_t *handoff_json(const struct handoff *h);

/** "verified", "contact_flow", "sign_in" or "none". */
const char *handoff_identity_name(enum handoff_identity id);

#endif
