/* Unit tests of the prompt builder (prompts/prompt.h): transcript roles to model roles, which
 * items a turn's prompt leaves out, the agent's mark, merging, trimming to the budget, the system
 * template with each variable, and the errors. Templates come from a folder the tests write, so
 * every assertion is on exact strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/err.h"
#include "prompts/prompt.h"

#define FULL_TEMPLATE                                                                              \
    "A={{assistant_name}};C={{company_name}};N={{caller_name}};P={{policy_number}};"               \
    "H={{channel}};T={{today}}{{^caller_name}};anonymous{{/caller_name}}"

static char dir[64];       /* the tests' templates folder */
static char full_dir[96];  /* system.txt and voice.txt: FULL_TEMPLATE */
static char small_dir[96]; /* system.txt and voice.txt: "sys." (one token) */

/* The web template under its former name, system.txt, which a folder may still use. */
static void write_file(const char *folder, const char *text)
{
    static const char *const names[] = {"system.txt", "voice.txt"};
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", folder, names[i]);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        assert_int_equal(fclose(f), 0);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/parley-test-prompt-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(full_dir, sizeof(full_dir), "%s/full", dir);
    snprintf(small_dir, sizeof(small_dir), "%s/small", dir);
    if (mkdir(full_dir, 0700) != 0 || mkdir(small_dir, 0700) != 0)
        return -1;
    write_file(full_dir, FULL_TEMPLATE);
    write_file(small_dir, "sys.");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/system.txt", full_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/system.txt", small_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/voice.txt", full_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/voice.txt", small_dir);
    unlink(path);
    rmdir(full_dir);
    rmdir(small_dir);
    rmdir(dir);
    return 0;
}

static struct prompt_builder *builder(const char *templates_dir, uint32_t context_tokens,
                                      uint32_t max_output_tokens)
{
    const struct prompt_builder_opts o = {.templates_dir = templates_dir,
                                          .assistant_name = "Parley",
                                          .company_name = "Acme Insurance",
                                          .context_tokens = context_tokens,
                                          .max_output_tokens = max_output_tokens};
    struct prompt_builder *b = NULL;
    char err[200] = "";
    int rc = prompt_builder_create(&o, &b, err, sizeof(err));
    if (rc != PL_OK)
        fail_msg("prompt_builder_create: %s", err);
    return b;
}

#define CALLER(t, s)                                                                               \
    {                                                                                              \
        PROMPT_ROLE_CALLER, (t), (s), sizeof(s) - 1, false                                         \
    }
#define ASSISTANT(t, s)                                                                            \
    {                                                                                              \
        PROMPT_ROLE_ASSISTANT, (t), (s), sizeof(s) - 1, false                                      \
    }
#define FAILED(t) /* an answer stored with an error and no text */                                 \
    {                                                                                              \
        PROMPT_ROLE_ASSISTANT, (t), "", 0, true                                                    \
    }
#define AGENT(t, s)                                                                                \
    {                                                                                              \
        PROMPT_ROLE_AGENT, (t), (s), sizeof(s) - 1, false                                          \
    }

static const struct prompt_caller ada = {
    .session_id = "sid-1", .name = "Ada", .policy_number = "POL-1234", .channel = "web"};

/* Build turn `turn` with a roomy budget and check the roles and texts of the messages. */
static void expect(const struct prompt_history_item *items, size_t n, long turn,
                   const char *const *roles, const char *const *texts, size_t n_want)
{
    struct prompt_builder *b = builder(small_dir, 100000, 512);
    struct prompt p;
    assert_int_equal(prompt_build(b, &ada, items, n, turn, &p), PL_OK);
    assert_int_equal(p.n_messages, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_string_equal(p.messages[i].role, roles[i]);
        assert_string_equal(p.messages[i].text, texts[i]);
    }
    assert_int_equal(p.max_tokens, 512);
    prompt_cleanup(&p);
    prompt_builder_free(b);
}

static void test_callers_and_assistants(void **state)
{
    (void)state;
    const struct prompt_history_item items[] = {
        CALLER(1, "Is my shed covered?"),  ASSISTANT(1, "Yes, up to 2,500."),
        CALLER(2, "And the tools in it?"), ASSISTANT(2, "Tools are contents."),
        CALLER(3, "What is my excess?"),
    };
    const char *const roles[] = {"user", "assistant", "user", "assistant", "user"};
    const char *const texts[] = {"Is my shed covered?", "Yes, up to 2,500.", "And the tools in it?",
                                 "Tools are contents.", "What is my excess?"};
    expect(items, PL_ARRAY_LEN(items), 3, roles, texts, 5);
}

