/* DynamoDB GetItem bodies; see dynamodb_item.h. */
#include "connectors/dynamodb_item.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

static bool table_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static bool plain_table_name(const char *s, size_t len)
{
    if (len < 3 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!table_char(s[i]))
            return false;
    return true;
}

bool ddb_table_name_valid(const char *table)
{
    if (!table)
        return false;
    size_t len = strlen(table);
    if (strncmp(table, "arn:", 4) != 0)
        return plain_table_name(table, len);
    /* arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME */
    if (len > 1024)
        return false;
    const char *p = table + 4;
    for (int field = 0; field < 4; field++) {
        const char *colon = strchr(p, ':');
        if (!colon || colon == p)
            return false;
        for (const char *c = p; c < colon; c++)
            if (!table_char(*c))
                return false;
        if (field == 1 && strncmp(p, "dynamodb:", 9) != 0)
            return false;
        p = colon + 1;
    }
    if (strncmp(p, "table/", 6) != 0)
        return false;
    return plain_table_name(p + 6, strlen(p + 6));
}

bool ddb_attribute_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t len = strlen(name);
    if (len < 1 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

int ddb_get_item_body(struct pl_buf *out, const char *table, const char *attr, const char *key)
{
    if (!ddb_table_name_valid(table) || !ddb_attribute_name_valid(attr) || !key || !*key)
        return PL_EINVAL;
    int rc = pl_buf_append_str(out, "{\"TableName\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, table);
    if (!rc)
        rc = pl_buf_append_str(out, ",\"Key\":{");
    if (!rc)
        rc = pl_buf_append_json_string(out, attr);
    if (!rc)
        rc = pl_buf_append_str(out, ":{\"S\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, key);
    if (!rc)
        rc = pl_buf_append_str(out, "}},\"ConsistentRead\":false}");
    return rc;
}

/* ---- the item ---- */

struct conv {
    struct pl_buf *out;
    char *why;
    size_t whylen;
};

static int fail(struct conv *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct conv *c, int rc, const char *fmt, ...)
{
    if (c->why && c->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The output is bounded by the buffer's max: past it, the item is too large. */
static int emit(struct conv *c, const char *s, size_t n)
{
    if (pl_buf_append(c->out, s, n) != PL_OK)
        return fail(c, PL_ETOOBIG, "the item is larger than %d bytes as JSON", DDB_ITEM_MAX);
    return PL_OK;
}

static int emit_string(struct conv *c, const json_t *s)
{
    int rc = emit(c, "\"", 1);
    if (!rc && pl_buf_append_json_escaped(c->out, json_string_value(s), json_string_length(s)))
        rc = fail(c, PL_ETOOBIG, "the item is larger than %d bytes as JSON", DDB_ITEM_MAX);
    if (!rc)
        rc = emit(c, "\"", 1);
    return rc;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    return i == n;
}

/* A number's text as sent, as a JSON number; a text that is not one stays a string. */
static int emit_number(struct conv *c, const json_t *s)
{
    const char *text = json_string_value(s);
    size_t n = json_string_length(s);
    if (json_number_text(text, n))
        return emit(c, text, n);
    return emit_string(c, s);
}

static int emit_set(struct conv *c, const char *type, const json_t *arr, bool numbers)
{
    if (!json_is_array(arr))
        return fail(c, PL_EPROTO, "a %s value is not an array", type);
    int rc = emit(c, "[", 1);
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (rc)
            return rc;
        if (!json_is_string(v))
            return fail(c, PL_EPROTO, "a %s member is not a string", type);
        if (i)
            rc = emit(c, ",", 1);
        if (!rc)
            rc = numbers ? emit_number(c, v) : emit_string(c, v);
    }
    return rc ? rc : emit(c, "]", 1);
}

static int emit_value(struct conv *c, const json_t *av, int depth);

/* A map of attribute values (the item, or an M) at nesting level `depth`. */
static int emit_map(struct conv *c, const json_t *map, int depth)
{
    if (depth > DDB_DEPTH_MAX)
        return fail(c, PL_ETOOBIG, "the item nests deeper than %d levels", DDB_DEPTH_MAX);
    int rc = emit(c, "{", 1);
    bool first = true;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)map, key, v)
    {
        if (!rc && !first)
            rc = emit(c, ",", 1);
        first = false;
        if (!rc)
            rc = emit(c, "\"", 1);
        if (!rc && pl_buf_append_json_escaped(c->out, key, strlen(key)))
            rc = fail(c, PL_ETOOBIG, "the item is larger than %d bytes as JSON", DDB_ITEM_MAX);
        if (!rc)
            rc = emit(c, "\":", 2);
        if (!rc)
            rc = emit_value(c, v, depth);
        if (rc)
            return rc;
    }
    return emit(c, "}", 1);
}

static int emit_list(struct conv *c, const json_t *list, int depth)
{
    if (depth > DDB_DEPTH_MAX)
        return fail(c, PL_ETOOBIG, "the item nests deeper than %d levels", DDB_DEPTH_MAX);
    int rc = emit(c, "[", 1);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!rc && i)
            rc = emit(c, ",", 1);
        if (!rc)
            rc = emit_value(c, v, depth);
        if (rc)
            return rc;
    }
    return rc ? rc : emit(c, "]", 1);
}

