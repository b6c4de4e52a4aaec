/* Amazon Lex V2 code-hook events and responses (PROTOCOLS.md section 4):
 * the validating reader of the event Lex sends a Lambda function (which parley-lambda forwards
 * unchanged), and the writer of the response Lex takes back. Unknown fields are ignored, as Lex
 * adds fields without a version change; slots may be null and of any shape. Pure functions
 * with no I/O; fuzzed by tests/fuzz/fuzz_lex_event.c. */
#ifndef PARLEY_CONNECTORS_LEX_PROTO_H
#define PARLEY_CONNECTORS_LEX_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Lex's limits on a response message (PROTOCOLS.md 4.2): 1 to 1024 characters of content, and
 * at most 10 messages in a response. */
#define LEX_MESSAGE_MAX_CHARS 1024
#define LEX_MESSAGES_MAX      10
/* sessionId: 2 to 100 of [0-9A-Za-z._:-] (Lex's own pattern). */
#define LEX_SESSION_ID_MAX 100

enum lex_source { LEX_DIALOG_CODE_HOOK, LEX_FULFILLMENT_CODE_HOOK };
enum lex_input_mode { LEX_INPUT_TEXT, LEX_INPUT_SPEECH, LEX_INPUT_DTMF };

/* A read event. Strings are borrowed from `root` (never NULL: "" when absent). */
struct lex_event {
    json_t *root; /* owned */
    enum lex_source source;
    enum lex_input_mode input_mode; /* a mode Lex adds later reads as text */
    const char *session_id;
    const char *input_transcript;
    const char *locale_id;   /* bot.localeId */
    const char *bot_name;    /* bot.name */
    const char *intent_name; /* sessionState.intent.name */
    const char *intent_state;
    const char *confirmation_state;
    json_t *slots;              /* sessionState.intent.slots: an object, or NULL; borrowed */
    json_t *session_attributes; /* sessionState.sessionAttributes (strings only), or NULL */
};

/** Read the `len` bytes of `body`. PL_OK with `out` (free with lex_event_cleanup), or
 *  PL_EINVAL with a message for the sender in `err`: not JSON, not an object, a missing or
 *  malformed sessionId, invocationSource, sessionState or sessionState.intent.name, a
 *  sessionAttributes value that is not a string. */
int lex_event_parse(const char *body, size_t len, struct lex_event *out, char *err, size_t errlen);
void lex_event_cleanup(struct lex_event *e);

/** The value of slot `name`: its interpretedValue, else its originalValue (the first value of
 *  a List slot); NULL when the slot is absent, null, unfilled or Composite. Borrowed. */
const char *lex_event_slot(const struct lex_event *e, const char *name);
/** The session attribute `name`, or NULL. Borrowed. */
const char *lex_event_attribute(const struct lex_event *e, const char *name);

enum lex_action {
    LEX_CLOSE,
    LEX_ELICIT_INTENT,
    LEX_ELICIT_SLOT,
    LEX_CONFIRM_INTENT,
    LEX_DELEGATE,
};

struct lex_attribute {
    const char *name;
    const char *value;
};

struct lex_response {
    enum lex_action action;
    const char *intent_state;   /* "Fulfilled", "Failed", "InProgress", ...; NULL: the event's */
    const char *slot_to_elicit; /* LEX_ELICIT_SLOT */
    bool clear_slot_to_elicit;  /* LEX_ELICIT_SLOT: send that slot back as null (re-ask) */
    const char *text;           /* the answer (UTF-8), or NULL for no messages */
    size_t text_len;
    bool ssml;                       /* each message <speak>...</speak>, its text XML-escaped */
    const struct lex_attribute *set; /* session attributes to set over the event's */
    size_t n_set;
};

/** The response for event `e` as compact JSON (new string; `*len` its length): sessionState
 *  with the event's session attributes plus `r->set`, the dialogAction, the intent (name and
 *  slots of the event, the state given; no confirmationState, which @types/aws-lambda's
 *  LexV2Result does not have and no action here needs), and the text as messages of at
 *  most LEX_MESSAGE_MAX_CHARS characters each (common/text_split.h), at most LEX_MESSAGES_MAX
 *  of them: what does not fit is left out and `*cut` says so. ElicitIntent and ConfirmIntent
 *  need a message: with no text, NULL is returned. */
char *lex_response_json(const struct lex_event *e, const struct lex_response *r, size_t *len,
                        bool *cut);

#endif
