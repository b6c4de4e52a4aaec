/* Reciprocal rank fusion against hand-computed values, and the hybrid search's cut-offs on a
 * small index with hand-made vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_fusion.h"

static void test_rrf_exact_scores(void **state)
{
    (void)state;
    const struct kb_fuse_item a[] = {{"a", 0, 9}, {"b", 0, 5}, {"c", 0, 1}};
    const struct kb_fuse_item b[] = {{"b", 0, .9}, {"d", 0, .8}, {"a", 0, .7}};
    struct kb_fuse_item out[8];
    size_t n = kb_fuse_rrf(a, 3, b, 3, 60, out, 8);
    assert_int_equal(n, 4);
    /* b: 1/62 + 1/61; a: 1/61 + 1/63; d: 1/62; c: 1/63 */
    assert_string_equal(out[0].doc, "b");
    assert_float_equal(out[0].score, 1.0 / 62 + 1.0 / 61, 1e-15);
    assert_string_equal(out[1].doc, "a");
    assert_float_equal(out[1].score, 1.0 / 61 + 1.0 / 63, 1e-15);
    assert_string_equal(out[2].doc, "d");
    assert_float_equal(out[2].score, 1.0 / 62, 1e-15);
    assert_string_equal(out[3].doc, "c");
    assert_float_equal(out[3].score, 1.0 / 63, 1e-15);
    /* k cuts */
    assert_int_equal(kb_fuse_rrf(a, 3, b, 3, 60, out, 2), 2);
    assert_string_equal(out[1].doc, "a");
}

static void test_rrf_ties_and_chunks(void **state)
{
    (void)state;
    /* Same score: document name, then chunk number. The same document with another chunk is
     * another item. */
    const struct kb_fuse_item a[] = {{"y", 2, 1}, {"x", 1, 1}};
    const struct kb_fuse_item b[] = {{"x", 0, 1}, {"y", 1, 1}};
    struct kb_fuse_item out[8];
    size_t n = kb_fuse_rrf(a, 2, b, 2, 60, out, 8);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].doc, "x");
    assert_int_equal(out[0].chunk, 0);
    assert_string_equal(out[1].doc, "y");
    assert_int_equal(out[1].chunk, 2);
    assert_string_equal(out[2].doc, "x");
    assert_int_equal(out[2].chunk, 1);
    assert_string_equal(out[3].doc, "y");
    assert_int_equal(out[3].chunk, 1);
    assert_float_equal(out[3].score, 1.0 / 62, 1e-15);
    /* one empty list: its ranks alone; k = 1 */
    n = kb_fuse_rrf(a, 2, NULL, 0, 1, out, 8);
    assert_int_equal(n, 2);
    assert_float_equal(out[0].score, 0.5, 1e-15);
    assert_float_equal(out[1].score, 1.0 / 3, 1e-15);
    assert_int_equal(kb_fuse_rrf(NULL, 0, NULL, 0, 60, out, 8), 0);
}

static void add_doc(struct kb_index *ix, const char *name, const char *text)
{
    struct kb_doc d;
    assert_int_equal(kb_chunk_document(name, text, strlen(text), KB_KIND_TXT, NULL, &d), PL_OK);
    assert_int_equal(kb_index_add(ix, &d), PL_OK);
    kb_doc_cleanup(&d);
}

static void test_hybrid_finds_by_meaning(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    add_doc(ix, "glass.txt", "Windscreen repair is free of excess.");
    add_doc(ix, "pets.txt", "Pet cover pays vet bills for cats and dogs.");
    add_doc(ix, "travel.txt", "Travel cover includes lost luggage abroad.");
    struct kb_vectors *v = kb_vectors_new(3);
    const float glass[] = {1, 0, 0}, pets[] = {0, 1, 0}, travel[] = {0, 0.6f, 0.8f};
    assert_int_equal(kb_vectors_add(v, "glass.txt", glass, 1), PL_OK);
    assert_int_equal(kb_vectors_add(v, "pets.txt", pets, 1), PL_OK);
    assert_int_equal(kb_vectors_add(v, "travel.txt", travel, 1), PL_OK);
    struct kb_hit hits[4];
    /* No word in common with any document: BM25 finds nothing, the vector finds glass. */
    const char *q = "broken windshield";
    const float qv[] = {0.9f, 0.1f, 0};
    assert_int_equal(kb_hybrid_search(ix, NULL, q, strlen(q), NULL, 0.3, hits, 4), 0);
    size_t n = kb_hybrid_search(ix, v, q, strlen(q), qv, 0.3, hits, 4);
    /* pets' cosine 0.11 is under 0.75 of the best (0.994): no vote */
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].doc, "glass.txt");
    assert_float_equal(hits[0].score, 1.0 / 61, 1e-12);
    assert_string_equal(hits[0].text, "Windscreen repair is free of excess.");
    /* A word match and a vector match: both lists vote. */
    const char *q2 = "vet bills";
    const float qv2[] = {0, 1, 0.4f};
    n = kb_hybrid_search(ix, v, q2, strlen(q2), qv2, 0.3, hits, 4);
    assert_int_equal(n, 2);
    assert_string_equal(hits[0].doc, "pets.txt");
    assert_float_equal(hits[0].score, 2.0 / 61, 1e-12);
    assert_string_equal(hits[1].doc, "travel.txt");
    assert_float_equal(hits[1].score, 1.0 / 62, 1e-12);
    /* A document whose vectors outlive it in the index gets no hit. */
    assert_int_equal(kb_index_remove(ix, "glass.txt"), PL_OK);
    assert_int_equal(kb_hybrid_search(ix, v, q, strlen(q), qv, 0.3, hits, 4), 0);
    kb_vectors_free(v);
    kb_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rrf_exact_scores),
        cmocka_unit_test(test_rrf_ties_and_chunks),
        cmocka_unit_test(test_hybrid_finds_by_meaning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