static void test_failed_answers_skipped(void **state)
{
    (void)state;
    /* Turn 1's answer failed (stored empty): its question merges with the next one. */
    const struct prompt_history_item items[] = {
        CALLER(1, "Hello?"),
        ASSISTANT(1, ""),
        CALLER(2, "Is anyone there?"),
    };
    const char *const roles[] = {"user"};
    const char *const texts[] = {"Hello?\n\nIs anyone there?"};
    expect(items, PL_ARRAY_LEN(items), 2, roles, texts, 1);
    /* Turn 2's answer failed with an error (the model refused it): its question is left out,
     * or it would be refused again with every later one; unanswered turn 3 stays. */
    const struct prompt_history_item refused[] = {
        CALLER(1, "hello"), ASSISTANT(1, "hi"),         CALLER(2, "refused one"),
        FAILED(2),          CALLER(3, "never started"), CALLER(4, "the question"),
    };
    const char *const roles2[] = {"user", "assistant", "user"};
    const char *const texts2[] = {"hello", "hi", "never started\n\nthe question"};
    expect(refused, PL_ARRAY_LEN(refused), 4, roles2, texts2, 3);
}

static void test_own_answer_and_later_turns_left_out(void **state)
{
    (void)state;
    /* Turn 2 is being answered again (after a crash): its partial answer is left out, and so
     * are turn 3's question and answer. */
    const struct prompt_history_item items[] = {
        CALLER(1, "q1"), ASSISTANT(1, "a1"), CALLER(2, "q2"), ASSISTANT(2, "a2 partial"),
        CALLER(3, "q3"), ASSISTANT(3, "a3"),
    };
    const char *const roles[] = {"user", "assistant", "user"};
    const char *const texts[] = {"q1", "a1", "q2"};
    expect(items, PL_ARRAY_LEN(items), 2, roles, texts, 3);
}

static void test_earlier_unanswered_questions_included(void **state)
{
    (void)state;
    /* q2 and q3 were sent while a1 streamed; turn 4 answers all of them at once. */
    const struct prompt_history_item items[] = {
        CALLER(1, "q1"), ASSISTANT(1, "a1"), CALLER(2, "q2"), CALLER(3, "q3"), CALLER(4, "q4"),
    };
    const char *const roles[] = {"user", "assistant", "user"};
    const char *const texts4[] = {"q1", "a1", "q2\n\nq3\n\nq4"};
    expect(items, PL_ARRAY_LEN(items), 4, roles, texts4, 3);
    /* Turn 3 is answered without q4, which has its own turn. */
    const char *const texts3[] = {"q1", "a1", "q2\n\nq3"};
    expect(items, PL_ARRAY_LEN(items), 3, roles, texts3, 3);
}

static void test_agent_words_marked(void **state)
{
    (void)state;
    const struct prompt_history_item items[] = {
        CALLER(1, "I want a person."),
        AGENT(1, "Hello, Ann here. How can I help?"),
        CALLER(2, "Thanks Ann."),
    };
    const char *const roles[] = {"user", "assistant", "user"};
    const char *const texts[] = {
        "I want a person.", "[A human agent wrote to the caller:] Hello, Ann here. How can I help?",
        "Thanks Ann."};
    expect(items, PL_ARRAY_LEN(items), 2, roles, texts, 3);
}

static void test_consecutive_roles_merged(void **state)
{
    (void)state;
    /* The assistant's answer and the agent's words are one assistant message. */
    const struct prompt_history_item items[] = {
        CALLER(1, "q1"),        CALLER(1, "q1 again"), ASSISTANT(1, "a1"),
        AGENT(1, "Ann joined"), CALLER(2, "q2"),
    };
    const char *const roles[] = {"user", "assistant", "user"};
    const char *const texts[] = {"q1\n\nq1 again",
                                 "a1\n\n[A human agent wrote to the caller:] Ann joined", "q2"};
    expect(items, PL_ARRAY_LEN(items), 2, roles, texts, 3);
}

