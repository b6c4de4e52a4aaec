/* libFuzzer target for the knowledge base's chunker (knowledge/kb_chunk.h) and, on what it
 * accepts, the index (knowledge/kb_index.h): an operator's document, any bytes, read as
 * Markdown, text or HTML under the default limits or tiny ones (the first byte picks). Checks:
 * only PL_OK, PL_EUTF8 (exactly when the input is not UTF-8) or PL_ETOOBIG; chunks within the
 * limits, their word counts right, texts and headings valid UTF-8; every word of the input as
 * stripped (the HTML's text) found in a chunk, a heading path or the title (a run of '#' alone
 * may be a heading marker); the document indexed, searched with its own start (hits positive,
 * finite, best first) and removed again. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_index.h"
#include "tests/fuzz/fuzz_check.h"

static int separates(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    for (size_t i = 0; s[i];) {
        while (s[i] && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
            i++;
        if (!s[i])
            break;
        n++;
        while (s[i] && s[i] != ' ' && s[i] != '\t' && s[i] != '\n')
            i++;
    }
    return n;
}

static void check_words_kept(const char *src, size_t len, const struct kb_doc *d)
{
    struct pl_buf all;
    pl_buf_init(&all, SIZE_MAX);
    pl_buf_append_str(&all, d->title);
    for (size_t i = 0; i < d->n_chunks; i++) {
        pl_buf_append(&all, "\n", 1);
        pl_buf_append_str(&all, d->chunks[i].heading);
        pl_buf_append(&all, "\n", 1);
        pl_buf_append_str(&all, d->chunks[i].text);
    }
    for (size_t i = 0; i < len;) {
        while (i < len && separates((unsigned char)src[i]))
            i++;
        size_t w = i, hashes = 1;
        while (i < len && !separates((unsigned char)src[i])) {
            hashes &= src[i] == '#';
            i++;
        }
        if (i > w && !hashes && !memmem(all.data, all.len, src + w, i - w)) {
            fprintf(stderr, "word lost: %.*s\n", (int)(i - w), src + w);
            CHECK(0);
        }
    }
    pl_buf_cleanup(&all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum kb_kind kind = (enum kb_kind)(data[0] % 3);
    struct kb_chunk_opts o = kb_chunk_opts_default();
    if (data[0] & 4) {
        o.max_words = 1 + (data[0] >> 4);                           /* 1-16 */
        o.overlap_words = o.max_words > 1 ? (data[0] >> 3) & 1 : 0; /* 0 or 1, below max */
        o.max_chunks = 64;
        o.max_bytes = 2048;
    }
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct kb_doc d;
    int rc = kb_chunk_document("doc.md", text, len, kind, &o, &d);
    int valid = pl_utf8_valid(text, len);
    CHECK(rc == PL_OK || rc == PL_EUTF8 || rc == PL_ETOOBIG);
    CHECK((rc == PL_EUTF8) == !valid);
    if (rc != PL_OK) {
        CHECK(d.n_chunks == 0 && d.chunks == NULL && d.title == NULL);
        return 0;
    }
    CHECK(d.n_chunks <= o.max_chunks);
    CHECK(pl_utf8_valid(d.title, strlen(d.title)));
    for (size_t i = 0; i < d.n_chunks; i++) {
        const struct kb_chunk *c = &d.chunks[i];
        CHECK(c->words >= 1 && c->words <= o.max_words);
        CHECK(count_words(c->text) == c->words);
        CHECK(pl_utf8_valid(c->text, strlen(c->text)));
        CHECK(pl_utf8_valid(c->heading, strlen(c->heading)));
    }
    if (kind == KB_KIND_HTML) {
        struct pl_buf b;
        pl_buf_init(&b, SIZE_MAX);
        CHECK(kb_html_to_text(text, len, &b) == PL_OK);
        CHECK(pl_utf8_valid(b.data ? b.data : "", b.len));
        check_words_kept(b.data ? b.data : "", b.len, &d);
        pl_buf_cleanup(&b);
    } else {
        check_words_kept(text, len, &d);
    }

    struct kb_index *ix = kb_index_new(NULL);
    CHECK(kb_index_add(ix, &d) == PL_OK);
    CHECK(kb_index_chunks(ix) == d.n_chunks);
    struct kb_hit hits[8];
    size_t n = kb_index_search(ix, text, len < 64 ? len : 64, hits, 8);
    CHECK(n <= d.n_chunks);
    for (size_t i = 0; i < n; i++) {
        CHECK(isfinite(hits[i].score) && hits[i].score > 0);
        CHECK(i == 0 || hits[i].score <= hits[i - 1].score);
        CHECK(hits[i].chunk < d.n_chunks);
        CHECK(strcmp(hits[i].text, d.chunks[hits[i].chunk].text) == 0);
    }
    CHECK(kb_index_remove(ix, "doc.md") == PL_OK);
    CHECK(kb_index_chunks(ix) == 0 && kb_index_docs(ix) == 0);
    kb_index_free(ix);
    kb_doc_cleanup(&d);
    return 0;
}
