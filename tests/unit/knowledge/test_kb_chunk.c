/* Unit tests for knowledge/kb_chunk: title and heading paths of a small Markdown document with
 * its exact chunk texts, the overlap between neighbours (exact), HTML stripped to exact text,
 * plain text, the limits and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/err.h"
#include "knowledge/kb_chunk.h"

static void chunk_is(const struct kb_doc *d, size_t i, const char *heading, const char *text,
                     size_t words)
{
    assert_true(i < d->n_chunks);
    assert_string_equal(d->chunks[i].heading, heading);
    assert_string_equal(d->chunks[i].text, text);
    assert_int_equal(d->chunks[i].words, words);
}

static int chunk(const char *name, const char *text, enum kb_kind kind, size_t max_words,
                 size_t overlap, struct kb_doc *d)
{
    struct kb_chunk_opts o = kb_chunk_opts_default();
    if (max_words) {
        o.max_words = max_words;
        o.overlap_words = overlap;
    }
    return kb_chunk_document(name, text, strlen(text), kind, &o, d);
}

static const char md[] = "# Motor glass cover\r\n"
                         "\n"
                         "Intro line one\n"
                         "line two.\n"
                         "\n"
                         "## What is covered\n"
                         "\n"
                         "Repair of a chip.\n"
                         "\n"
                         "Replacement of the windscreen.\n"
                         "\n"
                         "### Excess\n"
                         "\n"
                         "You pay \xc2\xa3"
                         "95.\n"
                         "\n"
                         "## Claims ##\n"
                         "\n"
                         "```\n"
                         "# not a heading\n"
                         "```\n"
                         "\n"
                         "## Empty\n";

static void test_markdown(void **state)
{
    (void)state;
    struct kb_doc d;
    assert_int_equal(chunk("kb/motor-glass.md", md, KB_KIND_MD, 0, 0, &d), PL_OK);
    assert_string_equal(d.name, "kb/motor-glass.md");
    assert_string_equal(d.title, "Motor glass cover");
    assert_int_equal(d.n_chunks, 5);
    chunk_is(&d, 0, "Motor glass cover", "Intro line one\nline two.", 5);
    chunk_is(&d, 1, "Motor glass cover > What is covered",
             "Repair of a chip.\n\nReplacement of the windscreen.", 8);
    chunk_is(&d, 2, "Motor glass cover > What is covered > Excess",
             "You pay \xc2\xa3"
             "95.",
             3);
    /* A closing run of '#' is not part of the heading; fenced code holds no heading. */
    chunk_is(&d, 3, "Motor glass cover > Claims", "```\n# not a heading\n```", 6);
    /* A heading with nothing under it keeps its words as a chunk of its own. */
    chunk_is(&d, 4, "Motor glass cover > Empty", "Empty", 1);
    kb_doc_cleanup(&d);
    kb_doc_cleanup(&d); /* twice is harmless */
}

/* max 10 words, overlap 3. Paragraph a (4) and b (5) fit together (9). c (3) does not fit
 * after them: the chunk closes and the next starts with the last 3 words of b (b has more than
 * 3), then c (6 words). d (12) does not fit and would not fit a fresh chunk either (12 > 10 -
 * 3), so it fills this one (d1-d4), the next starts with d2-d4 and takes d5-d11, the last with
 * d9-d11 and d12. */
static const char overlap_doc[] = "## Section\n\na1 a2 a3 a4\n\nb1 b2 b3 b4 b5\n\nc1 c2 c3\n\n"
                                  "d1 d2 d3 d4 d5 d6 d7 d8 d9 d10 d11 d12\n";

static void test_overlap(void **state)
{
    (void)state;
    struct kb_doc d;
    assert_int_equal(chunk("o.md", overlap_doc, KB_KIND_MD, 10, 3, &d), PL_OK);
    assert_string_equal(d.title, "o");
    assert_int_equal(d.n_chunks, 4);
    chunk_is(&d, 0, "Section", "a1 a2 a3 a4\n\nb1 b2 b3 b4 b5", 9);
    chunk_is(&d, 1, "Section", "b3 b4 b5\n\nc1 c2 c3\n\nd1 d2 d3 d4", 10);
    chunk_is(&d, 2, "Section", "d2 d3 d4 d5 d6 d7 d8 d9 d10 d11", 10);
    chunk_is(&d, 3, "Section", "d9 d10 d11 d12", 4);
    kb_doc_cleanup(&d);

    /* A short last paragraph is carried whole; a paragraph that fits a fresh chunk is not cut. */
    assert_int_equal(
        chunk("p.md", "x1 x2 x3 x4 x5 x6\n\ny1 y2\n\nz1 z2 z3 z4 z5", KB_KIND_MD, 10, 3, &d),
        PL_OK);
    assert_int_equal(d.n_chunks, 2);
    chunk_is(&d, 0, "", "x1 x2 x3 x4 x5 x6\n\ny1 y2", 8);
    chunk_is(&d, 1, "", "y1 y2\n\nz1 z2 z3 z4 z5", 7);
    kb_doc_cleanup(&d);
}

static void test_plain_text(void **state)
{
    (void)state;
    struct kb_doc d;
    assert_int_equal(chunk("faq/pets.txt", "# not a heading in text\n\n\n  second  para \n",
                           KB_KIND_TXT, 0, 0, &d),
                     PL_OK);
    assert_string_equal(d.title, "pets");
    assert_int_equal(d.n_chunks, 1);
    chunk_is(&d, 0, "", "# not a heading in text\n\nsecond  para", 8);
    kb_doc_cleanup(&d);

    /* Controls become spaces; nothing at all gives no chunk. */
    assert_int_equal(chunk(".txt",
                           "a\x01"
                           "b\tc",
                           KB_KIND_TXT, 0, 0, &d),
                     PL_OK);
    assert_string_equal(d.title, ".txt");
    chunk_is(&d, 0, "", "a b\tc", 3);
    kb_doc_cleanup(&d);
    assert_int_equal(chunk("e.md", "", KB_KIND_MD, 0, 0, &d), PL_OK);
    assert_int_equal(d.n_chunks, 0);
    assert_string_equal(d.title, "e");
    kb_doc_cleanup(&d);
}

