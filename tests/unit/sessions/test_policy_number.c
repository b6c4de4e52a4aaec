/* sess_policy_number_valid: the policy numbers a record may be stored under and a session bound
 * to (sessions/policy_store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sessions/policy_store.h"

static void accepts_letters_digits_dash_underscore(void **state)
{
    (void)state;
    assert_true(sess_policy_number_valid("POL-100001"));
    assert_true(sess_policy_number_valid("a"));
    assert_true(sess_policy_number_valid("abc_XYZ-09"));
    char longest[SESS_POLICY_NUMBER_MAX + 1];
    memset(longest, '7', SESS_POLICY_NUMBER_MAX);
    longest[SESS_POLICY_NUMBER_MAX] = '\0';
    assert_true(sess_policy_number_valid(longest));
}

static void refuses_empty_long_and_other_bytes(void **state)
{
    (void)state;
    assert_false(sess_policy_number_valid(NULL));
    assert_false(sess_policy_number_valid(""));
    char too_long[SESS_POLICY_NUMBER_MAX + 2];
    memset(too_long, '7', SESS_POLICY_NUMBER_MAX + 1);
    too_long[SESS_POLICY_NUMBER_MAX + 1] = '\0';
    assert_false(sess_policy_number_valid(too_long));
    /* Each would break a URL segment, a hash tag, a log field or a key pattern. */
    static const char *const bad[] = {"POL 1", "POL/1",  "POL{1}",  "POL}",      "POL:1", "POL*",
                                      "POL.1", "POL\n1", "POL%2F1", "P\xc3\xa9", "\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sess_policy_number_valid(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_letters_digits_dash_underscore),
        cmocka_unit_test(refuses_empty_long_and_other_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
