/* DynamoDB GetItem bodies (connectors/dynamodb_item.h): the request body, the item of a reply
 * as plain JSON with every AttributeValue type (exact bytes), the limits, malformed replies,
 * the exception name of an error body and which errors are retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/dynamodb_item.h"

/* The reply `body` converted: the status, and the JSON in `json` (NUL-terminated). */
static int convert(const char *body, char *json, size_t cap, char *why, size_t whylen)
{
    struct pl_buf out;
    pl_buf_init(&out, DDB_ITEM_MAX);
    int rc = ddb_item_from_reply(body, strlen(body), &out, why, whylen);
    snprintf(json, cap, "%s", out.data ? out.data : "");
    pl_buf_cleanup(&out);
    return rc;
}

static void expect_item(const char *body, const char *want)
{
    char json[4096], why[256];
    assert_int_equal(convert(body, json, sizeof json, why, sizeof why), PL_OK);
    assert_string_equal(json, want);
}

static void expect_failure(const char *body, int status, const char *want_why)
{
    char json[4096], why[256];
    assert_int_equal(convert(body, json, sizeof json, why, sizeof why), status);
    assert_string_equal(why, want_why);
}

static void test_request_body(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    assert_int_equal(ddb_get_item_body(&b, "Policies", "policy_number", "POL-100001"), PL_OK);
    assert_string_equal(b.data, "{\"TableName\":\"Policies\",\"Key\":{\"policy_number\":{\"S\":"
                                "\"POL-100001\"}},\"ConsistentRead\":false}");
    pl_buf_reset(&b);
    /* an attribute name is escaped as JSON */
    assert_int_equal(ddb_get_item_body(&b, "arn:aws:dynamodb:eu-west-2:123456789012:table/P.1",
                                       "pol \"no\"", "A"),
                     PL_OK);
    assert_string_equal(b.data, "{\"TableName\":\"arn:aws:dynamodb:eu-west-2:123456789012:table/"
                                "P.1\",\"Key\":{\"pol \\\"no\\\"\":{\"S\":\"A\"}},"
                                "\"ConsistentRead\":false}");
    pl_buf_reset(&b);
    assert_int_equal(ddb_get_item_body(&b, "ab", "k", "A"), PL_EINVAL);
    assert_int_equal(ddb_get_item_body(&b, "Policies", "", "A"), PL_EINVAL);
    assert_int_equal(ddb_get_item_body(&b, "Policies", "k", ""), PL_EINVAL);
    assert_int_equal(b.len, 0);
    pl_buf_cleanup(&b);
}

static void test_table_names(void **state)
{
    (void)state;
    assert_true(ddb_table_name_valid("abc"));
    assert_true(ddb_table_name_valid("My_Table.v2-prod"));
    assert_true(ddb_table_name_valid("arn:aws:dynamodb:us-east-1:123456789012:table/Policies"));
    assert_true(
        ddb_table_name_valid("arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/abc"));
    assert_false(ddb_table_name_valid(NULL));
    assert_false(ddb_table_name_valid("ab"));
    assert_false(ddb_table_name_valid("has space"));
    assert_false(ddb_table_name_valid("slash/name"));
    assert_false(ddb_table_name_valid("arn:aws:s3:us-east-1:123456789012:table/Policies"));
    assert_false(ddb_table_name_valid("arn:aws:dynamodb:us-east-1:123456789012:index/Policies"));
    assert_false(ddb_table_name_valid("arn:aws:dynamodb::123456789012:table/Policies"));
    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    assert_false(ddb_table_name_valid(long_name));
    long_name[255] = '\0';
    assert_true(ddb_table_name_valid(long_name));
    assert_true(ddb_attribute_name_valid("policy_number"));
    assert_true(ddb_attribute_name_valid("pk #1"));
    assert_false(ddb_attribute_name_valid(""));
    assert_false(ddb_attribute_name_valid("a\nb"));
}

