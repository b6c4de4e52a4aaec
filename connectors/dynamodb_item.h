/* Amazon DynamoDB's JSON 1.0 protocol for GetItem (PROTOCOLS.md 6F), I/O-free: the request
 * body, the reply's item turned from AttributeValue JSON into the plain JSON object a prompt
 * shows, and an error body's exception name. The DynamoDB policy source
 * (connectors/policy_source.h) sends and receives; this file only reads and writes bytes.
 *
 * The conversion, value by value (the item's attribute order is kept as DynamoDB sent it):
 *   {"S":"x"} -> "x"             {"N":"12.50"} -> 12.50 (the number's text exactly as sent; a
 *   {"BOOL":true} -> true         text that is not a JSON number stays a string)
 *   {"NULL":true} -> null        {"M":{...}} -> {...}        {"L":[...]} -> [...]
 *   {"SS":[..]} -> [strings]     {"NS":[..]} -> [numbers]    {"B":"base64"} -> "base64"
 *   {"BS":[..]} -> [base64 strings]
 * Anything else (no type, two types, an unknown type, a value of the wrong JSON kind, NULL
 * other than true) is a protocol error: DynamoDB never sends it. */
#ifndef PARLEY_CONNECTORS_DYNAMODB_ITEM_H
#define PARLEY_CONNECTORS_DYNAMODB_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* DynamoDB's item size limit (400 KB): the plain JSON given out is at most this long. */
#define DDB_ITEM_MAX (400 * 1024)
/* A reply body: the item with its type wrappers (each value costs a few bytes more). */
#define DDB_REPLY_MAX (1024 * 1024)
/* DynamoDB nests maps and lists at most 32 levels deep; the item itself is level 1. */
#define DDB_DEPTH_MAX 32
/* An exception name ("ResourceNotFoundException") and the message kept for logs. */
#define DDB_ERROR_NAME_MAX    128
#define DDB_ERROR_MESSAGE_MAX 512

/** True for a table name DynamoDB accepts: 3 to 255 of A-Z a-z 0-9 _ . - , or a table ARN
 *  (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME, at most 1024 bytes). */
bool ddb_table_name_valid(const char *table);
/** True for a key attribute name: 1 to 255 bytes, no control characters. */
bool ddb_attribute_name_valid(const char *name);

/** Append the GetItem body for key `attr` = string `key` of `table` (eventually consistent
 *  read): {"TableName":T,"Key":{ATTR:{"S":KEY}},"ConsistentRead":false}. PL_EINVAL for a bad
 *  table or attribute name or an empty key. */
int ddb_get_item_body(struct pl_buf *out, const char *table, const char *attr, const char *key);

/** A GetItem reply body (HTTP 200) to the item's plain JSON, appended compact to `out`:
 *  PL_OK; PL_ENOTFOUND for a reply without "Item" (`{}`: no such item); PL_EPROTO for a body
 *  that is not such a reply, PL_ETOOBIG past DDB_REPLY_MAX, DDB_ITEM_MAX or DDB_DEPTH_MAX.
 *  On a failure `why` (may be NULL) says what, in one line without the body's values, and
 *  `out` may hold part of the item: reset it. */
int ddb_item_from_reply(const char *body, size_t len, struct pl_buf *out, char *why, size_t whylen);

/** An error reply's body, {"__type":"com.amazonaws.dynamodb.v20120810#NAME","message":M}
 *  (or "Message"), to NAME (the part after the last '#', the whole type without one) and the
 *  message (truncated to fit; "" when absent). PL_OK, or PL_EPROTO when there is no __type. */
int ddb_error_parse(const char *body, size_t len, char *name, size_t namelen, char *message,
                    size_t messagelen);

/** Whether a failed GetItem may succeed when sent again: throttling, a server error, or an
 *  HTTP 500/502/503/504 whatever its body (`name` may be NULL or ""). Never for
 *  ResourceNotFoundException, ValidationException or a refused signature or permission. */
bool ddb_error_retryable(const char *name, int http_status);

#endif
