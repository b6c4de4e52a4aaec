/* Unit tests for knowledge/kb_index: BM25 scores against values worked out by hand for a toy
 * corpus of three one-chunk documents, the field boost, tie order, the phrase boost, top-k,
 * removal and update, and an index churned by many removals scoring as a fresh one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "knowledge/kb_index.h"

/* One document of one chunk; the strings are borrowed (kb_index_add copies them). */
static struct kb_doc one(const char *name, const char *title, struct kb_chunk *c,
                         const char *heading, const char *text)
{
    c->heading = (char *)heading;
    c->text = (char *)text;
    c->words = 0;
    struct kb_doc d = {(char *)name, (char *)title, KB_KIND_MD, c, 1};
    return d;
}

static void add3(struct kb_index *ix)
{
    struct kb_chunk ca, cb, cc;
    struct kb_doc a = one("a.md", "Glass", &ca, "Glass", "windscreen repair windscreen");
    struct kb_doc b = one("b.md", "Pets", &cb, "Pets", "pet cover vet bills");
    struct kb_doc c = one("c.md", "Motor", &cc, "Motor > Windscreen", "motor cover claims");
    assert_int_equal(kb_index_add(ix, &a), PL_OK);
    assert_int_equal(kb_index_add(ix, &b), PL_OK);
    assert_int_equal(kb_index_add(ix, &c), PL_OK);
}

#define NEAR(x, want) assert_true(fabs((x) - (want)) < 1e-9)

/* The toy corpus (k1 = 1.2, b = 0.75, field boost 2, phrase boost off):
 *   a.md  title "Glass", heading "Glass",              text "windscreen repair windscreen"
 *         terms windscreen x2, repair: len 3; field terms: glass
 *   b.md  title "Pets",  heading "Pets",               text "pet cover vet bills"
 *         terms pet, cover, vet, bill: len 4; field terms: pet
 *   c.md  title "Motor", heading "Motor > Windscreen", text "motor cover claims"
 *         terms motor, cover, claim: len 3; field terms: motor, windscreen
 * N = 3, avgdl = 10/3.
 * idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)); tf' = tf + 2 x [t in title or heading];
 * score = idf x tf' x (k1 + 1) / (tf' + k1 x (1 - b + b x len / avgdl)).
 * Length norms: len 3: 1.2 x (0.25 + 0.75 x 0.9) = 1.11; len 4: 1.2 x (0.25 + 0.75 x 1.2) = 1.38.
 * "windscreen": df 2 (a's text, c's heading), idf = ln(1 + 1.5/2.5) = ln 1.6.
 *   a: tf' 2 -> ln 1.6 x 4.4 / 3.11 = 0.664956903...; c: tf 0 + 2 = 2, len 3: the same score,
 *   so the tie goes to the smaller name, a.md first.
 * "cover": df 2, idf ln 1.6. b: ln 1.6 x 2.2 / 2.38 = 0.434457136...;
 *   c: ln 1.6 x 2.2 / 2.11 = 0.490051177...
 * "pets": stems to "pet", df 1, idf = ln(1 + 2.5/1.5) = ln(8/3). b: tf' = 1 + 2 = 3 ->
 *   ln(8/3) x 6.6 / 4.38 = 1.477961888...; with "cover" too: + 0.434457136... = 1.912419024...
 * After removing a.md: N = 2, avgdl = 3.5, "windscreen" df 1, idf ln 2; c: norm =
 *   1.2 x (0.25 + 0.75 x 3/3.5) = 1.0714285714..., score = ln 2 x 4.4 / 3.0714285714... */
static void test_bm25_by_hand(void **state)
{
    (void)state;
    struct kb_index_params p = kb_index_params_default();
    assert_true(p.k1 == 1.2 && p.b == 0.75 && p.field_boost == 2.0 && p.phrase_boost == 0.5);
    p.phrase_boost = 0;
    struct kb_index *ix = kb_index_new(&p);
    add3(ix);
    assert_int_equal(kb_index_docs(ix), 3);
    assert_int_equal(kb_index_chunks(ix), 3);
    struct kb_hit h[5];

    assert_int_equal(kb_index_search(ix, "Windscreen?", 11, h, 5), 2);
    NEAR(h[0].score, log(1.6) * 4.4 / 3.11);
    NEAR(h[0].score, 0.6649569031129378);
    assert_string_equal(h[0].doc, "a.md");
    assert_string_equal(h[0].title, "Glass");
    assert_string_equal(h[0].heading, "Glass");
    assert_string_equal(h[0].text, "windscreen repair windscreen");
    assert_int_equal(h[0].chunk, 0);
    assert_true(h[1].score == h[0].score);
    assert_string_equal(h[1].doc, "c.md");
    assert_string_equal(h[1].heading, "Motor > Windscreen");

    assert_int_equal(kb_index_search(ix, "covered", 7, h, 5), 2);
    assert_string_equal(h[0].doc, "c.md");
    NEAR(h[0].score, 0.49005117741261534);
    assert_string_equal(h[1].doc, "b.md");
    NEAR(h[1].score, 0.4344571362775707);

    assert_int_equal(kb_index_search(ix, "the pets cover cover", 20, h, 5), 2);
    assert_string_equal(h[0].doc, "b.md");
    NEAR(h[0].score, 1.912419024377432);
    assert_string_equal(h[1].doc, "c.md");
    NEAR(h[1].score, 0.49005117741261534);

    /* top-k, nothing found, nothing asked */
    assert_int_equal(kb_index_search(ix, "pets cover", 10, h, 1), 1);
    assert_string_equal(h[0].doc, "b.md");
    assert_int_equal(kb_index_search(ix, "boat", 4, h, 5), 0);
    assert_int_equal(kb_index_search(ix, "the of", 6, h, 5), 0);
    assert_int_equal(kb_index_search(ix, "cover", 5, h, 0), 0);

    /* removal, then the update: remove and add again */
    assert_int_equal(kb_index_remove(ix, "a.md"), PL_OK);
    assert_int_equal(kb_index_remove(ix, "a.md"), PL_ENOTFOUND);
    assert_int_equal(kb_index_docs(ix), 2);
    assert_int_equal(kb_index_chunks(ix), 2);
    assert_int_equal(kb_index_search(ix, "windscreen", 10, h, 5), 1);
    assert_string_equal(h[0].doc, "c.md");
    NEAR(h[0].score, log(2.0) * 4.4 / (2 + 1.2 * (0.25 + 0.75 * 3 / 3.5)));
    NEAR(h[0].score, 0.9929736354068054);
    assert_int_equal(kb_index_search(ix, "repair", 6, h, 5), 0);

    struct kb_chunk ca;
    struct kb_doc a = one("a.md", "Glass", &ca, "Glass", "windscreen repair windscreen");
    assert_int_equal(kb_index_add(ix, &a), PL_OK);
    assert_int_equal(kb_index_add(ix, &a), PL_EBUSY);
    assert_int_equal(kb_index_search(ix, "windscreen", 10, h, 5), 2);
    assert_string_equal(h[0].doc, "a.md");
    NEAR(h[0].score, 0.6649569031129378);
    kb_index_free(ix);
}