static void test_every_type(void **state)
{
    (void)state;
    expect_item("{\"Item\":{"
                "\"policy_number\":{\"S\":\"POL-100001\"},"
                "\"premium\":{\"N\":\"412.50\"},"
                "\"big\":{\"N\":\"12345678901234567890123456789012345678\"},"
                "\"tiny\":{\"N\":\"-1.5E-130\"},"
                "\"active\":{\"BOOL\":true},"
                "\"lapsed\":{\"BOOL\":false},"
                "\"broker\":{\"NULL\":true},"
                "\"holder\":{\"M\":{\"name\":{\"S\":\"Ada \\\"A\\\" Lovelace\"},"
                "\"age\":{\"N\":\"36\"}}},"
                "\"drivers\":{\"L\":[{\"S\":\"Ada\"},{\"N\":\"2\"},{\"L\":[]},{\"M\":{}}]},"
                "\"tags\":{\"SS\":[\"motor\",\"windscreen\"]},"
                "\"excesses\":{\"NS\":[\"75\",\"250.0\"]},"
                "\"scan\":{\"B\":\"aGVsbG8=\"},"
                "\"scans\":{\"BS\":[\"AQI=\",\"/w==\"]}"
                "},\"ConsumedCapacity\":{\"TableName\":\"P\",\"CapacityUnits\":0.5}}",
                "{\"policy_number\":\"POL-100001\",\"premium\":412.50,"
                "\"big\":12345678901234567890123456789012345678,\"tiny\":-1.5E-130,"
                "\"active\":true,\"lapsed\":false,\"broker\":null,"
                "\"holder\":{\"name\":\"Ada \\\"A\\\" Lovelace\",\"age\":36},"
                "\"drivers\":[\"Ada\",2,[],{}],\"tags\":[\"motor\",\"windscreen\"],"
                "\"excesses\":[75,250.0],\"scan\":\"aGVsbG8=\",\"scans\":[\"AQI=\",\"/w==\"]}");
}

static void test_strings_escaped_and_unicode_kept(void **state)
{
    (void)state;
    expect_item("{\"Item\":{\"n\\u00e9\":{\"S\":\"caf\\u00e9 \\u2713\\n\\t\\u0001\\u0000x\"}}}",
                "{\"n\xc3\xa9\":\"caf\xc3\xa9 \xe2\x9c\x93\\n\\t\\u0001\\u0000x\"}");
}

static void test_numbers_not_json_stay_strings(void **state)
{
    (void)state;
    expect_item("{\"Item\":{\"a\":{\"N\":\"007\"},\"b\":{\"N\":\"+5\"},\"c\":{\"N\":\".5\"},"
                "\"d\":{\"N\":\"1e\"},\"e\":{\"N\":\"NaN\"},\"f\":{\"N\":\"0.0\"},"
                "\"g\":{\"NS\":[\"1\",\"x\"]}}}",
                "{\"a\":\"007\",\"b\":\"+5\",\"c\":\".5\",\"d\":\"1e\",\"e\":\"NaN\",\"f\":0.0,"
                "\"g\":[1,\"x\"]}");
}

static void test_absent_item(void **state)
{
    (void)state;
    char json[64], why[64];
    assert_int_equal(convert("{}", json, sizeof json, why, sizeof why), PL_ENOTFOUND);
    assert_int_equal(convert("{\"ConsumedCapacity\":{}}", json, sizeof json, why, sizeof why),
                     PL_ENOTFOUND);
    expect_item("{\"Item\":{}}", "{}");
}

