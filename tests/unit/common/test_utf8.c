/* Unit tests for common/utf8: strict RFC 3629 validation (boundaries, overlongs, surrogates,
 * truncation) and code point counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/utf8.h"

#define VALID(lit)   assert_true(pl_utf8_valid(lit, sizeof(lit) - 1))
#define INVALID(lit) assert_false(pl_utf8_valid(lit, sizeof(lit) - 1))

static void test_ascii_and_empty(void **state)
{
    (void)state;
    assert_true(pl_utf8_valid("", 0));
    assert_true(pl_utf8_valid(NULL, 0));
    VALID("hello, world");
    VALID("\x7f");
    /* An embedded NUL is U+0000, which is well-formed UTF-8. */
    VALID("a\0b");
}

static void test_boundaries_valid(void **state)
{
    (void)state;
    VALID("\xc2\x80");         /* U+0080 */
    VALID("\xdf\xbf");         /* U+07FF */
    VALID("\xe0\xa0\x80");     /* U+0800 */
    VALID("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
    VALID("\xee\x80\x80");     /* U+E000, just above them */
    VALID("\xef\xbf\xbf");     /* U+FFFF */
    VALID("\xf0\x90\x80\x80"); /* U+10000 */
    VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    VALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

static void test_overlongs(void **state)
{
    (void)state;
    INVALID("\xc0\x80");         /* NUL in two bytes */
    INVALID("\xc1\xbf");         /* U+007F in two bytes */
    INVALID("\xe0\x80\x80");     /* NUL in three bytes */
    INVALID("\xe0\x9f\xbf");     /* U+07FF in three bytes */
    INVALID("\xf0\x80\x80\x80"); /* NUL in four bytes */
    INVALID("\xf0\x8f\xbf\xbf"); /* U+FFFF in four bytes */
    INVALID("\xc0\xaf");         /* the classic overlong '/' */
}

static void test_surrogates_and_range(void **state)
{
    (void)state;
    INVALID("\xed\xa0\x80");             /* U+D800 */
    INVALID("\xed\xbf\xbf");             /* U+DFFF */
    INVALID("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 pair */
    INVALID("\xf4\x90\x80\x80");         /* U+110000 */
    INVALID("\xf5\x80\x80\x80");
    INVALID("\xf8\x88\x80\x80\x80"); /* old five-byte form */
    INVALID("\xfe");
    INVALID("\xff");
}

static void test_bad_sequences(void **state)
{
    (void)state;
    INVALID("\x80");             /* lone continuation */
    INVALID("a\xbf");            /* continuation after ASCII */
    INVALID("\xc3");             /* truncated two-byte */
    INVALID("\xe2\x82");         /* truncated three-byte */
    INVALID("\xf0\x9f\x98");     /* truncated four-byte */
    INVALID("\xc3(");            /* lead then non-continuation */
    INVALID("\xe2\x28\xa1");     /* bad second byte */
    INVALID("\xe2\x82\x28");     /* bad third byte */
    INVALID("\xf0\x9f\x98\x28"); /* bad fourth byte */
    /* Truncation by length: the bytes exist in memory but are outside the range given. */
    assert_false(pl_utf8_valid("\xc3\xa9", 1));
    assert_true(pl_utf8_valid("\xc3\xa9", 2));
}

static void test_seq_len(void **state)
{
    (void)state;
    assert_int_equal(pl_utf8_seq_len("", 0), 0);
    assert_int_equal(pl_utf8_seq_len("a", 1), 1);
    assert_int_equal(pl_utf8_seq_len("\xc3\xa9x", 3), 2);
    assert_int_equal(pl_utf8_seq_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(pl_utf8_seq_len("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(pl_utf8_seq_len("\xf0\x9f\x98\x80", 3), 0);
    assert_int_equal(pl_utf8_seq_len("\x80", 1), 0);
    assert_int_equal(pl_utf8_seq_len("\xed\xa0\x80", 3), 0);
}

static void test_count(void **state)
{
    (void)state;
    assert_int_equal(pl_utf8_count("", 0), 0);
    assert_int_equal(pl_utf8_count("abc", 3), 3);
    const char *mixed = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* "café € 😀" */
    assert_int_equal(pl_utf8_count(mixed, strlen(mixed)), 8);
    assert_int_equal(pl_utf8_count("a\0b", 3), 3);
}

static void test_control_characters(void **state)
{
    (void)state;
#define HAS(lit) pl_utf8_has_control(lit, sizeof(lit) - 1)
    assert_false(HAS(""));
    assert_false(HAS("web"));
    assert_false(HAS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ~"));
    assert_false(HAS("\xc2\xa0"));     /* U+00A0, no-break space: not a control */
    assert_false(HAS("\xe2\x80\xaa")); /* U+202A is a format character, escaped in logs */
    assert_true(HAS("web\r\nX-Injected: 1"));
    assert_true(HAS("a\tb"));
    assert_true(HAS("\x1b[2J"));
    assert_true(HAS("a\0b"));
    assert_true(HAS("\x7f"));
    assert_true(HAS("\xc2\x80")); /* U+0080 */
    assert_true(HAS("\xc2\x9b"
                    "0m")); /* U+009B, CSI */
    assert_true(HAS("a\xe2\x80\xa8"));
    assert_true(HAS("a\xe2\x80\xa9"));
#undef HAS
}

/* A prefix of at most N bytes that does not end inside a sequence. */
static void test_cut(void **state)
{
    (void)state;
    const char *s = "ab\xC3\xA9\xF0\x9F\x98\x80"; /* a b é 😀: 2 + 2 + 4 bytes */
    assert_int_equal(pl_utf8_cut(s, 8, 8), 8);
    assert_int_equal(pl_utf8_cut(s, 8, 100), 8);
    assert_int_equal(pl_utf8_cut(s, 8, 4), 4);
    assert_int_equal(pl_utf8_cut(s, 8, 3), 2); /* not half of é */
    assert_int_equal(pl_utf8_cut(s, 8, 7), 4); /* not three quarters of 😀 */
    assert_int_equal(pl_utf8_cut(s, 8, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_and_empty),
        cmocka_unit_test(test_boundaries_valid),
        cmocka_unit_test(test_overlongs),
        cmocka_unit_test(test_surrogates_and_range),
        cmocka_unit_test(test_bad_sequences),
        cmocka_unit_test(test_seq_len),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