/* Texts of 4, 8, 12, ... bytes cost 1, 2, 3, ... tokens; the small template 1 token. */
static const struct prompt_history_item budget_items[] = {
    CALLER(1, "u1.."),                 /* 1 */
    ASSISTANT(1, "a1......"),          /* 2 */
    CALLER(2, "u2.........."),         /* 3 */
    ASSISTANT(2, "a2.............."),  /* 4 */
    CALLER(3, "u3.................."), /* 5 */
};

/* The first message kept when turn 3 is built within context - max_output tokens. */
static void expect_trim(uint32_t context_tokens, uint32_t max_output_tokens, size_t n_kept,
                        const char *first)
{
    struct prompt_builder *b = builder(small_dir, context_tokens, max_output_tokens);
    struct prompt p;
    assert_int_equal(prompt_build(b, &ada, budget_items, 5, 3, &p), PL_OK);
    assert_string_equal(p.system, "sys.");
    assert_int_equal(p.n_messages, n_kept);
    assert_string_equal(p.messages[0].role, "user");
    assert_string_equal(p.messages[0].text, first);
    assert_string_equal(p.messages[p.n_messages - 1].role, "user");
    assert_string_equal(p.messages[p.n_messages - 1].text, "u3..................");
    assert_int_equal(p.max_tokens, (int)max_output_tokens);
    prompt_cleanup(&p);
    prompt_builder_free(b);
}

static void test_trimming_to_budget(void **state)
{
    (void)state;
    /* 1 + 15 tokens fit in 16 + 2 */
    expect_trim(18, 2, 5, "u1..");
    /* 14: dropping u1 and a1 is enough */
    expect_trim(16, 2, 3, "u2..........");
    /* 15: dropping u1 would do, but then a1 would lead: it goes too */
    expect_trim(17, 2, 3, "u2..........");
    /* 12: u1, a1 and u2 go, then a2 would lead: only the question stays */
    expect_trim(14, 2, 1, "u3..................");
    /* nothing fits: the question still stays */
    expect_trim(3, 2, 1, "u3..................");
}

static void today(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, n, "%Y-%m-%d", &tm);
}

/* p.system against `want` where "DATE" stands for today's UTC date (either side of midnight). */
static void assert_system(const struct prompt *p, const char *want, const char *d1, const char *d2)
{
    char a[512], b[512];
    const char *at = strstr(want, "DATE");
    assert_non_null(at);
    snprintf(a, sizeof(a), "%.*s%s%s", (int)(at - want), want, d1, at + 4);
    snprintf(b, sizeof(b), "%.*s%s%s", (int)(at - want), want, d2, at + 4);
    if (strcmp(p->system, a) != 0)
        assert_string_equal(p->system, b);
}

static void test_system_template_variables(void **state)
{
    (void)state;
    struct prompt_builder *b = builder(full_dir, 100000, 512);
    const struct prompt_history_item items[] = {CALLER(1, "q1")};
    char d1[16], d2[16];
    struct prompt p;

    today(d1, sizeof(d1));
    assert_int_equal(prompt_build(b, &ada, items, 1, 1, &p), PL_OK);
    today(d2, sizeof(d2));
    assert_system(&p, "A=Parley;C=Acme Insurance;N=Ada;P=POL-1234;H=web;T=DATE", d1, d2);
    assert_string_equal(p.user_id, "sid-1");
    prompt_cleanup(&p);

    /* "" and NULL are both absent */
    const struct prompt_caller anon = {
        .session_id = "", .name = "", .policy_number = NULL, .channel = "voice"};
    today(d1, sizeof(d1));
    assert_int_equal(prompt_build(b, &anon, items, 1, 1, &p), PL_OK);
    today(d2, sizeof(d2));
    assert_system(&p, "A=Parley;C=Acme Insurance;N=;P=;H=voice;T=DATE;anonymous", d1, d2);
    assert_null(p.user_id);
    prompt_cleanup(&p);

    today(d1, sizeof(d1));
    assert_int_equal(prompt_build(b, NULL, items, 1, 1, &p), PL_OK);
    today(d2, sizeof(d2));
    assert_system(&p, "A=Parley;C=Acme Insurance;N=;P=;H=;T=DATE;anonymous", d1, d2);
    prompt_cleanup(&p);
    prompt_builder_free(b);
}

