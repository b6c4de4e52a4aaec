/* Unit tests for knowledge/kb_text: word cutting and folding, stop words, the stemmer word by
 * word (and its idempotence), and the term list of whole sentences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "knowledge/kb_text.h"

/* The words of `s` joined by '|' (no stop words, no stemming). */
static void words_of(const char *s, char *out, size_t cap)
{
    char w[KB_WORD_MAX + 1];
    size_t at = 0, n, len = 0;
    out[0] = '\0';
    while ((n = kb_next_word(s, strlen(s), &at, w)) > 0) {
        assert_true(len + n + 2 < cap);
        if (len)
            out[len++] = '|';
        memcpy(out + len, w, n + 1);
        len += n;
    }
}

/* The terms of `s` joined by '|'. */
static void terms_of(const char *s, char *out, size_t cap)
{
    struct kb_terms t;
    kb_terms_init(&t);
    kb_terms_add(&t, s, strlen(s));
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t.n; i++) {
        size_t n = strlen(t.v[i]);
        assert_true(len + n + 2 < cap);
        if (len)
            out[len++] = '|';
        memcpy(out + len, t.v[i], n + 1);
        len += n;
    }
    kb_terms_cleanup(&t);
}

#define WORDS(in, want)                                                                            \
    do {                                                                                           \
        char got_[512];                                                                            \
        words_of(in, got_, sizeof(got_));                                                          \
        assert_string_equal(got_, want);                                                           \
    } while (0)

#define TERMS(in, want)                                                                            \
    do {                                                                                           \
        char got_[512];                                                                            \
        terms_of(in, got_, sizeof(got_));                                                          \
        assert_string_equal(got_, want);                                                           \
    } while (0)

static void test_words(void **state)
{
    (void)state;
    WORDS("", "");
    WORDS("  ,;  ", "");
    WORDS("Hello, World!", "hello|world");
    WORDS("The excess is \xc2\xa3"
          "95.",
          "the|excess|is|95");
    WORDS("\xc2\xa3"
          "1,000.50 or \xe2\x82\xac"
          "2.5m",
          "1000.50|or|2.5m");
    WORDS("end. 3.", "end|3");
    WORDS("don't driver's", "dont|drivers");
    WORDS("driver\xe2\x80\x99s", "drivers");
    WORDS("'quoted' word", "quoted|word");
    WORDS("ABC-123_x", "abc|123|x");
    /* Latin-1 capitals fold; other non-ASCII letters stay inside the word, whole. */
    WORDS("CAF\xc3\x89 Caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9|caf\xc3\xa9|na\xc3\xafve");
    WORDS("\xd0\x9c\xd0\xb8\xd1\x80 \xe6\x97\xa5\xe6\x9c\xac", "\xd0\x9c\xd0\xb8\xd1\x80|"
                                                               "\xe6\x97\xa5\xe6\x9c\xac");
    /* Dashes, curly quotes, NBSP and emoji separate words. */
    WORDS("a\xe2\x80\x94"
          "b\xc2\xa0"
          "c\xe2\x80\x9c"
          "d\xe2\x80\x9d\xf0\x9f\x98\x80"
          "e",
          "a|b|c|d|e");
    /* Invalid UTF-8 bytes separate words and never reach a word. */
    WORDS("ab\xff"
          "cd\xc3",
          "ab|cd");
    WORDS("x\xe2\x82", "x");
}

static void test_long_word_cut_at_character(void **state)
{
    (void)state;
    char in[200], w[KB_WORD_MAX + 1];
    /* 63 ASCII letters then a 2-byte letter: it would end at byte 65, so it is left out. */
    memset(in, 'a', 63);
    memcpy(in + 63, "\xc3\xa9zzz next", 10);
    size_t at = 0;
    assert_int_equal(kb_next_word(in, 73, &at, w), 63);
    assert_int_equal(at, 68);
    assert_int_equal(kb_next_word(in, 73, &at, w), 4);
    assert_string_equal(w, "next");
}

static void test_stop_words(void **state)
{
    (void)state;
    assert_true(kb_is_stopword("the", 3));
    assert_true(kb_is_stopword("yourselves", 10));
    assert_true(kb_is_stopword("a", 1));
    assert_false(kb_is_stopword("not", 3));
    assert_false(kb_is_stopword("no", 2));
    assert_false(kb_is_stopword("cover", 5));
    assert_false(kb_is_stopword("", 0));
    assert_false(kb_is_stopword("th", 2));
}

static void stem_is(const char *in, const char *want)
{
    char w[KB_WORD_MAX + 1];
    size_t n = strlen(in);
    memcpy(w, in, n + 1);
    n = kb_stem(w, n);
    assert_int_equal(n, strlen(w));
    if (strcmp(w, want) != 0)
        fail_msg("stem(%s) = %s, want %s", in, w, want);
    /* idempotent */
    size_t m = kb_stem(w, n);
    assert_int_equal(m, n);
    assert_string_equal(w, want);
}

static void test_stemmer(void **state)
{
    (void)state;
    stem_is("cover", "cover");
    stem_is("covers", "cover");
    stem_is("covered", "cover");
    stem_is("covering", "cover");
    stem_is("policy", "policy");
    stem_is("policies", "policy");
    stem_is("applied", "apply");
    stem_is("claims", "claim");
    stem_is("claimed", "claim");
    stem_is("excess", "excess");
    stem_is("excesses", "excess");
    stem_is("losses", "loss");
    stem_is("taxes", "tax");
    stem_is("branches", "branch");
    stem_is("bonus", "bonus");
    stem_is("basis", "basis");
    stem_is("monthly", "month");
    stem_is("reply", "reply");
    stem_is("stopped", "stop");
    stem_is("billing", "bill");
    stem_is("added", "add");
    stem_is("speed", "speed");
    stem_is("agreed", "agreed");
    stem_is("string", "string");
    stem_is("drive", "driv");
    stem_is("driving", "driv");
    stem_is("drives", "driv");
    stem_is("meetings", "meet");
    stem_is("windscreens", "windscreen");
    stem_is("vehicles", "vehicl");
    stem_is("houses", "hous");
    stem_is("car", "car");
    stem_is("care", "care");
    stem_is("gas", "gas");
    stem_is("95", "95");
    stem_is("covers2", "covers2");
    stem_is("caf\xc3\xa9s", "caf\xc3\xa9s");
}

static void test_terms(void **state)
{
    (void)state;
    TERMS("Is my windscreen covered if it cracks?", "windscreen|cover|crack");
    TERMS("What is NOT covered by the policy", "not|cover|policy");
    TERMS("The glass excess is \xc2\xa3"
          "95 per claim",
          "glass|excess|95|per|claim");
    TERMS("", "");
    TERMS("the of and", "");
}

static bool stop_after_two(const char *term, size_t n, void *ud)
{
    (void)term;
    (void)n;
    return ++*(int *)ud < 2;
}

static void test_terms_each_stops(void **state)
{
    (void)state;
    int seen = 0;
    assert_false(kb_terms_each("one two three", 13, stop_after_two, &seen));
    assert_int_equal(seen, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),      cmocka_unit_test(test_long_word_cut_at_character),
        cmocka_unit_test(test_stop_words), cmocka_unit_test(test_stemmer),
        cmocka_unit_test(test_terms),      cmocka_unit_test(test_terms_each_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
