/* S3 addressing (connectors/s3_address.h): the virtual host by default, path style for dotted
 * bucket names and on an endpoint (with its port and path), object paths encoded once, the
 * ListObjectsV2 query sorted and encoded as PROTOCOLS.md 6E shows, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/s3_address.h"

static void expect_path(const struct s3_address *a, const char *key, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 16);
    pl_buf_append(&b, "", 0);
    s3_address_path(a, key, &b);
    assert_string_equal(b.data, want);
    pl_buf_cleanup(&b);
}

static void test_virtual_host(void **state)
{
    (void)state;
    struct s3_address a;
    assert_int_equal(s3_address_set(&a, "insurer-docs", "eu-west-2", NULL), PL_OK);
    assert_false(a.path_style);
    assert_string_equal(a.host, "insurer-docs.s3.eu-west-2.amazonaws.com");
    assert_string_equal(a.base, "https://insurer-docs.s3.eu-west-2.amazonaws.com");
    expect_path(&a, NULL, "/");
    expect_path(&a, "kb/motor/Glass cover.md", "/kb/motor/Glass%20cover.md");
    expect_path(&a, "kb/Q&A+x=1 (v2)~caf\xc3\xa9.md", "/kb/Q%26A%2Bx%3D1%20%28v2%29~caf%C3%A9.md");
    expect_path(&a, "a//b/../c", "/a//b/../c"); /* as S3 keeps it: no normalising */

    /* A dotted name: path style on the regional host. */
    assert_int_equal(s3_address_set(&a, "docs.example.com", "us-east-1", NULL), PL_OK);
    assert_true(a.path_style);
    assert_string_equal(a.host, "s3.us-east-1.amazonaws.com");
    expect_path(&a, NULL, "/docs.example.com");
    expect_path(&a, "kb/a.md", "/docs.example.com/kb/a.md");
}

static void test_endpoint(void **state)
{
    (void)state;
    struct s3_address a;
    assert_int_equal(s3_address_set(&a, "docs", "us-east-1", "http://127.0.0.1:9000"), PL_OK);
    assert_true(a.path_style);
    assert_string_equal(a.host, "127.0.0.1:9000");
    assert_string_equal(a.base, "http://127.0.0.1:9000");
    expect_path(&a, NULL, "/docs");
    expect_path(&a, "kb/a b.md", "/docs/kb/a%20b.md");

    assert_int_equal(
        s3_address_set(&a, "docs", "eu-west-2",
                       "https://bucket.vpce-1a2b3c4d.s3.eu-west-2.vpce.amazonaws.com/"),
        PL_OK);
    assert_string_equal(a.host, "bucket.vpce-1a2b3c4d.s3.eu-west-2.vpce.amazonaws.com");
    expect_path(&a, NULL, "/docs");

    assert_int_equal(s3_address_set(&a, "docs", "us-east-1", "https://minio.local:9443/s3/"),
                     PL_OK);
    assert_string_equal(a.host, "minio.local:9443");
    assert_string_equal(a.base_path, "/s3");
    expect_path(&a, "x.md", "/s3/docs/x.md");

    assert_int_equal(s3_address_set(&a, "docs", "us-east-1", "ftp://h"), PL_EINVAL);
    assert_int_equal(s3_address_set(&a, "docs", "us-east-1", "not a url"), PL_EINVAL);
    assert_int_equal(s3_address_set(&a, "docs", "us-east-1", "http://h/?x=1"), PL_EINVAL);
    assert_string_equal(a.host, "");
}

static void test_names(void **state)
{
    (void)state;
    struct s3_address a;
    assert_true(s3_bucket_valid("abc"));
    assert_true(s3_bucket_valid("my.bucket-2"));
    assert_false(s3_bucket_valid("ab"));
    assert_false(s3_bucket_valid("a/b"));
    assert_false(s3_bucket_valid("a b c"));
    assert_false(s3_bucket_valid(NULL));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(s3_bucket_valid(long_name));
    long_name[63] = '\0';
    assert_true(s3_bucket_valid(long_name));
    assert_true(s3_region_valid("ap-southeast-2"));
    assert_false(s3_region_valid("EU-WEST-2"));
    assert_false(s3_region_valid(""));
    assert_false(s3_region_valid("eu west"));
    assert_int_equal(s3_address_set(&a, "docs", "eu/west", NULL), PL_EINVAL);
    assert_int_equal(s3_address_set(&a, "d", "eu-west-2", NULL), PL_EINVAL);
}

static void test_list_query(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 16);
    pl_buf_append(&b, "", 0);
    s3_list_query("docs/", "a+b/c=", &b);
    assert_string_equal(b.data, "continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=docs%2F");
    pl_buf_reset(&b);
    pl_buf_append(&b, "", 0);
    s3_list_query("", NULL, &b);
    assert_string_equal(b.data, "list-type=2");
    pl_buf_reset(&b);
    pl_buf_append(&b, "", 0);
    s3_list_query("kb/caf\xc3\xa9 & co", NULL, &b);
    assert_string_equal(b.data, "list-type=2&prefix=kb%2Fcaf%C3%A9%20%26%20co");
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virtual_host),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_list_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
