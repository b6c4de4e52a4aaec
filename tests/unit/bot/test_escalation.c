/* Unit tests for bot/escalation: which caller texts contain an escalation phrase, and the
 * phrase reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bot/escalation.h"

static bool match(const char *phrases, const char *text, char *out, size_t size)
{
    return escalation_phrase_match(phrases, text, strlen(text), out, size);
}

static void test_default_phrases(void **state)
{
    (void)state;
    char got[64];
    assert_true(
        match(ESCALATION_PHRASES_DEFAULT, "Can I TALK to a   human, please?", got, sizeof(got)));
    assert_string_equal(got, "talk to a human");
    assert_true(match(ESCALATION_PHRASES_DEFAULT, "I want a Representative", got, sizeof(got)));
    assert_string_equal(got, "representative");
    assert_true(match(ESCALATION_PHRASES_DEFAULT, "a real\nperson", got, sizeof(got)));
    assert_string_equal(got, "real person");
    assert_false(match(ESCALATION_PHRASES_DEFAULT, "Is my windscreen covered?", got, sizeof(got)));
    assert_false(match(ESCALATION_PHRASES_DEFAULT, "talk to a hum", got, sizeof(got)));
    assert_false(match(ESCALATION_PHRASES_DEFAULT, "", got, sizeof(got)));
}

static void test_list_forms(void **state)
{
    (void)state;
    char got[8];
    /* spaces around items trimmed, empty items skipped, the phrase cut to the buffer */
    assert_true(match(" , ,  manager please ,", "Get me the MANAGER PLEASE", got, sizeof(got)));
    assert_string_equal(got, "manager");
    assert_false(match("", "anything", got, sizeof(got)));
    assert_false(match(" , ", "anything", got, sizeof(got)));
    assert_false(escalation_phrase_match(NULL, "x", 1, NULL, 0));
    /* only `len` bytes of the text are read */
    assert_false(escalation_phrase_match("human", "humanity", 4, NULL, 0));
    assert_true(escalation_phrase_match("human", "humanity", 5, NULL, 0));
    /* non-ASCII bytes compare exactly */
    assert_true(match("humain r\xc3\xa9"
                      "el",
                      "un humain r\xc3\xa9"
                      "el svp",
                      got, sizeof(got)));
    assert_false(match("humain r\xc3\xa9"
                       "el",
                       "un humain r\xc3\x89"
                       "el",
                       got, sizeof(got)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_phrases),
        cmocka_unit_test(test_list_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