static void test_malformed_replies(void **state)
{
    (void)state;
    expect_failure("", PL_EPROTO, "the reply is not a JSON object");
    expect_failure("[1]", PL_EPROTO, "the reply is not a JSON object");
    expect_failure("{\"Item\":{\"a\":{\"S\":\"x\"}}", PL_EPROTO, "the reply is not a JSON object");
    expect_failure("{\"Item\":{},\"Item\":{}}", PL_EPROTO, "the reply is not a JSON object");
    expect_failure("{\"Item\":[]}", PL_EPROTO, "the reply's Item is not an object");
    expect_failure("{\"Item\":{\"a\":\"x\"}}", PL_EPROTO,
                   "an attribute value is not an object with exactly one type");
    expect_failure("{\"Item\":{\"a\":{}}}", PL_EPROTO,
                   "an attribute value is not an object with exactly one type");
    expect_failure("{\"Item\":{\"a\":{\"S\":\"x\",\"N\":\"1\"}}}", PL_EPROTO,
                   "an attribute value is not an object with exactly one type");
    expect_failure("{\"Item\":{\"a\":{\"X\":\"x\"}}}", PL_EPROTO,
                   "an attribute value has an unknown type");
    expect_failure("{\"Item\":{\"a\":{\"S\":1}}}", PL_EPROTO, "a S value is not a string");
    expect_failure("{\"Item\":{\"a\":{\"N\":1}}}", PL_EPROTO, "an N value is not a string");
    expect_failure("{\"Item\":{\"a\":{\"BOOL\":\"true\"}}}", PL_EPROTO,
                   "a BOOL value is not true or false");
    expect_failure("{\"Item\":{\"a\":{\"NULL\":false}}}", PL_EPROTO, "a NULL value is not true");
    expect_failure("{\"Item\":{\"a\":{\"M\":[]}}}", PL_EPROTO, "an M value is not an object");
    expect_failure("{\"Item\":{\"a\":{\"L\":{}}}}", PL_EPROTO, "an L value is not an array");
    expect_failure("{\"Item\":{\"a\":{\"SS\":\"x\"}}}", PL_EPROTO, "a SS value is not an array");
    expect_failure("{\"Item\":{\"a\":{\"NS\":[1]}}}", PL_EPROTO, "a NS member is not a string");
    expect_failure("{\"Item\":{\"a\":{\"L\":[{\"S\":\"x\"},{\"Q\":1}]}}}", PL_EPROTO,
                   "an attribute value has an unknown type");
}

/* A value nested `levels` maps deep inside the item (level 1). */
static void nested(char *out, size_t cap, int levels)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n, "{\"Item\":{\"a\":");
    for (int i = 1; i < levels; i++)
        n += (size_t)snprintf(out + n, cap - n, "{\"M\":{\"a\":");
    n += (size_t)snprintf(out + n, cap - n, "{\"N\":\"1\"}");
    for (int i = 1; i < levels; i++)
        n += (size_t)snprintf(out + n, cap - n, "}}");
    snprintf(out + n, cap - n, "}}");
}

static void test_depth_limit(void **state)
{
    (void)state;
    char body[4096], json[4096], why[128];
    nested(body, sizeof body, DDB_DEPTH_MAX);
    assert_int_equal(convert(body, json, sizeof json, why, sizeof why), PL_OK);
    nested(body, sizeof body, DDB_DEPTH_MAX + 1);
    assert_int_equal(convert(body, json, sizeof json, why, sizeof why), PL_ETOOBIG);
    assert_string_equal(why, "the item nests deeper than 32 levels");
}

static void test_size_limits(void **state)
{
    (void)state;
    /* A string of DDB_ITEM_MAX bytes: the item's JSON is a few bytes more than that. */
    size_t cap = DDB_ITEM_MAX + 64;
    char *body = test_malloc(cap);
    int n = snprintf(body, cap, "{\"Item\":{\"a\":{\"S\":\"");
    memset(body + n, 'x', DDB_ITEM_MAX - 16);
    snprintf(body + n + DDB_ITEM_MAX - 16, cap - (size_t)n - DDB_ITEM_MAX + 16, "\"}}}");
    struct pl_buf out;
    pl_buf_init(&out, DDB_ITEM_MAX);
    char why[128];
    assert_int_equal(ddb_item_from_reply(body, strlen(body), &out, why, sizeof why), PL_OK);
    assert_int_equal(out.len, DDB_ITEM_MAX - 16 + 8);
    pl_buf_reset(&out);
    memset(body + n, 'x', DDB_ITEM_MAX);
    snprintf(body + n + DDB_ITEM_MAX, cap - (size_t)n - DDB_ITEM_MAX, "\"}}}");
    assert_int_equal(ddb_item_from_reply(body, strlen(body), &out, why, sizeof why), PL_ETOOBIG);
    assert_string_equal(why, "the item is larger than 409600 bytes as JSON");
    pl_buf_cleanup(&out);
    test_free(body);
    pl_buf_init(&out, DDB_ITEM_MAX);
    assert_int_equal(ddb_item_from_reply("{}", DDB_REPLY_MAX + 1, &out, why, sizeof why),
                     PL_ETOOBIG);
    assert_string_equal(why, "the reply is larger than 1048576 bytes");
    pl_buf_cleanup(&out);
}

