/* The credentials endpoints' replies and RFC 3339 times (connectors/aws_credentials_json.h): a
 * container reply and an instance metadata reply read to exact keys and milliseconds, optional
 * members, every refusal with its reason and nothing left in the output, and times with
 * fractions, offsets, leap days and the bounds of each field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/aws_credentials_json.h"

static struct pl_aws_creds_reply r;

static int parse(const char *body)
{
    return pl_aws_creds_reply_parse(body, strlen(body), &r);
}

static int64_t t(const char *s)
{
    int64_t ms = 0x7777;
    int rc = pl_rfc3339_parse(s, strlen(s), &ms);
    return rc == PL_OK ? ms : (int64_t)rc * 1000000000000000LL;
}

static void test_container_reply(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"s/e+cret\","
                           "\"Token\":\"IQoJb3JpZ2luX2Vj\",\"Expiration\":\"2026-11-30T04:00:00Z\","
                           "\"AccountId\":\"123456789012\"}"),
                     PL_OK);
    assert_string_equal(r.access_key_id, "ASIAEXAMPLE");
    assert_string_equal(r.secret_access_key, "s/e+cret");
    assert_string_equal(r.session_token, "IQoJb3JpZ2luX2Vj");
    assert_int_equal(r.expiration_ms, 1796011200000LL);
    assert_null(r.error);
}

static void test_imds_reply(void **state)
{
    (void)state;
    assert_int_equal(parse("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
                           "\"2026-11-30T03:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n  "
                           "\"AccessKeyId\" : \"ASIA2\",\n  \"SecretAccessKey\" : \"k2\",\n  "
                           "\"Token\" : \"t2\",\n  \"Expiration\" : \"2026-11-30T09:12:34Z\"\n}"),
                     PL_OK);
    assert_string_equal(r.access_key_id, "ASIA2");
    assert_string_equal(r.secret_access_key, "k2");
    assert_string_equal(r.session_token, "t2");
    assert_int_equal(r.expiration_ms, 1796011200000LL + 5 * 3600000 + 12 * 60000 + 34000);
}

static void test_optional_members(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}"), PL_OK);
    assert_string_equal(r.session_token, "");
    assert_int_equal(r.expiration_ms, -1);
    /* A time before 1970 is long expired, not "no Expiration". */
    assert_int_equal(parse("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":"
                           "\"1969-12-31T23:59:59.999Z\"}"),
                     PL_OK);
    assert_int_equal(r.expiration_ms, 0);
    assert_int_equal(
        parse(
            "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":null,\"Expiration\":null}"),
        PL_OK);
    assert_string_equal(r.session_token, "");
    assert_int_equal(r.expiration_ms, -1);
}

static void expect_refusal(const char *body, int rc, const char *why)
{
    assert_int_equal(parse(body), rc);
    assert_string_equal(r.error, why);
    assert_string_equal(r.access_key_id, "");
    assert_string_equal(r.secret_access_key, "");
    assert_string_equal(r.session_token, "");
    assert_int_equal(r.expiration_ms, -1);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refusal("", PL_EPROTO, "reply is not a JSON object");
    expect_refusal("[1]", PL_EPROTO, "reply is not a JSON object");
    expect_refusal("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"", PL_EPROTO,
                   "reply is not a JSON object");
    expect_refusal("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\","
                   "\"SecretAccessKey\":\"S\"}",
                   PL_EPROTO, "Code is not Success");
    expect_refusal("{\"Code\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", PL_EPROTO,
                   "Code is not Success");
    expect_refusal("{\"SecretAccessKey\":\"S\",\"Token\":\"T\"}", PL_EPROTO,
                   "a required key is missing");
    expect_refusal("{\"AccessKeyId\":\"A\",\"Token\":\"T\"}", PL_EPROTO,
                   "a required key is missing");
    expect_refusal("{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\"}", PL_EPROTO,
                   "a required key is empty");
    expect_refusal("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":7}", PL_EPROTO,
                   "a key is not a string");
    expect_refusal("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"a\\r\\nX: y\"}",
                   PL_EPROTO, "a value has a control character");
    expect_refusal("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}",
                   PL_EPROTO, "Expiration is not an RFC 3339 time");
    expect_refusal("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":1}", PL_EPROTO,
                   "Expiration is not an RFC 3339 time");
    expect_refusal("{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\",\"SecretAccessKey\":\"S\"}",
                   PL_EPROTO, "reply is not a JSON object");
}

