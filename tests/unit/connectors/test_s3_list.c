/* S3's XML replies (connectors/s3_list.h): a ListObjectsV2 page as S3 writes it, entities and
 * character references, paging fields, the refusals, and error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/s3_list.h"

/* Shaped as S3 sends it (PROTOCOLS.md 6E), with an Owner and a CommonPrefixes to skip. */
static const char page_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>insurer-docs</Name><Prefix>kb/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>kb/motor-glass.md</Key>"
    "<LastModified>2026-01-02T03:04:05.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>434234</Size>"
    "<Owner><ID>abc</ID><DisplayName>x</DisplayName></Owner>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>kb/Q&amp;A &lt;home&gt; &apos;23&apos;.txt</Key>"
    "<LastModified>2026-01-03T00:00:00.000Z</LastModified>"
    "<ETag>\"d41d8cd98f00b204e9800998ecf8427e-2\"</ETag><Size> 0 </Size></Contents>"
    "<Contents><Key>kb/caf&#233; &#x1F600;.md</Key><ETag>&#34;e&#x22;</ETag>"
    "<Size>12</Size></Contents>"
    "<CommonPrefixes><Prefix>kb/sub/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static void test_page(void **state)
{
    (void)state;
    struct s3_list_page p;
    assert_int_equal(s3_list_parse(page_xml, strlen(page_xml), &p), PL_OK);
    assert_int_equal(p.n, 3);
    assert_true(p.is_truncated);
    assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(p.objects[0].key, "kb/motor-glass.md");
    assert_string_equal(p.objects[0].etag, "\"9b2cf535f27731c974343645a3985328\"");
    assert_int_equal(p.objects[0].size, 434234);
    assert_string_equal(p.objects[0].last_modified, "2026-01-02T03:04:05.000Z");
    assert_string_equal(p.objects[1].key, "kb/Q&A <home> '23'.txt");
    assert_string_equal(p.objects[1].etag, "\"d41d8cd98f00b204e9800998ecf8427e-2\"");
    assert_int_equal(p.objects[1].size, 0);
    assert_string_equal(p.objects[2].key, "kb/caf\xc3\xa9 \xf0\x9f\x98\x80.md");
    assert_string_equal(p.objects[2].etag, "\"e\"");
    assert_string_equal(p.objects[2].last_modified, "");
    s3_list_page_cleanup(&p);
    assert_null(p.objects);
}

static void test_last_page_and_empty(void **state)
{
    (void)state;
    struct s3_list_page p;
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                       "<Contents><Key> spaced </Key><Size>7</Size></Contents>"
                       "<Contents><Key>b</Key><ETag/><Size>18446744073709551</Size></Contents>"
                       "</ListBucketResult>";
    assert_int_equal(s3_list_parse(last, strlen(last), &p), PL_OK);
    assert_false(p.is_truncated);
    assert_null(p.next_token);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.objects[0].key, " spaced "); /* keys are not trimmed */
    assert_string_equal(p.objects[0].etag, "");
    assert_int_equal(p.objects[1].size, 18446744073709551ULL);
    s3_list_page_cleanup(&p);

    const char *empty = "<ListBucketResult xmlns=\"x\"><Name>b</Name><KeyCount>0</KeyCount>"
                        "<IsTruncated>false</IsTruncated></ListBucketResult>\n";
    assert_int_equal(s3_list_parse(empty, strlen(empty), &p), PL_OK);
    assert_int_equal(p.n, 0);
    s3_list_page_cleanup(&p);

    /* A comment, a CDATA key, a namespace prefix, a self-closing root. */
    const char *odd = "<!-- hi --><s3:ListBucketResult><Contents><Key><![CDATA[a&b<c>]]></Key>"
                      "</Contents></s3:ListBucketResult>";
    assert_int_equal(s3_list_parse(odd, strlen(odd), &p), PL_OK);
    assert_string_equal(p.objects[0].key, "a&b<c>");
    s3_list_page_cleanup(&p);
    assert_int_equal(s3_list_parse("<ListBucketResult/>", 19, &p), PL_OK);
    assert_int_equal(p.n, 0);
    s3_list_page_cleanup(&p);
}