static void test_error_names(void **state)
{
    (void)state;
    char name[DDB_ERROR_NAME_MAX], msg[DDB_ERROR_MESSAGE_MAX];
    const char *b = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
                    "\"message\":\"Requested resource not found\"}";
    assert_int_equal(ddb_error_parse(b, strlen(b), name, sizeof name, msg, sizeof msg), PL_OK);
    assert_string_equal(name, "ResourceNotFoundException");
    assert_string_equal(msg, "Requested resource not found");
    b = "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"Message\":\"bad\\nkey\"}";
    assert_int_equal(ddb_error_parse(b, strlen(b), name, sizeof name, msg, sizeof msg), PL_OK);
    assert_string_equal(name, "ValidationException");
    assert_string_equal(msg, "bad key");
    b = "{\"__type\":\"ThrottlingException\"}";
    assert_int_equal(ddb_error_parse(b, strlen(b), name, sizeof name, msg, sizeof msg), PL_OK);
    assert_string_equal(name, "ThrottlingException");
    assert_string_equal(msg, "");
    b = "<html>Bad Gateway</html>";
    assert_int_equal(ddb_error_parse(b, strlen(b), name, sizeof name, msg, sizeof msg), PL_EPROTO);
    assert_string_equal(name, "");
    b = "{\"message\":\"x\"}";
    assert_int_equal(ddb_error_parse(b, strlen(b), name, sizeof name, msg, sizeof msg), PL_EPROTO);
    /* truncated to fit */
    char small[8];
    b = "{\"__type\":\"a#ProvisionedThroughputExceededException\"}";
    assert_int_equal(ddb_error_parse(b, strlen(b), small, sizeof small, msg, sizeof msg), PL_OK);
    assert_string_equal(small, "Provisi");
}

static void test_retryable(void **state)
{
    (void)state;
    assert_true(ddb_error_retryable("ProvisionedThroughputExceededException", 400));
    assert_true(ddb_error_retryable("ThrottlingException", 400));
    assert_true(ddb_error_retryable("RequestLimitExceeded", 400));
    assert_true(ddb_error_retryable("TransactionInProgressException", 400));
    assert_true(ddb_error_retryable("InternalServerError", 500));
    assert_true(ddb_error_retryable(NULL, 500));
    assert_true(ddb_error_retryable("", 502));
    assert_true(ddb_error_retryable(NULL, 503));
    assert_true(ddb_error_retryable("Whatever", 504));
    assert_false(ddb_error_retryable("ResourceNotFoundException", 400));
    assert_false(ddb_error_retryable("ValidationException", 400));
    assert_false(ddb_error_retryable("AccessDeniedException", 400));
    assert_false(ddb_error_retryable("UnrecognizedClientException", 400));
    assert_false(ddb_error_retryable("InvalidSignatureException", 400));
    assert_false(ddb_error_retryable(NULL, 400));
    assert_false(ddb_error_retryable(NULL, 403));
    assert_false(ddb_error_retryable(NULL, 501));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_strings_escaped_and_unicode_kept),
        cmocka_unit_test(test_numbers_not_json_stay_strings),
        cmocka_unit_test(test_absent_item),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
