/* The bounded buffer: its bound, one-allocation reserve, and JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"

static void test_bound_is_kept(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 8);
    assert_int_equal(pl_buf_append_str(&b, "12345678"), PL_OK);
    assert_int_equal(pl_buf_append_str(&b, "9"), PL_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    pl_buf_cleanup(&b);
}

static void test_reserve_allocates_once(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    assert_int_equal(pl_buf_reserve(&b, 480), PL_OK);
    const char *storage = b.data;
    assert_non_null(storage);
    char chunk[48];
    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 10; i++)
        assert_int_equal(pl_buf_append(&b, chunk, sizeof(chunk)), PL_OK);
    assert_ptr_equal(b.data, storage); /* 480 bytes appended without moving */
    assert_int_equal(b.len, 480);
    assert_int_equal(pl_buf_reserve(&b, 4096 - 480 + 1), PL_ETOOBIG);
    pl_buf_cleanup(&b);
}

static void test_json_escaping(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    static const char in[] = "a\"b\\c\n\r\t\x01\x1f \xc2\xa3/";
    assert_int_equal(pl_buf_append_json_escaped(&b, in, sizeof(in) - 1), PL_OK);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f \xc2\xa3/");
    pl_buf_cleanup(&b);
}

static void test_json_string_is_quoted_within_the_bound(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 7);
    assert_int_equal(pl_buf_append_json_string(&b, "a\"b"), PL_OK);
    assert_string_equal(b.data, "\"a\\\"b\"");
    assert_int_equal(b.len, 6);
    /* the closing quote would pass the bound: an error, as any append past it */
    assert_int_equal(pl_buf_append_json_string(&b, ""), PL_ETOOBIG);
    pl_buf_cleanup(&b);
}

/* Label values of /metrics: model ids come from configuration and may hold anything. */
static void test_prom_label_escaping(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 64);
    assert_int_equal(pl_buf_append_prom_label(&b, "us.anthropic.m-v1:0 \\ \" \n/x"), PL_OK);
    assert_string_equal(b.data, "us.anthropic.m-v1:0 \\\\ \\\" \\n/x");
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_is_kept),
        cmocka_unit_test(test_reserve_allocates_once),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_string_is_quoted_within_the_bound),
        cmocka_unit_test(test_prom_label_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