static const char html[] =
    "<!DOCTYPE html>\n"
    "<html><head><title>Ignored title</title><style>p { color: red; }</style>\n"
    "<script>var x = \"<p>no</p>\";</script></head>\n"
    "<body>\n"
    "<h1>Home  &amp; contents</h1>\n"
    "<p>Cover for   <b>accidental</b> damage&nbsp;costs &pound;25 &lt;extra&gt;.<br>New line "
    "&#39;quoted&#39; &quot;x&quot; &#x2013; &#8364;5 &#0; &bogus; & more</p>\n"
    "<!-- a comment <p>hidden</p> -->\n"
    "<h2 class=\"x\">What is <i>not</i> covered</h2>\n"
    "<ul><li>Wear and tear</li><li>Pets</li></ul>\n"
    "<table><tr><td>Excess</td><td>&pound;100</td></tr></table>\n"
    "<h4>Small heading</h4><div>Last <a href=\"a>b\">link</a></div>\n"
    "</body></html>\n";

static void test_html(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(kb_html_to_text(html, strlen(html), &b), PL_OK);
    assert_string_equal(b.data, "# Home & contents\n\n"
                                "Cover for accidental damage costs \xc2\xa3"
                                "25 <extra>.\n"
                                "New line 'quoted' \"x\" \xe2\x80\x93 \xe2\x82\xac"
                                "5 "
                                "\xef\xbf\xbd &bogus; & more\n\n"
                                "## What is not covered\n\n"
                                "Wear and tear\n\n"
                                "Pets\n\n"
                                "Excess \xc2\xa3"
                                "100\n\n"
                                "Small heading\n\n"
                                "Last link\n\n");
    pl_buf_cleanup(&b);

    struct kb_doc d;
    assert_int_equal(chunk("home.html", html, KB_KIND_HTML, 0, 0, &d), PL_OK);
    assert_string_equal(d.title, "Home & contents");
    assert_int_equal(d.n_chunks, 2);
    chunk_is(&d, 1, "Home & contents > What is not covered",
             "Wear and tear\n\nPets\n\nExcess \xc2\xa3"
             "100\n\nSmall heading\n\nLast link",
             10);
    kb_doc_cleanup(&d);

    /* An unclosed script or tag drops the rest; a lone '<' is text. */
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(kb_html_to_text("a < b<script>x", 14, &b), PL_OK);
    assert_string_equal(b.data, "a < b");
    pl_buf_reset(&b);
    assert_int_equal(kb_html_to_text("x<p class='>", 12, &b), PL_OK);
    assert_string_equal(b.data, "x\n\n");
    pl_buf_cleanup(&b);
}

static void test_limits(void **state)
{
    (void)state;
    struct kb_doc d;
    struct kb_chunk_opts o = kb_chunk_opts_default();
    assert_int_equal(o.max_bytes, 4u * 1024 * 1024);
    assert_int_equal(o.max_chunks, 2000);
    assert_int_equal(o.max_words, 250);
    assert_int_equal(o.overlap_words, 40);

    o.max_bytes = 10;
    assert_int_equal(kb_chunk_document("a.md", "12345678901", 11, KB_KIND_MD, &o, &d), PL_ETOOBIG);
    assert_null(d.chunks);
    assert_null(d.name);
    assert_int_equal(kb_chunk_document("a.md", "1234567890", 10, KB_KIND_MD, &o, &d), PL_OK);
    kb_doc_cleanup(&d);

    o = kb_chunk_opts_default();
    o.max_chunks = 2;
    assert_int_equal(
        kb_chunk_document("a.md", "## a\nx\n## b\ny\n## c\nz\n", 21, KB_KIND_MD, &o, &d),
        PL_ETOOBIG);
    assert_int_equal(d.n_chunks, 0);
    assert_null(d.title);
    assert_int_equal(kb_chunk_document("a.md", "## a\nx\n## b\ny\n", 14, KB_KIND_MD, &o, &d),
                     PL_OK);
    assert_int_equal(d.n_chunks, 2);
    kb_doc_cleanup(&d);

    assert_int_equal(kb_chunk_document("a.md", "caf\xc3", 4, KB_KIND_MD, NULL, &d), PL_EUTF8);
    assert_int_equal(kb_chunk_document("", "x", 1, KB_KIND_MD, NULL, &d), PL_EINVAL);
    o = kb_chunk_opts_default();
    o.overlap_words = o.max_words;
    assert_int_equal(kb_chunk_document("a.md", "x", 1, KB_KIND_MD, &o, &d), PL_EINVAL);
}

static void test_kind_from_name(void **state)
{
    (void)state;
    enum kb_kind k = KB_KIND_TXT;
    assert_true(kb_kind_from_name("a/b.MD", &k));
    assert_int_equal(k, KB_KIND_MD);
    assert_true(kb_kind_from_name("x.htm", &k));
    assert_int_equal(k, KB_KIND_HTML);
    assert_true(kb_kind_from_name("x.txt", &k));
    assert_int_equal(k, KB_KIND_TXT);
    assert_false(kb_kind_from_name("x.pdf", &k));
    assert_false(kb_kind_from_name("README", &k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown),   cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_plain_text), cmocka_unit_test(test_html),
        cmocka_unit_test(test_limits),     cmocka_unit_test(test_kind_from_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
