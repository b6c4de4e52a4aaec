/* Lex V2 events and responses; see lex_proto.h. */
#include "connectors/lex_proto.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/text_split.h"
#include "common/utf8.h"

/* "<speak>" and "</speak>" around every SSML message. */
#define SSML_WRAP_CHARS 15

static const char *str_or_empty(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static bool session_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > LEX_SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static int fail(char *err, size_t errlen, const char *message)
{
    snprintf(err, errlen, "%s", message);
    return PL_EINVAL;
}

int lex_event_parse(const char *body, size_t len, struct lex_event *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(err, errlen, "the body is not JSON");
    out->root = root;
    int rc = PL_EINVAL;
    if (!json_is_object(root)) {
        fail(err, errlen, "the body is not a JSON object (a Lex V2 code-hook event)");
        goto bad;
    }
    const char *sid = json_string_value(json_object_get(root, "sessionId"));
    if (!sid || !session_id_valid(sid)) {
        fail(err, errlen,
             "sessionId must be 2 to 100 characters of A-Z a-z 0-9 . _ : - (a Lex V2 event)");
        goto bad;
    }
    const char *source = json_string_value(json_object_get(root, "invocationSource"));
    if (source && strcmp(source, "DialogCodeHook") == 0) {
        out->source = LEX_DIALOG_CODE_HOOK;
    } else if (source && strcmp(source, "FulfillmentCodeHook") == 0) {
        out->source = LEX_FULFILLMENT_CODE_HOOK;
    } else {
        fail(err, errlen, "invocationSource must be DialogCodeHook or FulfillmentCodeHook");
        goto bad;
    }
    json_t *state = json_object_get(root, "sessionState");
    json_t *intent = json_object_get(state, "intent");
    if (!json_is_object(state) || !json_is_object(intent)) {
        fail(err, errlen, "sessionState.intent is missing (a Lex V2 event)");
        goto bad;
    }
    const char *name = json_string_value(json_object_get(intent, "name"));
    if (!name || !*name) {
        fail(err, errlen, "sessionState.intent.name is missing");
        goto bad;
    }
    json_t *slots = json_object_get(intent, "slots");
    if (slots && !json_is_object(slots) && !json_is_null(slots)) {
        fail(err, errlen, "sessionState.intent.slots must be an object");
        goto bad;
    }
    json_t *attrs = json_object_get(state, "sessionAttributes");
    if (attrs && !json_is_null(attrs)) {
        if (!json_is_object(attrs)) {
            fail(err, errlen, "sessionState.sessionAttributes must be an object of strings");
            goto bad;
        }
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v)
        {
            if (!json_is_string(v)) {
                fail(err, errlen, "sessionState.sessionAttributes must be an object of strings");
                goto bad;
            }
        }
        out->session_attributes = attrs;
    }
    const char *mode = json_string_value(json_object_get(root, "inputMode"));
    out->input_mode = mode && strcmp(mode, "Speech") == 0 ? LEX_INPUT_SPEECH
                      : mode && strcmp(mode, "DTMF") == 0 ? LEX_INPUT_DTMF
                                                          : LEX_INPUT_TEXT;
    out->session_id = sid;
    out->input_transcript = str_or_empty(root, "inputTranscript");
    json_t *bot = json_object_get(root, "bot");
    out->locale_id = str_or_empty(bot, "localeId");
    out->bot_name = str_or_empty(bot, "name");
    out->intent_name = name;
    out->intent_state = str_or_empty(intent, "state");
    out->confirmation_state = str_or_empty(intent, "confirmationState");
    out->slots = json_is_object(slots) ? slots : NULL;
    return PL_OK;
bad:
    json_decref(root);
    memset(out, 0, sizeof(*out));
    return rc;
}

void lex_event_cleanup(struct lex_event *e)
{
    json_decref(e->root);
    memset(e, 0, sizeof(*e));
}

/* interpretedValue, else originalValue, of a slot value object. */
static const char *value_text(json_t *value)
{
    const char *s = json_string_value(json_object_get(value, "interpretedValue"));
    if (!s || !*s)
        s = json_string_value(json_object_get(value, "originalValue"));
    return s && *s ? s : NULL;
}

const char *lex_event_slot(const struct lex_event *e, const char *name)
{
    json_t *slot = e->slots ? json_object_get(e->slots, name) : NULL;
    if (!json_is_object(slot))
        return NULL;
    const char *shape = json_string_value(json_object_get(slot, "shape"));
    if (shape && strcmp(shape, "List") == 0) {
        json_t *values = json_object_get(slot, "values");
        return value_text(json_object_get(json_array_get(values, 0), "value"));
    }
    if (shape && strcmp(shape, "Scalar") != 0)
        return NULL; /* Composite: its subSlots are for the flow */
    return value_text(json_object_get(slot, "value"));
}

const char *lex_event_attribute(const struct lex_event *e, const char *name)
{
    return e->session_attributes ? json_string_value(json_object_get(e->session_attributes, name))
                                 : NULL;
}

static const char *action_name(enum lex_action a)
{
    switch (a) {
    case LEX_CLOSE:
        return "Close";
    case LEX_ELICIT_INTENT:
        return "ElicitIntent";
    case LEX_ELICIT_SLOT:
        return "ElicitSlot";
    case LEX_CONFIRM_INTENT:
        return "ConfirmIntent";
    case LEX_DELEGATE:
        return "Delegate";
    }
    return "Close";
}

