/* Connect contact-flow events and responses; see connect_proto.h. */
#include "connectors/connect_proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/plain_text.h"
#include "common/utf8.h"

static const char *str_or_empty(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static bool contact_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CONNECT_CONTACT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-'))
            return false;
    }
    return true;
}

static int fail(char *err, size_t errlen, const char *message)
{
    snprintf(err, errlen, "%s", message);
    return PL_EINVAL;
}

/* An optional object member: absent or null is NULL; anything but an object is refused. */
static bool object_or_null(json_t *parent, const char *key, json_t **out)
{
    json_t *v = json_object_get(parent, key);
    *out = json_is_object(v) ? v : NULL;
    return !v || json_is_null(v) || json_is_object(v);
}

int connect_event_parse(const char *body, size_t len, struct connect_event *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(err, errlen, "the body is not JSON");
    json_t *details = json_object_get(root, "Details");
    json_t *cd = json_object_get(details, "ContactData");
    const char *id = json_string_value(json_object_get(cd, "ContactId"));
    const char *initial = str_or_empty(cd, "InitialContactId");
    json_t *attributes, *parameters;
    if (!json_is_object(root)) {
        fail(err, errlen, "the body is not a JSON object (an Amazon Connect contact-flow event)");
    } else if (!json_is_object(cd)) {
        fail(err, errlen, "Details.ContactData is missing (an Amazon Connect contact-flow event)");
    } else if (!id || !contact_id_valid(id)) {
        fail(err, errlen,
             "Details.ContactData.ContactId must be 1 to 256 characters of A-Z a-z 0-9 -");
    } else if (*initial && !contact_id_valid(initial)) {
        fail(err, errlen,
             "Details.ContactData.InitialContactId must be 1 to 256 characters of A-Z a-z 0-9 -");
    } else if (!object_or_null(cd, "Attributes", &attributes)) {
        fail(err, errlen, "Details.ContactData.Attributes must be an object of strings");
    } else if (!object_or_null(details, "Parameters", &parameters)) {
        fail(err, errlen, "Details.Parameters must be an object of strings");
    } else {
        out->root = root;
        out->contact_id = id;
        out->initial_contact_id = initial;
        out->previous_contact_id = str_or_empty(cd, "PreviousContactId");
        out->channel = str_or_empty(cd, "Channel");
        out->initiation_method = str_or_empty(cd, "InitiationMethod");
        json_t *customer = json_object_get(cd, "CustomerEndpoint");
        out->customer_address = str_or_empty(customer, "Address");
        out->customer_type = str_or_empty(customer, "Type");
        json_t *queue = json_object_get(cd, "Queue");
        out->queue_name =
            json_is_string(queue) ? json_string_value(queue) : str_or_empty(queue, "Name");
        out->attributes = attributes;
        out->parameters = parameters;
        return PL_OK;
    }
    json_decref(root);
    return PL_EINVAL;
}

void connect_event_cleanup(struct connect_event *e)
{
    json_decref(e->root);
    memset(e, 0, sizeof(*e));
}

const char *connect_event_conversation_id(const struct connect_event *e)
{
    return *e->initial_contact_id ? e->initial_contact_id : e->contact_id;
}

bool connect_event_is_voice(const struct connect_event *e)
{
    return strcasecmp(e->channel, "VOICE") == 0;
}

const char *connect_event_parameter(const struct connect_event *e, const char *name)
{
    return e->parameters ? json_string_value(json_object_get(e->parameters, name)) : NULL;
}

const char *connect_event_attribute(const struct connect_event *e, const char *name)
{
    return e->attributes ? json_string_value(json_object_get(e->attributes, name)) : NULL;
}

char *connect_plain_text(const char *s, size_t len)
{
    return pl_plain_text(s, len);
}

/* ---- the response ---- */

static char *dump(const struct connect_pair *pairs, char **values, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        if (values[i])
            json_object_set_new(o, pairs[i].key, json_string(values[i]));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Cut values[k] by at least `drop` bytes at a word end (at a UTF-8 boundary when there is no
 * space), ending it with "...". */
static void shorten(char **values, size_t k, size_t drop)
{
    char *v = values[k];
    size_t len = strlen(v);
    size_t keep = len > drop + 3 ? len - drop - 3 : 0;
    while (keep > 0 && ((unsigned char)v[keep] & 0xC0) == 0x80)
        keep--; /* not inside a sequence */
    size_t word = keep;
    while (word > 0 && v[word] != ' ')
        word--;
    if (word > keep / 2)
        keep = word; /* a word end not too far back */
    while (keep > 0 && (v[keep - 1] == ' ' || v[keep - 1] == ',' || v[keep - 1] == ';'))
        keep--;
    if (keep == 0) {
        v[0] = '\0';
        return;
    }
    memcpy(v + keep, "...", 4);
}

char *connect_response_json(const struct connect_pair *pairs, size_t n, size_t max_bytes,
                            size_t *len, bool *cut)
{
    *cut = false;
    if (max_bytes == 0)
        max_bytes = CONNECT_RESPONSE_MAX_BYTES;
    char **values = pl_calloc(n ? n : 1, sizeof(*values));
    for (size_t i = 0; i < n; i++)
        values[i] =
            pairs[i].value ? connect_plain_text(pairs[i].value, strlen(pairs[i].value)) : NULL;
    char *out = NULL;
    for (;;) {
        char *text = dump(pairs, values, n);
        size_t tl = text ? strlen(text) : 0;
        if (text && tl < max_bytes) {
            out = pl_strdup(text);
            *len = tl;
            free(text);
            break;
        }
        free(text);
        size_t longest = n, most = 0;
        for (size_t i = 0; i < n; i++) {
            size_t l = values[i] ? strlen(values[i]) : 0;
            if (l > most) {
                most = l;
                longest = i;
            }
        }
        if (longest == n)
            break; /* nothing left to cut */
        shorten(values, longest, tl - max_bytes + 1);
        *cut = true;
    }
    for (size_t i = 0; i < n; i++)
        pl_free(values[i]);
    pl_free(values);
    return out;
}