static void test_phrase_boost(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    struct kb_chunk c1, c2;
    /* Same terms, same lengths, same BM25: only the order of the words differs. */
    struct kb_doc d1 = one("x.md", "X", &c1, "", "excess applies glass");
    struct kb_doc d2 = one("y.md", "Y", &c2, "", "glass excess applies");
    assert_int_equal(kb_index_add(ix, &d1), PL_OK);
    assert_int_equal(kb_index_add(ix, &d2), PL_OK);
    struct kb_hit h[2];
    assert_int_equal(kb_index_search(ix, "glass", 5, h, 2), 2);
    assert_true(h[0].score == h[1].score);
    assert_string_equal(h[0].doc, "x.md");
    double base = h[0].score * 2; /* both terms, equal idf and tf */
    /* "glass excess": the one pair is adjacent in y only, which gets x 1.5. */
    assert_int_equal(kb_index_search(ix, "the glass excess", 16, h, 2), 2);
    assert_string_equal(h[0].doc, "y.md");
    NEAR(h[0].score, base * 1.5);
    assert_string_equal(h[1].doc, "x.md");
    NEAR(h[1].score, base);
    /* "glass excess applies": two pairs; y has both (x 1.5), x has "excess applies" (x 1.25). */
    assert_int_equal(kb_index_search(ix, "glass excess applies", 20, h, 2), 2);
    assert_string_equal(h[0].doc, "y.md");
    NEAR(h[1].score / h[0].score, 1.25 / 1.5);
    kb_index_free(ix);
}

static void test_refusals(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    struct kb_hit h[1];
    assert_int_equal(kb_index_search(ix, "x", 1, h, 1), 0);
    struct kb_doc none = {0};
    assert_int_equal(kb_index_add(ix, &none), PL_EINVAL);
    assert_int_equal(kb_index_remove(ix, "nope"), PL_ENOTFOUND);
    assert_true(kb_index_bytes(ix) > 0);
    kb_index_free(ix);
    kb_index_free(NULL);
}

/* Many documents added, most removed and some added again: the scores are those of an index
 * built from the survivors alone (document frequencies, lengths and lazily dropped postings all
 * kept right). */
static void test_churn_matches_fresh(void **state)
{
    (void)state;
    struct kb_index *churned = kb_index_new(NULL), *fresh = kb_index_new(NULL);
    char name[32], text[128];
    struct kb_chunk c;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(name, sizeof(name), "d%03d", i);
            snprintf(text, sizeof(text), "glass cover w%d w%d excess %s", i % 7, i % 13,
                     round == 2 ? "final" : "draft");
            if (round > 0 && i % 3 != 0)
                continue;
            if (round > 0)
                assert_int_equal(kb_index_remove(churned, name), PL_OK);
            struct kb_doc d = one(name, "T", &c, "", text);
            assert_int_equal(kb_index_add(churned, &d), PL_OK);
        }
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "d%03d", i);
        if (i % 3 != 0 && i % 2 == 0) {
            assert_int_equal(kb_index_remove(churned, name), PL_OK);
            continue;
        }
        snprintf(text, sizeof(text), "glass cover w%d w%d excess %s", i % 7, i % 13,
                 i % 3 == 0 ? "final" : "draft");
        struct kb_doc d = one(name, "T", &c, "", text);
        assert_int_equal(kb_index_add(fresh, &d), PL_OK);
    }
    assert_int_equal(kb_index_chunks(churned), kb_index_chunks(fresh));
    const char *queries[] = {"glass", "w3 excess", "final cover w5", "draft", "w12 w0"};
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        struct kb_hit a[20], b[20];
        size_t na = kb_index_search(churned, queries[q], strlen(queries[q]), a, 20);
        size_t nb = kb_index_search(fresh, queries[q], strlen(queries[q]), b, 20);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_string_equal(a[i].doc, b[i].doc);
            NEAR(a[i].score, b[i].score);
        }
    }
    kb_index_free(churned);
    kb_index_free(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25_by_hand),
        cmocka_unit_test(test_phrase_boost),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_churn_matches_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