/* One AttributeValue found inside a map or list of level `depth`. */
static int emit_value(struct conv *c, const json_t *av, int depth)
{
    if (!json_is_object(av) || json_object_size(av) != 1)
        return fail(c, PL_EPROTO, "an attribute value is not an object with exactly one type");
    const char *type = NULL;
    json_t *v = NULL;
    json_object_foreach((json_t *)av, type, v)
    {
        break;
    }
    if (!strcmp(type, "S") || !strcmp(type, "B")) {
        if (!json_is_string(v))
            return fail(c, PL_EPROTO, "a %s value is not a string", type);
        return emit_string(c, v);
    }
    if (!strcmp(type, "N")) {
        if (!json_is_string(v))
            return fail(c, PL_EPROTO, "an N value is not a string");
        return emit_number(c, v);
    }
    if (!strcmp(type, "BOOL")) {
        if (!json_is_boolean(v))
            return fail(c, PL_EPROTO, "a BOOL value is not true or false");
        return json_is_true(v) ? emit(c, "true", 4) : emit(c, "false", 5);
    }
    if (!strcmp(type, "NULL")) {
        if (!json_is_true(v))
            return fail(c, PL_EPROTO, "a NULL value is not true");
        return emit(c, "null", 4);
    }
    if (!strcmp(type, "M")) {
        if (!json_is_object(v))
            return fail(c, PL_EPROTO, "an M value is not an object");
        return emit_map(c, v, depth + 1);
    }
    if (!strcmp(type, "L")) {
        if (!json_is_array(v))
            return fail(c, PL_EPROTO, "an L value is not an array");
        return emit_list(c, v, depth + 1);
    }
    if (!strcmp(type, "SS") || !strcmp(type, "BS"))
        return emit_set(c, type, v, false);
    if (!strcmp(type, "NS"))
        return emit_set(c, type, v, true);
    return fail(c, PL_EPROTO, "an attribute value has an unknown type");
}

int ddb_item_from_reply(const char *body, size_t len, struct pl_buf *out, char *why, size_t whylen)
{
    struct conv c = {.out = out, .why = why, .whylen = whylen};
    if (why && whylen)
        why[0] = '\0';
    if (len > DDB_REPLY_MAX)
        return fail(&c, PL_ETOOBIG, "the reply is larger than %d bytes", DDB_REPLY_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    int rc;
    if (!json_is_object(root)) {
        rc = fail(&c, PL_EPROTO, "the reply is not a JSON object");
    } else {
        json_t *item = json_object_get(root, "Item");
        if (!item)
            rc = PL_ENOTFOUND;
        else if (!json_is_object(item))
            rc = fail(&c, PL_EPROTO, "the reply's Item is not an object");
        else
            rc = emit_map(&c, item, 1);
    }
    json_decref(root);
    return rc;
}

/* ---- errors ---- */

int ddb_error_parse(const char *body, size_t len, char *name, size_t namelen, char *message,
                    size_t messagelen)
{
    if (namelen)
        name[0] = '\0';
    if (messagelen)
        message[0] = '\0';
    if (len > DDB_REPLY_MAX)
        return PL_EPROTO;
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *type = json_string_value(json_object_get(root, "__type"));
    if (!type || !*type) {
        json_decref(root);
        return PL_EPROTO;
    }
    const char *hash = strrchr(type, '#');
    snprintf(name, namelen, "%s", hash ? hash + 1 : type);
    const char *msg = json_string_value(json_object_get(root, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(root, "Message"));
    if (msg && messagelen) {
        /* One line for the log: control characters become spaces. */
        snprintf(message, messagelen, "%s", msg);
        for (char *p = message; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
    }
    json_decref(root);
    return PL_OK;
}

bool ddb_error_retryable(const char *name, int http_status)
{
    static const char *const retryable[] = {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    };
    if (name && *name) {
        for (size_t i = 0; i < sizeof(retryable) / sizeof(retryable[0]); i++)
            if (!strcmp(name, retryable[i]))
                return true;
        if (http_status < 500)
            return false;
    }
    return http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504;
}
