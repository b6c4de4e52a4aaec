/* Unit tests of the offline provider's extractive summary (connectors/local_reply.h,
 * local_reply_summary): exact text for answered turns, a previous summary, unanswered questions,
 * agents' words, failed answers, clipping, the line cap, and nothing to summarise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "connectors/local_reply.h"
#include "prompts/prompt.h"

#define ITEM(role, t, s)                                                                           \
    {                                                                                              \
        (role), (t), (s), sizeof(s) - 1, false                                                     \
    }
#define CALLER(t, s)    ITEM(PROMPT_ROLE_CALLER, t, s)
#define ASSISTANT(t, s) ITEM(PROMPT_ROLE_ASSISTANT, t, s)
#define AGENT(t, s)     ITEM(PROMPT_ROLE_AGENT, t, s)

static void expect(const char *previous, const struct prompt_history_item *items, size_t n,
                   const char *want)
{
    const struct prompt_fold fold = {.previous = previous, .items = items, .n_items = n};
    char *got = local_reply_summary(&fold);
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_turns(void **state)
{
    (void)state;
    const struct prompt_history_item items[] = {
        CALLER(1, "Is my  windscreen\ncovered?"),
        ASSISTANT(1, "Yes, with a 100 GBP excess."),
        CALLER(2, "And mirrors?"),
        {PROMPT_ROLE_ASSISTANT, 2, "", 0, true}, /* failed */
        CALLER(3, "Hello?"),
        AGENT(3, "An agent here."),
        ASSISTANT(3, "Late answer."),
    };
    expect(NULL, items, 2,
           "Caller asked: Is my windscreen covered?; Bot answered: Yes, with a 100 GBP excess.");
    expect(NULL, items, 7,
           "Caller asked: Is my windscreen covered?; Bot answered: Yes, with a 100 GBP excess.\n"
           "Caller asked: And mirrors?\n"
           "Caller asked: Hello?\n"
           "Agent said: An agent here.\n"
           "Bot answered: Late answer.");
    expect("Earlier: the caller is Ada.", items + 2, 1,
           "Earlier: the caller is Ada.\nCaller asked: And mirrors?");
    expect("Line one\n", items + 6, 1, "Line one\nBot answered: Late answer.");
}

static void test_clipped_and_bounded(void **state)
{
    (void)state;
    const struct prompt_history_item long_one[] = {
        CALLER(1, "0123456789012345678901234567890123456789012345678901234567890123456789"
                  "0123456789ABCDEF"),
        ASSISTANT(1, "\xff ok"),
    };
    expect(NULL, long_one, 2,
           "Caller asked: 0123456789012345678901234567890123456789012345678901234567890123456789"
           "0123456789\xE2\x80\xA6; Bot answered: \xEF\xBF\xBD ok");

    /* 25 answered turns: the last LOCAL_SUMMARY_LINES_MAX lines stay. */
    struct prompt_history_item many[50];
    char texts[50][16];
    for (int i = 0; i < 25; i++) {
        snprintf(texts[2 * i], sizeof(texts[0]), "q%d", i + 1);
        snprintf(texts[2 * i + 1], sizeof(texts[0]), "a%d", i + 1);
        many[2 * i] = (struct prompt_history_item){PROMPT_ROLE_CALLER, i + 1, texts[2 * i],
                                                   strlen(texts[2 * i]), false};
        many[2 * i + 1] = (struct prompt_history_item){
            PROMPT_ROLE_ASSISTANT, i + 1, texts[2 * i + 1], strlen(texts[2 * i + 1]), false};
    }
    const struct prompt_fold fold = {.items = many, .n_items = 50};
    char *got = local_reply_summary(&fold);
    assert_true(strncmp(got, "Caller asked: q6; Bot answered: a6\n", 35) == 0);
    size_t lines = 1;
    for (const char *p = got; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, LOCAL_SUMMARY_LINES_MAX);
    assert_non_null(strstr(got, "\nCaller asked: q25; Bot answered: a25"));
    assert_int_equal(got[strlen(got) - 1], '5');
    pl_free(got);
}

static void test_nothing(void **state)
{
    (void)state;
    const struct prompt_history_item failed[] = {{PROMPT_ROLE_ASSISTANT, 1, "", 0, true}};
    expect(NULL, failed, 1, "(nothing to summarise)");
    expect("", NULL, 0, "(nothing to summarise)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turns),
        cmocka_unit_test(test_clipped_and_bounded),
        cmocka_unit_test(test_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