static void expect_refused(const char *xml, int rc)
{
    struct s3_list_page p;
    assert_int_equal(s3_list_parse(xml, strlen(xml), &p), rc);
    assert_int_equal(p.n, 0);
    assert_null(p.objects);
    assert_null(p.next_token);
    s3_list_page_cleanup(&p);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refused("", PL_EPROTO);
    expect_refused("<Error><Code>AccessDenied</Code></Error>", PL_EPROTO);
    expect_refused("<ListBucketResult>", PL_EPROTO);
    expect_refused("<ListBucketResult></ListBucket>", PL_EPROTO);
    expect_refused("<ListBucketResult></ListBucketResult>x", PL_EPROTO);
    expect_refused("<ListBucketResult></ListBucketResult><ListBucketResult/>", PL_EPROTO);
    expect_refused("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
                   PL_EPROTO); /* no Key */
    expect_refused("<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents>"
                   "</ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                   PL_EPROTO); /* truncated, nowhere to go on */
    expect_refused("<ListBucketResult><Contents><Key>a&nbsp;</Key></Contents></ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<ListBucketResult><Contents><Key>a&#0;</Key></Contents></ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<ListBucketResult><Contents><Key>a&#xD800;</Key></Contents></ListBucketResult>",
                   PL_EPROTO);
    expect_refused(
        "<ListBucketResult><Contents><Key>a&#x110000;</Key></Contents></ListBucketResult>",
        PL_EPROTO);
    expect_refused("<ListBucketResult><Contents><Key>a & b</Key></Contents></ListBucketResult>",
                   PL_EPROTO);
    expect_refused("<!DOCTYPE x [<!ENTITY e \"y\">]><ListBucketResult/>", PL_EPROTO);
    char deep[256];
    size_t off = (size_t)snprintf(deep, sizeof(deep), "<ListBucketResult>");
    for (int i = 1; i < S3_LIST_MAX_DEPTH + 1; i++)
        off += (size_t)snprintf(deep + off, sizeof(deep) - off, "<a>");
    expect_refused(deep, PL_ETOOBIG);

    /* One text past S3_LIST_MAX_TEXT. */
    static char big[S3_LIST_MAX_TEXT + 200];
    size_t n = (size_t)snprintf(big, sizeof(big), "<ListBucketResult><Contents><Key>");
    memset(big + n, 'k', S3_LIST_MAX_TEXT + 1);
    n += S3_LIST_MAX_TEXT + 1;
    snprintf(big + n, sizeof(big) - n, "</Key></Contents></ListBucketResult>");
    expect_refused(big, PL_ETOOBIG);
}

static void test_decode(void **state)
{
    (void)state;
    char out[16];
    size_t n;
    assert_int_equal(s3_xml_decode("a&lt;b&#65;&#x42;", 17, out, 15, &n), PL_OK);
    assert_int_equal(n, 5);
    assert_string_equal(out, "a<bAB");
    assert_int_equal(s3_xml_decode("abcd", 4, out, 3, &n), PL_ETOOBIG);
    assert_int_equal(s3_xml_decode("&#x;", 4, out, 15, &n), PL_EPROTO);
    assert_int_equal(s3_xml_decode("&#12a;", 6, out, 15, &n), PL_EPROTO);
    assert_int_equal(s3_xml_decode("a<b", 3, out, 15, &n), PL_EPROTO);
    assert_int_equal(s3_xml_decode("&amp", 4, out, 15, &n), PL_EPROTO);
}

static void test_error(void **state)
{
    (void)state;
    struct s3_error e;
    const char *denied =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
        "<Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId>"
        "<HostId>abc=</HostId></Error>";
    assert_int_equal(s3_error_parse(denied, strlen(denied), &e), PL_OK);
    assert_string_equal(e.code, "AccessDenied");
    assert_string_equal(e.message, "Access Denied");
    assert_string_equal(e.request_id, "4442587FB7D0A2F9");
    assert_string_equal(e.region, "");

    const char *moved =
        "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
        "must be addressed using the specified endpoint.</Message>"
        "<Endpoint>docs.s3.eu-west-2.amazonaws.com</Endpoint><Bucket>docs</Bucket></Error>";
    assert_int_equal(s3_error_parse(moved, strlen(moved), &e), PL_OK);
    assert_string_equal(e.code, "PermanentRedirect");
    assert_string_equal(e.endpoint, "docs.s3.eu-west-2.amazonaws.com");

    const char *malformed = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region "
                            "'us-east-1' is wrong;\nexpecting 'eu-west-2'</Message>"
                            "<Region>eu-west-2</Region></Error>";
    assert_int_equal(s3_error_parse(malformed, strlen(malformed), &e), PL_OK);
    assert_string_equal(e.region, "eu-west-2");
    assert_string_equal(e.message, "the region 'us-east-1' is wrong; expecting 'eu-west-2'");

    assert_int_equal(s3_error_parse("<Error><Message>x</Message></Error>", 35, &e), PL_EPROTO);
    assert_int_equal(s3_error_parse("<ListBucketResult/>", 19, &e), PL_EPROTO);
    assert_int_equal(s3_error_parse("<html>Bad gateway</html>", 24, &e), PL_EPROTO);
    assert_int_equal(s3_error_parse(NULL, 0, &e), PL_EPROTO);
    assert_string_equal(e.code, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),     cmocka_unit_test(test_last_page_and_empty),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_decode),
        cmocka_unit_test(test_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
