/* Query strings (bot/http_query.h): the first parameter by its exact name, values cut to the
 * buffer, names without "=" and names that only start alike not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bot/http_query.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_values)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
