/* Unit tests of history shaping (prompts/prompt_builder.h): token estimates, role merging and
 * trimming to a budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/alloc.h"
#include "prompts/prompt_builder.h"

static void test_estimate(void **state)
{
    (void)state;
    assert_int_equal(prompt_estimate_tokens(NULL), 0);
    assert_int_equal(prompt_estimate_tokens(""), 0);
    assert_int_equal(prompt_estimate_tokens("a"), 1);
    assert_int_equal(prompt_estimate_tokens("abcd"), 1);
    assert_int_equal(prompt_estimate_tokens("abcde"), 2);
    assert_int_equal(prompt_estimate_tokens("abcdefgh"), 2);
    assert_int_equal(prompt_estimate_tokens("\xe6\x97\xa5\xe6\x9c\xac"), 2); /* bytes, not chars */
}

static void test_merge(void **state)
{
    (void)state;
    char *owned = pl_strdup("second");
    const struct prompt_message in[] = {
        {"user", "first"},   {"user", owned},     {"assistant", "a1"}, {"user", "q2"},
        {"assistant", "a2"}, {"assistant", NULL}, {"assistant", "a3"}, {"user", "q3"},
    };
    struct prompt_merged m;
    prompt_merge_roles(in, PL_ARRAY_LEN(in), &m);
    pl_free(owned); /* texts were copied */
    assert_int_equal(m.n, 5);
    const char *roles[] = {"user", "assistant", "user", "assistant", "user"};
    const char *texts[] = {"first\n\nsecond", "a1", "q2", "a2\n\n\n\na3", "q3"};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(m.messages[i].role, roles[i]);
        assert_string_equal(m.messages[i].text, texts[i]);
    }
    assert_ptr_not_equal(m.messages[2].text, in[3].text);
    prompt_merged_cleanup(&m);
    assert_int_equal(m.n, 0);
    assert_null(m.messages);
    prompt_merged_cleanup(&m); /* twice is fine */

    prompt_merge_roles(in, 0, &m);
    assert_int_equal(m.n, 0);
    assert_null(m.messages);
    prompt_merged_cleanup(&m);

    const struct prompt_message one[] = {{"user", "only"}};
    prompt_merge_roles(one, 1, &m);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.messages[0].text, "only");
    prompt_merged_cleanup(&m);
}

/* Texts of 4, 8, 12, ... bytes so each costs 1, 2, 3, ... tokens. */
static const struct prompt_message hist[] = {
    {"user", "u1.."},                  /* 1 */
    {"assistant", "a1......"},         /* 2 */
    {"user", "u2.........."},          /* 3 */
    {"assistant", "a2.............."}, /* 4 */
    {"user", "u3.................."},  /* 5 */
};
/* system: 8 bytes = 2 tokens; total 2 + 15 = 17 */
#define SYS "system.."

static void test_trim_fits(void **state)
{
    (void)state;
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 17), 0);
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 1000), 0);
    assert_int_equal(prompt_trim_to_budget(NULL, hist, 5, 15), 0);
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 0, 0), 0);
}

static void test_trim_drops_oldest_in_pairs(void **state)
{
    (void)state;
    /* 16: dropping u1 would do, but the list must start with a user message: a1 goes too */
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 16), 2);
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 14), 2);
    /* 13: u1 + a1 + u2 = 6 -> 11 fits, but then a2 leads: dropped as well */
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 13), 4);
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 7), 4);
}

static void test_trim_keeps_last_user(void **state)
{
    (void)state;
    /* nothing fits: still the last user message stays */
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 6), 4);
    assert_int_equal(prompt_trim_to_budget(SYS, hist, 5, 0), 4);
    const struct prompt_message one[] = {{"user", "a very long question indeed"}};
    assert_int_equal(prompt_trim_to_budget(SYS, one, 1, 0), 0);
    /* a history ending with an assistant message keeps the last user and what follows */
    const struct prompt_message tail[] = {
        {"user", "u1.."}, {"assistant", "a1.."}, {"user", "u2.."}, {"assistant", "a2.."}};
    assert_int_equal(prompt_trim_to_budget(NULL, tail, 4, 0), 2);
    assert_int_equal(prompt_trim_to_budget(NULL, tail, 4, 3), 2);
    /* no user message at all: the last message stays */
    const struct prompt_message bots[] = {{"assistant", "a1.."}, {"assistant", "a2.."}};
    assert_int_equal(prompt_trim_to_budget(NULL, bots, 2, 0), 1);
}

static void test_trim_leading_assistant(void **state)
{
    (void)state;
    /* a greeting from the assistant first: dropped even with room to spare */
    const struct prompt_message greet[] = {{"assistant", "Hello! How can I help?"},
                                           {"user", "u1.."},
                                           {"assistant", "a1.."},
                                           {"user", "u2.."}};
    assert_int_equal(prompt_trim_to_budget(SYS, greet, 4, 1000), 1);
    /* budget drops the greeting and u1; a1 would then lead, so it goes too */
    assert_int_equal(prompt_trim_to_budget(NULL, greet, 4, 2), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_trim_fits),
        cmocka_unit_test(test_trim_drops_oldest_in_pairs),
        cmocka_unit_test(test_trim_keeps_last_user),
        cmocka_unit_test(test_trim_leading_assistant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