static void test_builtin_template(void **state)
{
    (void)state;
    struct prompt_builder *b = builder(NULL, 100000, 512);
    const struct prompt_history_item items[] = {CALLER(1, "q1")};
    struct prompt p;
    assert_int_equal(prompt_build(b, &ada, items, 1, 1, &p), PL_OK);
    assert_non_null(strstr(p.system, "You are Parley, the virtual assistant of Acme Insurance's"));
    assert_non_null(strstr(p.system, "\n- The caller is Ada.\n- Their policy number is POL-1234.\n"
                                     "- Channel: web.\n"));
    assert_null(strstr(p.system, "{{"));
    prompt_cleanup(&p);
    prompt_builder_free(b);
}

static void test_question_missing(void **state)
{
    (void)state;
    struct prompt_builder *b = builder(small_dir, 100000, 512);
    const struct prompt_history_item items[] = {
        CALLER(1, "q1"),
        ASSISTANT(1, "a1"),
        ASSISTANT(2, "an answer without its question"),
        CALLER(3, "q3"),
    };
    struct prompt p;
    memset(&p, 0x5a, sizeof(p));
    assert_int_equal(prompt_build(b, &ada, items, PL_ARRAY_LEN(items), 2, &p), PL_ENOTFOUND);
    assert_null(p.system);
    assert_null(p.messages);
    assert_int_equal(p.n_messages, 0);
    assert_null(p._storage);
    prompt_cleanup(&p); /* harmless */
    assert_int_equal(prompt_build(b, &ada, NULL, 0, 1, &p), PL_ENOTFOUND);
    prompt_builder_free(b);
}

static void test_no_citations_and_owned_texts(void **state)
{
    (void)state;
    struct prompt_builder *b = builder(small_dir, 100000, 512);
    char *q = pl_strdup("a question that is freed after the build");
    char *a = pl_strdup("an answer");
    const struct prompt_history_item items[] = {
        {PROMPT_ROLE_CALLER, 1, "q1", 2, false},
        {PROMPT_ROLE_ASSISTANT, 1, a, strlen(a), false},
        {PROMPT_ROLE_CALLER, 2, q, strlen(q), false},
    };
    struct prompt p;
    assert_int_equal(prompt_build(b, &ada, items, 3, 2, &p), PL_OK);
    pl_free(q); /* the prompt holds its own copies */
    pl_free(a);
    assert_int_equal(p.n_citations, 0);
    assert_null(p.citations);
    assert_string_equal(p.messages[1].text, "an answer");
    assert_string_equal(p.messages[2].text, "a question that is freed after the build");
    prompt_cleanup(&p);
    assert_null(p._storage);
    assert_null(p.messages);
    prompt_cleanup(&p); /* twice is fine */

    /* a hand-filled prompt owns nothing */
    const struct prompt_message m[] = {{"user", "hi"}};
    struct prompt hand = {.messages = m, .n_messages = 1, .max_tokens = 10};
    prompt_cleanup(&hand);
    assert_int_equal(hand.n_messages, 0);
    prompt_cleanup(NULL);
    prompt_builder_free(b);
}

static void test_create_errors(void **state)
{
    (void)state;
    struct prompt_builder *b = (struct prompt_builder *)&b;
    char err[200] = "";
    struct prompt_builder_opts o = {
        .templates_dir = "/nonexistent/parley", .context_tokens = 1000, .max_output_tokens = 100};
    assert_int_equal(prompt_builder_create(&o, &b, err, sizeof(err)), PL_ENOTFOUND);
    assert_null(b);
    assert_non_null(strstr(err, "/nonexistent/parley: "));
    o.templates_dir = small_dir;
    o.max_output_tokens = 0;
    assert_int_equal(prompt_builder_create(&o, &b, err, sizeof(err)), PL_EINVAL);
    assert_null(b);
    prompt_builder_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callers_and_assistants),
        cmocka_unit_test(test_failed_answers_skipped),
        cmocka_unit_test(test_own_answer_and_later_turns_left_out),
        cmocka_unit_test(test_earlier_unanswered_questions_included),
        cmocka_unit_test(test_agent_words_marked),
        cmocka_unit_test(test_consecutive_roles_merged),
        cmocka_unit_test(test_trimming_to_budget),
        cmocka_unit_test(test_system_template_variables),
        cmocka_unit_test(test_builtin_template),
        cmocka_unit_test(test_question_missing),
        cmocka_unit_test(test_no_citations_and_owned_texts),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
