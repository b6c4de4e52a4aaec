/* libFuzzer target for DynamoDB GetItem replies (connectors/dynamodb_item.h): the body comes from
 * DynamoDB, a VPC endpoint or anything that answers at the configured endpoint. The input is
 * read three ways:
 *   1. as a reply: only PL_OK, PL_ENOTFOUND, PL_EPROTO or PL_ETOOBIG; on PL_OK the output is a
 *      JSON object of at most DDB_ITEM_MAX bytes with as many members as the reply's Item; a
 *      failure says why in one terminated line; the same answer twice;
 *   2. as a plain JSON document: marshalled into AttributeValue JSON here (strings S, numbers
 *      N with their text, booleans BOOL, null NULL, objects M, arrays L), converted back, it is
 *      the same document (unless it is too deep or too large);
 *   3. as an error body: the name has no '#', and both strings are terminated. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/dynamodb_item.h"
#include "tests/fuzz/fuzz_check.h"

static void check_reply(const char *body, size_t len)
{
    struct pl_buf out, again;
    pl_buf_init(&out, DDB_ITEM_MAX);
    pl_buf_init(&again, DDB_ITEM_MAX);
    char why[256], why2[256];
    int rc = ddb_item_from_reply(body, len, &out, why, sizeof why);
    int rc2 = ddb_item_from_reply(body, len, &again, why2, sizeof why2);
    CHECK(rc == rc2);
    CHECK(rc == PL_OK || rc == PL_ENOTFOUND || rc == PL_EPROTO || rc == PL_ETOOBIG);
    CHECK(memchr(why, '\0', sizeof why) != NULL);
    CHECK(!strchr(why, '\n'));
    if (rc == PL_EPROTO || rc == PL_ETOOBIG)
        CHECK(why[0] != '\0' && strcmp(why, why2) == 0);
    if (rc == PL_OK) {
        CHECK(out.len == again.len && memcmp(out.data, again.data, out.len) == 0);
        CHECK(out.len <= DDB_ITEM_MAX);
        json_error_t e;
        /* Number texts are kept whole: one past what jansson holds (1e999) is still JSON. */
        json_t *plain = json_loadb(out.data, out.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
        if (!plain) {
            CHECK(strstr(e.text, "overflow") != NULL);
            pl_buf_cleanup(&out);
            pl_buf_cleanup(&again);
            return;
        }
        CHECK(json_is_object(plain));
        json_t *reply = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
        CHECK(json_object_size(plain) == json_object_size(json_object_get(reply, "Item")));
        json_decref(reply);
        json_decref(plain);
    }
    pl_buf_cleanup(&out);
    pl_buf_cleanup(&again);
}

/* A plain JSON value as an AttributeValue. */
static json_t *marshal(json_t *v)
{
    json_t *av = json_object();
    switch (json_typeof(v)) {
    case JSON_STRING:
        json_object_set_new(av, "S", json_stringn(json_string_value(v), json_string_length(v)));
        break;
    case JSON_INTEGER:
    case JSON_REAL: {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        json_object_set_new(av, "N", json_string(text));
        free(text);
        break;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        json_object_set_new(av, "BOOL", json_boolean(json_is_true(v)));
        break;
    case JSON_NULL:
        json_object_set_new(av, "NULL", json_true());
        break;
    case JSON_OBJECT: {
        json_t *m = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            json_object_set_new(m, k, marshal(x));
        }
        json_object_set_new(av, "M", m);
        break;
    }
    case JSON_ARRAY: {
        json_t *l = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(l, marshal(x));
        }
        json_object_set_new(av, "L", l);
        break;
    }
    }
    return av;
}

static void check_round_trip(const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    json_t *item = marshal(doc); /* {"M":{...}} */
    json_t *reply = json_pack("{s:O}", "Item", json_object_get(item, "M"));
    char *text = json_dumps(reply, JSON_COMPACT);
    if (text) {
        struct pl_buf out;
        pl_buf_init(&out, DDB_ITEM_MAX);
        int rc = ddb_item_from_reply(text, strlen(text), &out, NULL, 0);
        CHECK(rc == PL_OK || rc == PL_ETOOBIG);
        if (rc == PL_OK) {
            json_t *back = json_loadb(out.data, out.len, JSON_ALLOW_NUL, NULL);
            CHECK(back && json_equal(back, doc));
            json_decref(back);
        }
        pl_buf_cleanup(&out);
        free(text);
    }
    json_decref(reply);
    json_decref(item);
    json_decref(doc);
}

static void check_error(const char *body, size_t len)
{
    char name[DDB_ERROR_NAME_MAX], msg[DDB_ERROR_MESSAGE_MAX];
    int rc = ddb_error_parse(body, len, name, sizeof name, msg, sizeof msg);
    CHECK(rc == PL_OK || rc == PL_EPROTO);
    CHECK(memchr(name, '\0', sizeof name) && memchr(msg, '\0', sizeof msg));
    CHECK(!strchr(name, '#'));
    for (const char *p = msg; *p; p++)
        CHECK((unsigned char)*p >= 0x20);
    if (rc == PL_EPROTO)
        CHECK(name[0] == '\0');
    (void)ddb_error_retryable(name, 400);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = pl_malloc(size ? size : 1); /* a copy, unterminated */
    memcpy(body, data, size);
    check_reply(body, size);
    check_round_trip(body, size);
    check_error(body, size);
    pl_free(body);
    return 0;
}
