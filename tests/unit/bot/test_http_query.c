/* Query strings (bot/http_query.h): the first parameter by its exact name, values cut to the
 * buffer, names without "=" and names that only start alike not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bot/http_query.h"
#include "common/err.h"

static void test_values(void **state)
{
    (void)state;
    char v[16];
    assert_true(http_query_value("wait_ms=8000", "wait_ms", v, sizeof(v)));
    assert_string_equal(v, "8000");
    assert_true(http_query_value("a=1&wait_ms=&wait_ms=3", "wait_ms", v, sizeof(v)));
    assert_string_equal(v, ""); /* the first one, empty */
    assert_true(http_query_value("q=a=b", "q", v, sizeof(v)));
    assert_string_equal(v, "a=b");
    assert_false(http_query_value("wait_ms", "wait_ms", v, sizeof(v)));
    assert_false(http_query_value("wait_msx=1&xwait_ms=2", "wait_ms", v, sizeof(v)));
    assert_false(http_query_value("", "wait_ms", v, sizeof(v)));
    char small[4];
    assert_true(http_query_value("k=123456", "k", small, sizeof(small)));
    assert_string_equal(small, "123");
}

static void test_decode(void **state)
{
    (void)state;
    char v[16];
    size_t n = 99;
    assert_int_equal(http_query_decode("a%20b+c%2Bd%c3%A9", 17, v, sizeof(v), &n), PL_OK);
    assert_int_equal(n, 9);
    assert_memory_equal(v, "a b c+d\xc3\xa9", 10); /* with its NUL */
    assert_int_equal(http_query_decode("", 0, v, sizeof(v), &n), PL_OK);
    assert_int_equal(n, 0);
    assert_string_equal(v, "");
    /* Only len bytes are read: the "%41" past them is not decoded. */
    assert_int_equal(http_query_decode("x%41", 1, v, sizeof(v), &n), PL_OK);
    assert_string_equal(v, "x");
    /* Bad escapes: short at the end, a non-hex digit, a NUL. */
    assert_int_equal(http_query_decode("ab%4", 4, v, sizeof(v), &n), PL_EINVAL);
    assert_int_equal(http_query_decode("%", 1, v, sizeof(v), &n), PL_EINVAL);
    assert_int_equal(http_query_decode("%4g", 3, v, sizeof(v), &n), PL_EINVAL);
    assert_int_equal(http_query_decode("a%00b", 5, v, sizeof(v), &n), PL_EINVAL);
    assert_int_equal(n, 0);
    /* 15 bytes and the NUL fit 16; 16 do not, and leave "". */
    assert_int_equal(http_query_decode("%41bcdefghijklmno", 17, v, sizeof(v), &n), PL_OK);
    assert_string_equal(v, "Abcdefghijklmno");
    assert_int_equal(http_query_decode("abcdefghijklmnop", 16, v, sizeof(v), &n), PL_ETOOBIG);
    assert_string_equal(v, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_values),
                                       cmocka_unit_test(test_decode)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
