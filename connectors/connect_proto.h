/* Amazon Connect contact-flow events and responses (PROTOCOLS.md section 5): the validating
 * reader of the event a flow's "Invoke AWS Lambda function" block sends (which parley-lambda
 * forwards unchanged), and the writer of the flat map of strings the block takes back, under
 * Connect's size limit, its values plain text a prompt can read. Unknown fields are ignored;
 * endpoints and the queue may be null, and the queue an object or a plain string. Pure
 * functions with no I/O; fuzzed by tests/fuzz/fuzz_connect_event.c. */
#ifndef PARLEY_CONNECTORS_CONNECT_PROTO_H
#define PARLEY_CONNECTORS_CONNECT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* A response must stay under 32 KB of UTF-8 (PROTOCOLS.md 5.2); a little is kept back. */
#define CONNECT_RESPONSE_MAX_BYTES 32000
/* A contact id: 1 to 256 of A-Z a-z 0-9 - (Connect's are UUIDs). */
#define CONNECT_CONTACT_ID_MAX 256

/* A read event. Strings are borrowed from `root` (never NULL: "" when absent or null). */
struct connect_event {
    json_t *root; /* owned */
    const char *contact_id;
    const char *initial_contact_id; /* the contact that began the conversation ("" if none) */
    const char *previous_contact_id;
    const char *channel;           /* VOICE, CHAT, EMAIL, TASK, ... as sent */
    const char *initiation_method; /* INBOUND, TRANSFER, ... */
    const char *customer_address;  /* CustomerEndpoint.Address: a phone number, ... */
    const char *customer_type;     /* CustomerEndpoint.Type */
    const char *queue_name;        /* Queue.Name, or Queue when a string */
    json_t *attributes;            /* ContactData.Attributes (string values), or NULL */
    json_t *parameters;            /* Details.Parameters (string values), or NULL */
};

/** Read the `len` bytes of `body`. PL_OK with `out` (free with connect_event_cleanup), or
 *  PL_EINVAL with a message for the sender in `err`: not JSON, not an object, no
 *  Details.ContactData, a missing or malformed ContactId (or InitialContactId), Attributes or
 *  Parameters that are not objects. */
int connect_event_parse(const char *body, size_t len, struct connect_event *out, char *err,
                        size_t errlen);
void connect_event_cleanup(struct connect_event *e);

/** The id the conversation is kept under: the InitialContactId (a transferred contact stays
 *  one conversation), else the ContactId. Borrowed. */
const char *connect_event_conversation_id(const struct connect_event *e);
/** True for a voice contact (Channel VOICE, in any case). */
bool connect_event_is_voice(const struct connect_event *e);
/** The string parameter or contact attribute `name`, or NULL (absent or not a string).
 *  Borrowed. */
const char *connect_event_parameter(const struct connect_event *e, const char *name);
const char *connect_event_attribute(const struct connect_event *e, const char *name);

struct connect_pair {
    const char *key;   /* [A-Za-z0-9_]: becomes $.External.<key> */
    const char *value; /* UTF-8; NULL leaves the pair out */
};

/** The response: a flat JSON object of the pairs (new string; `*len` its length), each value
 *  made plain text a prompt can read (connect_plain_text), the whole under `max_bytes`
 *  (CONNECT_RESPONSE_MAX_BYTES when 0): while it is longer, the longest value is cut at a word
 *  end and ends with "...", and `*cut` says so. NULL only when even empty values do not fit. */
char *connect_response_json(const struct connect_pair *pairs, size_t n, size_t max_bytes,
                            size_t *len, bool *cut);

/** `len` bytes of text as plain text for a Connect prompt or a contact attribute (new string):
 *  Markdown marks (** __ ` and heading #s, list bullets) left out, control characters and line
 *  breaks turned into spaces, runs of spaces made one, no space at either end; bytes that are
 *  not UTF-8 left out. */
char *connect_plain_text(const char *s, size_t len);

#endif
