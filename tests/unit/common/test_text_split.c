/* Cutting answers into channel messages: at sentence ends in the window's second half, else at
 * spaces, else at code point boundaries; no empty piece, no space at a piece's ends, nothing
 * longer than the limit in code points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/text_split.h"
#include "common/utf8.h"

/* The pieces of `s` joined with "|". */
static const char *pieces(const char *s, size_t max_chars)
{
    static char out[4096];
    struct text_span sp[64];
    size_t n = text_split(s, strlen(s), max_chars, sp, 64);
    assert_true(n <= 64);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(sp[i].len > 0);
        assert_true(pl_utf8_count(s + sp[i].off, sp[i].len) <= max_chars);
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? "|" : "", (int)sp[i].len,
                              s + sp[i].off);
    }
    out[o] = '\0';
    return out;
}

static void test_short_text_is_one_piece(void **state)
{
    (void)state;
    assert_string_equal(pieces("Flood damage is covered.", 1024), "Flood damage is covered.");
    assert_string_equal(pieces("  padded \n", 1024), "padded");
    assert_string_equal(pieces("", 1024), "");
    assert_string_equal(pieces(" \n\t ", 1024), "");
}

static void test_cut_after_a_sentence(void **state)
{
    (void)state;
    /* 20-character window: "One two three. Four" is 19; the sentence end is past half. */
    assert_string_equal(pieces("One two three. Four five six.", 20),
                        "One two three.|Four five six.");
    assert_string_equal(pieces("Is it? Yes! It is... Truly.", 12), "Is it? Yes!|It is...|Truly.");
    /* An ellipsis character and a line break end sentences too. */
    assert_string_equal(pieces("Wait for it\xE2\x80\xA6 then go on.", 16),
                        "Wait for it\xE2\x80\xA6|then go on.");
    assert_string_equal(pieces("First line\nsecond line here", 16), "First line|second line here");
    /* A window that ends exactly at a sentence's end. */
    assert_string_equal(pieces("Abcdefghi. Jklm.", 10), "Abcdefghi.|Jklm.");
}

static void test_early_sentence_end_gives_way_to_a_word_end(void **state)
{
    (void)state;
    /* "Hi." is 3 of 20: cutting there would leave a stub. */
    assert_string_equal(pieces("Hi. alpha beta gamma delta epsilon", 20),
                        "Hi. alpha beta gamma|delta epsilon");
}

static void test_never_inside_a_word(void **state)
{
    (void)state;
    assert_string_equal(pieces("alpha beta gamma delta", 11), "alpha beta|gamma delta");
    /* A word followed by a space exactly at the window's end is whole. */
    assert_string_equal(pieces("abcde fghij klm", 11), "abcde fghij|klm");
    /* A word longer than the window is cut where it must be. */
    assert_string_equal(pieces("see https://example.com/abcdefghij now", 10),
                        "see|https://ex|ample.com/|abcdefghij|now");
}

static void test_counts_code_points_not_bytes(void **state)
{
    (void)state;
    /* Five two-byte characters a word: a 5-character window holds one word (10 bytes). */
    const char *s =
        "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 \xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";
    assert_string_equal(
        pieces(s, 5),
        "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9|\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9");
    /* A hard cut never splits a sequence: 3 characters of a 4-byte one each. */
    const char *emoji = "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
    struct text_span sp[4];
    assert_int_equal(text_split(emoji, strlen(emoji), 3, sp, 4), 2);
    assert_int_equal(sp[0].off, 0);
    assert_int_equal(sp[0].len, 12);
    assert_int_equal(sp[1].off, 12);
    assert_int_equal(sp[1].len, 4);
}

static void test_count_beyond_cap(void **state)
{
    (void)state;
    struct text_span sp[2];
    const char *s = "a b c d e";
    assert_int_equal(text_split(s, strlen(s), 1, sp, 2), 5);
    assert_int_equal(sp[1].off, 2);
    assert_int_equal(sp[1].len, 1);
    /* The Lex limit on a long answer: every piece fits, the words are all there in order. */
    char big[3000];
    size_t o = 0;
    for (int i = 0; o + 32 < sizeof(big); i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "Sentence number %d is here. ", i);
    struct text_span many[8];
    size_t n = text_split(big, o, 1024, many, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_true(many[i].len <= 1024);
        assert_int_equal(big[many[i].off + many[i].len - 1], '.');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_text_is_one_piece),
        cmocka_unit_test(test_cut_after_a_sentence),
        cmocka_unit_test(test_early_sentence_end_gives_way_to_a_word_end),
        cmocka_unit_test(test_never_inside_a_word),
        cmocka_unit_test(test_counts_code_points_not_bytes),
        cmocka_unit_test(test_count_beyond_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
