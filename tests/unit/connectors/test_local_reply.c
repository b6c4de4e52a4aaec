/* Unit tests of the offline provider's text (connectors/local_reply.h): exact bytes, the echo's
 * sanitising and bounds, determinism, and word chunks that rebuild the text exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "connectors/local_reply.h"
#include "prompts/prompt.h"

#define HEAD                                                                                       \
    "No AI model is configured on this server, so I am running in offline demo mode and cannot "   \
    "answer questions yet."
#define TAIL                                                                                       \
    " To enable answers, the administrator can set ANTHROPIC_API_KEY or AWS credentials and "      \
    "restart the server, or choose a provider with --provider. Would you like me to connect you "  \
    "to a human agent?"

static void expect_reply(const char *question, const char *want)
{
    char *got = local_reply_text(question, NULL);
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_exact_text(void **state)
{
    (void)state;
    expect_reply("Is my car covered for hail damage?",
                 HEAD " You asked: \"Is my car covered for hail damage?\"." TAIL);
    /* whitespace and control characters collapse; ends are trimmed */
    expect_reply("  What\tis\r\n\n my   excess?\x01 ",
                 HEAD " You asked: \"What is my excess?\"." TAIL);
    /* nothing left to echo: the sentence is left out */
    expect_reply("", HEAD TAIL);
    expect_reply(" \t\n ", HEAD TAIL);
    expect_reply(NULL, HEAD TAIL);
    /* context is ignored */
    char *a = local_reply_text("hi", "some context");
    char *b = local_reply_text("hi", NULL);
    assert_string_equal(a, b);
    pl_free(a);
    pl_free(b);
}

static void test_echo_bounds(void **state)
{
    (void)state;
    /* exactly 80 characters: echoed whole */
    char q80[81];
    memset(q80, 'a', 80);
    q80[80] = '\0';
    struct pl_buf w;
    pl_buf_init(&w, 4096);
    pl_buf_printf(&w, "%s You asked: \"%s\".%s", HEAD, q80, TAIL);
    expect_reply(q80, w.data);

    /* 81: cut after 80, with an ellipsis */
    char q81[82];
    memset(q81, 'a', 81);
    q81[81] = '\0';
    pl_buf_reset(&w);
    pl_buf_printf(&w, "%s You asked: \"%s\xe2\x80\xa6\".%s", HEAD, q80, TAIL);
    expect_reply(q81, w.data);

    /* multibyte: 81 two-byte characters are cut after 80 whole ones (160 bytes) */
    struct pl_buf q;
    pl_buf_init(&q, 4096);
    for (int i = 0; i < 81; i++)
        pl_buf_append_str(&q, "\xc3\xa9");
    pl_buf_reset(&w);
    pl_buf_printf(&w, "%s You asked: \"%.160s\xe2\x80\xa6\".%s", HEAD, q.data, TAIL);
    expect_reply(q.data, w.data);

    /* the space between words counts as a character */
    pl_buf_reset(&q);
    pl_buf_printf(&q, "%.78s bcd", q80);
    pl_buf_reset(&w);
    pl_buf_printf(&w, "%s You asked: \"%.78s b\xe2\x80\xa6\".%s", HEAD, q80, TAIL);
    expect_reply(q.data, w.data);
    /* a space at the cut is not kept before the ellipsis */
    pl_buf_reset(&q);
    pl_buf_printf(&q, "%.79s   bcd", q80);
    pl_buf_reset(&w);
    pl_buf_printf(&w, "%s You asked: \"%.79s\xe2\x80\xa6\".%s", HEAD, q80, TAIL);
    expect_reply(q.data, w.data);

    /* invalid UTF-8 becomes U+FFFD; valid 4-byte sequences pass */
    expect_reply("bad \xff\xc3 byte \xf0\x9f\x98\x80 \xed\xa0\x80",
                 HEAD " You asked: \"bad \xef\xbf\xbd\xef\xbf\xbd byte \xf0\x9f\x98\x80 "
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"." TAIL);
    /* zero-width and bidi controls are dropped; NBSP and U+2028 collapse like spaces */
    expect_reply("\xe2\x80\xae"
                 "evil\xe2\x80\x8b\xef\xbb\xbf one\xc2\xa0\xe2\x80\xa8"
                 "two",
                 HEAD " You asked: \"evil one two\"." TAIL);
    pl_buf_cleanup(&q);
    pl_buf_cleanup(&w);
}

static void test_deterministic(void **state)
{
    (void)state;
    const char *q = "Quand mon contrat expire-t-il ? \xe2\x80\x94 merci";
    char *a = local_reply_text(q, NULL);
    for (int i = 0; i < 5; i++) {
        char *b = local_reply_text(q, NULL);
        assert_string_equal(a, b);
        pl_free(b);
    }
    pl_free(a);
}

/* Rebuild `text` from its chunks; assert each is non-empty, ends on a word boundary and
 * never starts inside a UTF-8 sequence. Returns the number of chunks. */
