/* Unit tests for bot/escalation_signals: the signal list, question normalisation and digests,
 * unsure answers, what a turn observes and the reasons decided from the session's counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bot/escalation_signals.h"
#include "common/alloc.h"
#include "common/err.h"

#define ALL                                                                                        \
    (ESC_SIGNAL_UNSURE | ESC_SIGNAL_NO_PASSAGES | ESC_SIGNAL_UNAVAILABLE | ESC_SIGNAL_REPEAT)

static void test_parse(void **state)
{
    (void)state;
    unsigned s = 99;
    char err[160] = "";
    assert_int_equal(esc_signals_parse(ESC_SIGNALS_DEFAULT, &s, err, sizeof(err)), PL_OK);
    assert_int_equal(s, ALL);
    assert_int_equal(esc_signals_parse(" repeat , ,unsure ", &s, err, sizeof(err)), PL_OK);
    assert_int_equal(s, ESC_SIGNAL_REPEAT | ESC_SIGNAL_UNSURE);
    assert_int_equal(esc_signals_parse("none", &s, err, sizeof(err)), PL_OK);
    assert_int_equal(s, 0);
    assert_int_equal(esc_signals_parse("", &s, err, sizeof(err)), PL_OK);
    assert_int_equal(s, 0);
    assert_int_equal(esc_signals_parse(NULL, &s, err, sizeof(err)), PL_OK);
    assert_int_equal(s, 0);
    assert_int_equal(esc_signals_parse("unsure,Repeat", &s, err, sizeof(err)), PL_EINVAL);
    assert_int_equal(s, 0);
    assert_string_equal(err, "--escalation-signals: unknown signal \"Repeat\" (unsure, "
                             "no_passages, unavailable, repeat or none)");
    assert_int_equal(esc_signals_parse("no-passages", &s, err, sizeof(err)), PL_EINVAL);
}

static void norm_is(const char *in, const char *want)
{
    char *got = esc_question_normalise(in, strlen(in));
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_normalise(void **state)
{
    (void)state;
    norm_is("  Is my   WINDSCREEN\tcovered?? ", "is my windscreen covered");
    norm_is("is my windscreen covered", "is my windscreen covered");
    norm_is("Hello!\n", "hello");
    norm_is("what now ? ! ...", "what now");
    norm_is("Wait\xE2\x80\xA6", "wait");                             /* ellipsis */
    norm_is("\xC3\x89t\xC3\xA9 ?\xEF\xBC\x9F", "\xC3\x89t\xC3\xA9"); /* non-ASCII kept as is */
    norm_is("?!", "");
    norm_is("", "");
    norm_is("a.b", "a.b"); /* only at the end */
    /* a NUL byte inside is kept (lengths, not strings) */
    char *got = esc_question_normalise("a\0b?", 4);
    assert_memory_equal(got, "a\0b", 4);
    pl_free(got);
}

static void test_digest(void **state)
{
    (void)state;
    char a[ESC_DIGEST_SIZE], b[ESC_DIGEST_SIZE];
    esc_question_digest("Is glass covered?", 17, a);
    esc_question_digest("  is GLASS   covered ", 21, b);
    assert_int_equal(strlen(a), 16);
    assert_string_equal(a, b);
    /* FNV-1a 64 of "a" */
    esc_question_digest("A!", 2, a);
    assert_string_equal(a, "af63dc4c8601ec8c");
    esc_question_digest("is glass covered too", 20, b);
    assert_string_not_equal(a, b);
    esc_question_digest(" ? ", 3, a);
    assert_string_equal(a, "");
}

static bool unsure(const char *phrases, const char *text)
{
    return esc_answer_unsure(phrases, text, strlen(text));
}

static void test_unsure(void **state)
{
    (void)state;
    const char *d = ESC_UNSURE_PHRASES_DEFAULT;
    assert_true(unsure(d, "Sorry, I don't know that."));
    assert_true(unsure(d, "I DON\xE2\x80\x99T KNOW")); /* typographic apostrophe */
    assert_true(unsure(d, "Honestly I'm  not\nsure."));
    assert_true(unsure(d, "I couldn't find anything about that."));
    assert_true(unsure(d, "I do not have information on boats."));
    /* the offline provider's answer (connectors/local_reply.c) */
    assert_true(unsure(d, "No AI model is configured on this server, so I am running in offline "
                          "demo mode and cannot answer questions yet."));
    assert_false(unsure(d, "Your windscreen is covered; the excess is 75 GBP."));
    assert_false(unsure(d, "I know this one"));
    assert_false(unsure("", "I don't know"));
    assert_false(unsure(NULL, "I don't know"));
    assert_false(unsure("no idea", "I don't know"));
    assert_true(unsure("no idea", "No Idea, sorry"));
    /* a lone \xE2 at the end is not read past */
    assert_false(unsure(d, "\xE2"));
}

