/* libFuzzer target for the knowledge base's tokeniser (knowledge/kb_text.h), which reads every
 * document and every caller's question. Checks: words are non-empty, at most KB_WORD_MAX bytes,
 * valid UTF-8, free of ASCII space and punctuation other than a dot between digits, without
 * upper-case ASCII, and the scan always advances; stemming only shortens, keeps UTF-8 valid and
 * is idempotent; the term list and the term walk agree. */
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "knowledge/kb_text.h"
#include "tests/fuzz/fuzz_check.h"

struct walk {
    const struct kb_terms *t;
    size_t i;
};

static bool same_term(const char *term, size_t n, void *ud)
{
    struct walk *w = ud;
    CHECK(w->i < w->t->n);
    CHECK(strlen(w->t->v[w->i]) == n && memcmp(w->t->v[w->i], term, n) == 0);
    w->i++;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char w[KB_WORD_MAX + 1], again[KB_WORD_MAX + 1];
    size_t at = 0, n;
    for (;;) {
        size_t before = at;
        n = kb_next_word(s, size, &at, w);
        CHECK(at <= size);
        if (n == 0) {
            CHECK(at == size);
            break;
        }
        CHECK(at > before);
        CHECK(n <= KB_WORD_MAX && strlen(w) == n);
        CHECK(pl_utf8_valid(w, n));
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)w[i];
            CHECK(!(c >= 'A' && c <= 'Z'));
            if (c < 0x80 && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z'))
                CHECK(c == '.' && i > 0 && i + 1 < n);
        }
        size_t m = kb_stem(w, n);
        CHECK(m <= n && m > 0 && strlen(w) == m);
        CHECK(pl_utf8_valid(w, m));
        memcpy(again, w, m + 1);
        CHECK(kb_stem(again, m) == m && strcmp(again, w) == 0);
    }
    struct kb_terms t;
    kb_terms_init(&t);
    kb_terms_add(&t, s, size);
    struct walk wk = {&t, 0};
    CHECK(kb_terms_each(s, size, same_term, &wk));
    CHECK(wk.i == t.n);
    kb_terms_cleanup(&t);
    return 0;
}
