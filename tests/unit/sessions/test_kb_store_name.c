/* kb_store_name_valid: the names a knowledge-base document may be stored under
 * (sessions/kb_store.h): a Redis key part and a URL path segment, never a path elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sessions/kb_store.h"

static void accepts_file_names(void **state)
{
    (void)state;
    assert_true(kb_store_name_valid("motor-glass-cover.md"));
    assert_true(kb_store_name_valid("claims_travel.txt"));
    assert_true(kb_store_name_valid("a"));
    assert_true(kb_store_name_valid("v1.2.html"));
    char longest[KB_STORE_NAME_MAX + 1];
    memset(longest, 'x', KB_STORE_NAME_MAX);
    longest[KB_STORE_NAME_MAX] = '\0';
    assert_true(kb_store_name_valid(longest));
}

static void refuses_paths_dots_and_other_bytes(void **state)
{
    (void)state;
    assert_false(kb_store_name_valid(NULL));
    assert_false(kb_store_name_valid(""));
    assert_false(kb_store_name_valid("."));
    assert_false(kb_store_name_valid(".."));
    assert_false(kb_store_name_valid(".hidden.md"));
    assert_false(kb_store_name_valid("../etc.md"));
    assert_false(kb_store_name_valid("dir/a.md"));
    assert_false(kb_store_name_valid("a b.md"));
    assert_false(kb_store_name_valid("a{b}.md")); /* would change the key's hash tag */
    assert_false(kb_store_name_valid("caf\xc3\xa9.md"));
    char too_long[KB_STORE_NAME_MAX + 2];
    memset(too_long, 'x', KB_STORE_NAME_MAX + 1);
    too_long[KB_STORE_NAME_MAX + 1] = '\0';
    assert_false(kb_store_name_valid(too_long));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(accepts_file_names),
                                       cmocka_unit_test(refuses_paths_dots_and_other_bytes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