static void test_bounds(void **state)
{
    (void)state;
    static char body[PL_AWS_CREDS_MAX_REPLY + 64];
    char key[PL_SIGV4_MAX_KEY + 2];
    memset(key, 'K', sizeof key - 1);
    key[PL_SIGV4_MAX_KEY] = '\0'; /* exactly at the bound */
    snprintf(body, sizeof body, "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"S\"}", key);
    assert_int_equal(parse(body), PL_OK);
    assert_int_equal(strlen(r.access_key_id), PL_SIGV4_MAX_KEY);
    key[PL_SIGV4_MAX_KEY] = 'K';
    key[PL_SIGV4_MAX_KEY + 1] = '\0';
    snprintf(body, sizeof body, "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"S\"}", key);
    expect_refusal(body, PL_ETOOBIG, "a value is too long");
    memset(body, ' ', sizeof body);
    memcpy(body, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", 41);
    assert_int_equal(pl_aws_creds_reply_parse(body, PL_AWS_CREDS_MAX_REPLY, &r), PL_OK);
    assert_int_equal(pl_aws_creds_reply_parse(body, PL_AWS_CREDS_MAX_REPLY + 1, &r), PL_ETOOBIG);
    assert_string_equal(r.error, "reply too long");
}

static void test_rfc3339(void **state)
{
    (void)state;
    assert_int_equal(t("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(t("2026-11-30T04:00:00Z"), 1796011200000LL);
    assert_int_equal(t("2026-11-30t04:00:00z"), 1796011200000LL);
    assert_int_equal(t("2026-11-30 04:00:00Z"), 1796011200000LL);
    assert_int_equal(t("2026-11-30T06:00:00+02:00"), 1796011200000LL);
    assert_int_equal(t("2026-11-29T23:30:00-04:30"), 1796011200000LL);
    assert_int_equal(t("2026-11-30T04:00:00.5Z"), 1796011200500LL);
    assert_int_equal(t("2026-11-30T04:00:00.123456789Z"), 1796011200123LL);
    assert_int_equal(t("2024-02-29T00:00:00Z"), 1709164800000LL);
    assert_int_equal(t("2000-02-29T00:00:00Z"), 951782400000LL);
    assert_int_equal(t("1969-12-31T23:59:59Z"), -1000);
    assert_int_equal(t("2016-12-31T23:59:60Z"), 1483228800000LL); /* a leap second */
    const char *bad[] = {"",
                         "2026-11-30",
                         "2026-11-30T04:00:00",
                         "2026-11-30T04:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-00-01T00:00:00Z",
                         "2026-11-31T00:00:00Z",
                         "2025-02-29T00:00:00Z",
                         "1900-02-29T00:00:00Z",
                         "0000-01-01T00:00:00Z",
                         "2026-11-30T24:00:00Z",
                         "2026-11-30T04:60:00Z",
                         "2026-11-30T04:00:61Z",
                         "2026-11-30T04:00:00.Z",
                         "2026-11-30T04:00:00+2:00",
                         "2026-11-30T04:00:00+24:00",
                         "2026-11-30T04:00:00+02:60",
                         "2026-11-30T04:00:00Z ",
                         "2026-11-30X04:00:00Z",
                         "+026-11-30T04:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        assert_int_equal(pl_rfc3339_parse(bad[i], strlen(bad[i]), &ms), PL_EINVAL);
        assert_int_equal(ms, 42); /* untouched */
    }
    /* Only `len` bytes are read. */
    assert_int_equal(pl_rfc3339_parse("2026-11-30T04:00:00Zjunk", 20, &(int64_t){0}), PL_OK);
}

static void test_rfc3339_format(void **state)
{
    (void)state;
    char out[PL_RFC3339_MAX];
    pl_rfc3339_format(1796011200999LL, out);
    assert_string_equal(out, "2026-11-30T04:00:00Z");
    pl_rfc3339_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    pl_rfc3339_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
    pl_rfc3339_format(1709164800000LL, out);
    assert_string_equal(out, "2024-02-29T00:00:00Z");
    pl_rfc3339_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    pl_rfc3339_format(INT64_MIN, out);
    assert_string_equal(out, "0001-01-01T00:00:00Z");
    assert_int_equal(t(out), t("0001-01-01T00:00:00Z"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_container_reply),  cmocka_unit_test(test_imds_reply),
        cmocka_unit_test(test_optional_members), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds),           cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_rfc3339_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