static size_t check_chunks(const char *text, size_t len)
{
    struct pl_buf b;
    pl_buf_init(&b, len + 1);
    size_t off = 0, chunks = 0;
    while (off < len) {
        size_t n = local_reply_next_chunk(text, len, off);
        assert_true(n > 0);
        assert_true(off + n <= len);
        assert_true(((unsigned char)text[off] & 0xC0) != 0x80);
        if (off + n < len)
            assert_true(((unsigned char)text[off + n] & 0xC0) != 0x80);
        pl_buf_append(&b, text + off, n);
        off += n;
        chunks++;
    }
    assert_int_equal(local_reply_next_chunk(text, len, len), 0);
    assert_int_equal(local_reply_next_chunk(text, len, len + 5), 0);
    assert_int_equal(b.len, len);
    if (len)
        assert_memory_equal(b.data, text, len);
    pl_buf_cleanup(&b);
    return chunks;
}

static void test_chunks(void **state)
{
    (void)state;
    const char *t = "Hello  world,\nthis is\tit ";
    assert_int_equal(local_reply_next_chunk(t, strlen(t), 0), 7);  /* "Hello  " */
    assert_int_equal(local_reply_next_chunk(t, strlen(t), 7), 7);  /* "world,\n" */
    assert_int_equal(local_reply_next_chunk(t, strlen(t), 14), 5); /* "this " */
    assert_int_equal(local_reply_next_chunk(t, strlen(t), 19), 3); /* "is\t" */
    assert_int_equal(local_reply_next_chunk(t, strlen(t), 22), 3); /* "it " */
    assert_int_equal(check_chunks(t, strlen(t)), 5);
    /* leading blanks join the first word */
    assert_int_equal(local_reply_next_chunk("  ab cd", 7, 0), 5);
    assert_int_equal(check_chunks("  ab cd", 7), 2);
    assert_int_equal(check_chunks("", 0), 0);
    assert_int_equal(check_chunks("   ", 3), 1);
    assert_int_equal(check_chunks("oneword", 7), 1);
    const char *mb = "Gr\xc3\xbc\xc3\x9f Gott \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                     "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xc3\xa9";
    assert_int_equal(check_chunks(mb, strlen(mb)), 5);
    assert_int_equal(local_reply_next_chunk(mb, strlen(mb), 0), 7);

    const char *questions[] = {"", "What is covered?", "\xc3\xa9t\xc3\xa9 \xe2\x80\x94 ok",
                               "a\n\nb\t\tc"};
    for (size_t i = 0; i < PL_ARRAY_LEN(questions); i++) {
        char *r = local_reply_text(questions[i], NULL);
        assert_true(check_chunks(r, strlen(r)) > 20);
        pl_free(r);
    }
}

/* The grounded answer: the top two passages quoted with their ids, a markdown heading mark
 * dropped, whitespace collapsed, a third passage left out. */
static void test_grounded_exact(void **state)
{
    (void)state;
    const struct prompt_document docs[] = {
        {"kb:glass.md#2", "kb:glass.md", "Glass > What you pay", "Glass",
         "## What you pay\n\n- **Repair**:   no excess.\n"},
        {"kb:claims.md#0", "kb:claims.md", "Claims", "Claims", "Call us first."},
        {"kb:other.md#0", "kb:other.md", "Other", "Other", "Not quoted."},
    };
    char *text = local_reply_grounded(docs, 3);
    assert_string_equal(text, "Here is what I found in Glass > What you pay: What you pay - "
                              "**Repair**: no excess. [kb:glass.md#2]\n\n"
                              "Here is what I found in Claims: Call us first. [kb:claims.md#0]\n\n"
                              "(No AI model is configured on this server: these are passages from "
                              "the knowledge base, quoted as they are. Would you like me to "
                              "connect you to a human agent?)");
    pl_free(text);
}

/* A long passage is cut after LOCAL_REPLY_WORDS_MAX words, with " ..." after them. */
static void test_grounded_trimmed(void **state)
{
    (void)state;
    struct pl_buf long_text, want;
    pl_buf_init(&long_text, SIZE_MAX);
    pl_buf_init(&want, SIZE_MAX);
    pl_buf_append_str(&want, "Here is what I found in T:");
    for (int i = 0; i < LOCAL_REPLY_WORDS_MAX + 5; i++) {
        pl_buf_printf(&long_text, "w%d\n ", i);
        if (i < LOCAL_REPLY_WORDS_MAX)
            pl_buf_printf(&want, " w%d", i);
    }
    pl_buf_append_str(&want, " ... [kb:t.md#0]");
    const struct prompt_document d = {"kb:t.md#0", "kb:t.md", "T", "T", long_text.data};
    char *text = local_reply_grounded(&d, 1);
    assert_memory_equal(text, want.data, want.len);
    assert_string_equal(text + want.len, "\n\n(No AI model is configured on this server: these "
                                         "are passages from the knowledge base, quoted as they "
                                         "are. Would you like me to connect you to a human "
                                         "agent?)");
    pl_free(text);
    pl_buf_cleanup(&long_text);
    pl_buf_cleanup(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_text),     cmocka_unit_test(test_echo_bounds),
        cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_grounded_exact), cmocka_unit_test(test_grounded_trimmed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