static struct turn_end end_with(const char *text, enum api_error err)
{
    struct turn_end e = {0};
    e.turn = 3;
    e.answered_in = 3;
    e.stop_reason = err ? "upstream_error" : "end_turn";
    e.text = text;
    e.text_len = strlen(text);
    e.error = err;
    return e;
}

static void observe(unsigned on, const struct turn_end *end, const char *q, int passages,
                    struct esc_observation *o)
{
    const struct turn_finished f = {
        .end = end, .question = q, .question_len = strlen(q), .passages = passages};
    esc_observe(on, ESC_UNSURE_PHRASES_DEFAULT, &f, o);
}

static void test_observe(void **state)
{
    (void)state;
    struct esc_observation o;
    struct turn_end e = end_with("I'm not sure about that.", API_ERR_NONE);
    observe(ALL, &e, "Is glass covered?", 0, &o);
    assert_true(o.unsure);
    assert_int_equal(o.miss, 1);
    assert_false(o.unavailable);
    char want[ESC_DIGEST_SIZE];
    esc_question_digest("is glass covered", 16, want);
    assert_string_equal(o.question, want);
    /* passages found; no knowledge base */
    observe(ALL, &e, "q", 2, &o);
    assert_int_equal(o.miss, 0);
    observe(ALL, &e, "q", -1, &o);
    assert_int_equal(o.miss, -1);
    /* switched off: nothing observed */
    observe(ESC_SIGNAL_UNAVAILABLE, &e, "Is glass covered?", 0, &o);
    assert_false(o.unsure);
    assert_int_equal(o.miss, -1);
    assert_string_equal(o.question, "");
    /* failed before any text: unavailable only with upstream_unavailable */
    e = end_with("", API_ERR_UPSTREAM_UNAVAILABLE);
    observe(ALL, &e, "q", 1, &o);
    assert_true(o.unavailable);
    assert_false(o.unsure);
    observe(ALL & ~ESC_SIGNAL_UNAVAILABLE, &e, "q", 1, &o);
    assert_false(o.unavailable);
    e = end_with("", API_ERR_RATE_LIMITED);
    observe(ALL, &e, "q", 1, &o);
    assert_false(o.unavailable);
    /* a failure after text is not "unavailable" */
    e = end_with("I don't know what hap", API_ERR_UPSTREAM_UNAVAILABLE);
    observe(ALL, &e, "q", 1, &o);
    assert_false(o.unavailable);
    assert_true(o.unsure);
}

static void test_decide(void **state)
{
    (void)state;
    struct esc_observation o = {.unsure = true, .miss = 1, .unavailable = false};
    struct sess_signal_counts c = {.noted = true, .unsure = 1, .misses = 1, .repeated = false};
    /* one unsure answer, one miss: nothing yet */
    assert_null(esc_decide(ALL, &o, &c));
    c.unsure = 2;
    assert_string_equal(esc_decide(ALL, &o, &c), "the bot could not answer twice");
    /* the third unsure answer does not escalate again */
    c.unsure = 3;
    assert_null(esc_decide(ALL, &o, &c));
    c.misses = 2;
    assert_string_equal(esc_decide(ALL, &o, &c), "no passage of the knowledge base matched twice");
    assert_null(esc_decide(ALL & ~ESC_SIGNAL_NO_PASSAGES, &o, &c));
    /* the count alone is not enough: this turn must be the unsure one / the miss */
    o.unsure = false;
    o.miss = 0;
    c.unsure = 2;
    assert_null(esc_decide(ALL, &o, &c));
    c.repeated = true;
    assert_string_equal(esc_decide(ALL, &o, &c), "the caller repeated a question");
    assert_null(esc_decide(ALL & ~ESC_SIGNAL_REPEAT, &o, &c));
    /* unavailable first, with or without the memory */
    o.unavailable = true;
    assert_string_equal(esc_decide(ALL, &o, &c), "the assistant is unavailable");
    assert_string_equal(esc_decide(ESC_SIGNAL_UNAVAILABLE, &o, NULL),
                        "the assistant is unavailable");
    /* a turn noted before decides nothing more */
    o.unavailable = false;
    c.noted = false;
    assert_null(esc_decide(ALL, &o, &c));
    assert_null(esc_decide(ALL, &o, NULL));
    /* the order: unsure before misses before repeat */
    struct esc_observation all = {.unsure = true, .miss = 1};
    struct sess_signal_counts both = {.noted = true, .unsure = 2, .misses = 2, .repeated = true};
    assert_string_equal(esc_decide(ALL, &all, &both), "the bot could not answer twice");
    assert_string_equal(esc_decide(ESC_SIGNAL_NO_PASSAGES | ESC_SIGNAL_REPEAT, &all, &both),
                        "no passage of the knowledge base matched twice");
    assert_false(esc_needs_memory(ESC_SIGNAL_UNAVAILABLE));
    assert_false(esc_needs_memory(0));
    assert_true(esc_needs_memory(ESC_SIGNAL_REPEAT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),   cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_digest),  cmocka_unit_test(test_unsure),
        cmocka_unit_test(test_observe), cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