/* `len` bytes of text XML-escaped (for SSML), a new string. */
static char *xml_escaped(const char *s, size_t len)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append(&b, "", 0);
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&':
            pl_buf_append_str(&b, "&amp;");
            break;
        case '<':
            pl_buf_append_str(&b, "&lt;");
            break;
        case '>':
            pl_buf_append_str(&b, "&gt;");
            break;
        case '"':
            pl_buf_append_str(&b, "&quot;");
            break;
        case '\'':
            pl_buf_append_str(&b, "&apos;");
            break;
        default:
            pl_buf_append(&b, s + i, 1);
        }
    }
    return pl_buf_take(&b);
}

/* Characters of the SSML form of `len` bytes of valid UTF-8 text. */
static size_t ssml_chars(const char *s, size_t len)
{
    char *esc = xml_escaped(s, len);
    size_t n = pl_utf8_count(esc, strlen(esc)) + SSML_WRAP_CHARS;
    pl_free(esc);
    return n;
}

/* One message object for `len` bytes of valid UTF-8 that fit the limit. */
static json_t *message(const char *s, size_t len, bool ssml)
{
    if (!ssml)
        return json_pack("{s:s,s:s%}", "contentType", "PlainText", "content", s, len);
    char *esc = xml_escaped(s, len);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, "<speak>");
    pl_buf_append_str(&b, esc);
    pl_buf_append_str(&b, "</speak>");
    pl_free(esc);
    char *text = pl_buf_take(&b);
    json_t *m = json_pack("{s:s,s:s}", "contentType", "SSML", "content", text);
    pl_free(text);
    return m;
}

/* Append the messages of `len` bytes of `s` to `messages`, each as long as Lex allows: the
 * next piece is cut at the limit, and cut again shorter while its SSML form (escaping makes it
 * longer) passes the limit. False when LEX_MESSAGES_MAX is reached with text left. */
static bool add_messages(json_t *messages, const char *s, size_t len, bool ssml)
{
    const size_t limit = LEX_MESSAGE_MAX_CHARS - (ssml ? SSML_WRAP_CHARS : 0);
    size_t pos = 0;
    while (pos < len) {
        struct text_span sp;
        size_t window = limit;
        if (text_split(s + pos, len - pos, window, &sp, 1) == 0)
            return true; /* only spaces left */
        bool valid = pl_utf8_valid(s + pos + sp.off, sp.len);
        while (valid && ssml && window > 1) {
            size_t chars = ssml_chars(s + pos + sp.off, sp.len);
            if (chars <= LEX_MESSAGE_MAX_CHARS)
                break;
            /* Leaving out k characters shortens the SSML by k or more. */
            size_t over = chars - LEX_MESSAGE_MAX_CHARS;
            window = window > over + 1 ? window - over : 1;
            text_split(s + pos, len - pos, window, &sp, 1);
        }
        if (json_array_size(messages) == LEX_MESSAGES_MAX)
            return false;
        if (valid) /* text that is not UTF-8 cannot be sent: left out */
            json_array_append_new(messages, message(s + pos + sp.off, sp.len, ssml));
        pos += sp.off + sp.len;
    }
    return true;
}

char *lex_response_json(const struct lex_event *e, const struct lex_response *r, size_t *len,
                        bool *cut)
{
    *cut = false;
    json_t *messages = json_array();
    if (r->text && r->text_len) {
        *cut = !add_messages(messages, r->text, r->text_len, r->ssml);
    }
    if ((r->action == LEX_ELICIT_INTENT || r->action == LEX_CONFIRM_INTENT) &&
        json_array_size(messages) == 0) {
        json_decref(messages);
        return NULL;
    }
    json_t *attrs = json_object();
    if (e->session_attributes)
        json_object_update(attrs, e->session_attributes);
    for (size_t i = 0; i < r->n_set; i++)
        json_object_set_new(attrs, r->set[i].name, json_string(r->set[i].value));
    json_t *action = json_pack("{s:s}", "type", action_name(r->action));
    json_t *slots = e->slots ? json_deep_copy(e->slots) : json_object();
    if (r->action == LEX_ELICIT_SLOT && r->slot_to_elicit) {
        json_object_set_new(action, "slotToElicit", json_string(r->slot_to_elicit));
        if (r->clear_slot_to_elicit)
            json_object_set_new(slots, r->slot_to_elicit, json_null());
    }
    /* Lex needs the intent's state: the one given, else the event's, else what the action
     * implies (a Close ends the intent fulfilled; anything else keeps it going). */
    const char *state = r->intent_state && *r->intent_state ? r->intent_state : e->intent_state;
    if (!state || !*state)
        state = r->action == LEX_CLOSE ? "Fulfilled" : "InProgress";
    json_t *intent =
        json_pack("{s:s,s:o,s:s}", "name", e->intent_name, "slots", slots, "state", state);
    json_t *root = json_pack("{s:{s:o,s:o,s:o}}", "sessionState", "sessionAttributes", attrs,
                             "dialogAction", action, "intent", intent);
    if (json_array_size(messages))
        json_object_set_new(root, "messages", messages);
    else
        json_decref(messages);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *out = text ? pl_strdup(text) : NULL;
    free(text);
    if (out)
        *len = strlen(out);
    return out;
}
