/* The knowledge passages of a turn (bot/turn/turn_kb.c) found in a real index: ids, sources and
 * block titles, the cap at k, the relative cutoff; and the narrowing of an answer's citations to
 * the kb: files it names (turn_citations.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/err.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"

static void add(struct kb_index *ix, const char *name, const char *text)
{
    struct kb_doc d;
    assert_int_equal(kb_chunk_document(name, text, strlen(text), KB_KIND_MD, NULL, &d), PL_OK);
    assert_int_equal(kb_index_add(ix, &d), PL_OK);
    kb_doc_cleanup(&d);
}

static void test_passages_of_a_question(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    add(ix, "glass.md",
        "# Glass Cover\n\nGlass cover repairs a cracked windscreen.\n\n## What you pay\n\n"
        "A windscreen repair has no excess; a windscreen replacement has a glass excess.\n");
    add(ix, "pets.md", "# Pets\n\nPet cover pays vet bills for your dog or cat.\n");
    struct turn_kb_passages p;
    const char *q = "cracked windscreen excess";
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 4, q, strlen(q), &p), 2);
    assert_string_equal(p.docs[0].id, "kb:glass.md#0");
    assert_string_equal(p.docs[0].source, "kb:glass.md");
    assert_string_equal(p.docs[0].title, "Glass Cover");
    assert_string_equal(p.docs[0].doc_title, "Glass Cover");
    assert_string_equal(p.docs[0].text, "Glass cover repairs a cracked windscreen.");
    assert_string_equal(p.docs[1].id, "kb:glass.md#1");
    assert_string_equal(p.docs[1].source, "kb:glass.md");
    assert_string_equal(p.docs[1].title, "Glass Cover > What you pay");
    assert_string_equal(p.docs[1].doc_title, "Glass Cover");
    assert_string_equal(p.docs[1].text, "A windscreen repair has no excess; a windscreen "
                                        "replacement has a glass excess.");
    turn_kb_cleanup(&p);
    assert_int_equal(p.n, 0);

    /* The intro scores under TURN_KB_RELATIVE_CUTOFF of the best here: left out. */
    const char *q2 = "windscreen replacement excess";
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 4, q2, strlen(q2), &p), 1);
    assert_string_equal(p.docs[0].id, "kb:glass.md#1");
    turn_kb_cleanup(&p);
    assert_int_equal(p.n, 0);

    /* k caps the passages; no index, k 0 or an empty question: none. */
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 1, q, strlen(q), &p), 1);
    turn_kb_cleanup(&p);
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 0, q, strlen(q), &p), 0);
    assert_int_equal(turn_kb_find(NULL, NULL, NULL, 4, q, strlen(q), &p), 0);
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 4, "", 0, &p), 0);
    /* No indexed word: none (not the pets document). */
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 4, "zzz qqq", 7, &p), 0);
    kb_index_free(ix);
}

static void test_cutoff_leaves_weak_passages_out(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    add(ix, "glass.md", "# Glass\n\nwindscreen windscreen chip crack glass repair\n");
    add(ix, "misc.md", "# Misc\n\nthe cover of the policy and the rest of the words here\n");
    struct turn_kb_passages p;
    const char *q = "windscreen chip crack repair the";
    assert_int_equal(turn_kb_find(ix, NULL, NULL, 4, q, strlen(q), &p), 1);
    assert_string_equal(p.docs[0].source, "kb:glass.md");
    turn_kb_cleanup(&p);
    kb_index_free(ix);
}

static const struct kb_vectors *the_vectors(void *self)
{
    return self;
}

/* With the question's vector, a passage with no word of the question comes in by meaning; the
 * BM25 cut-off still keeps the weak lexical match out. */
static void test_dense_fused(void **state)
{
    (void)state;
    struct kb_index *ix = kb_index_new(NULL);
    add(ix, "glass.md", "# Glass\n\nwindscreen windscreen chip crack glass repair\n");
    add(ix, "misc.md", "# Misc\n\nthe cover of the policy and the rest of the words here\n");
    add(ix, "pets.md", "# Pets\n\nPet cover pays vet bills for your dog or cat.\n");
    struct kb_vectors *v = kb_vectors_new(2);
    const float glass[] = {1, 0}, misc[] = {-1, 0}, pets[] = {0.6f, 0.8f};
    kb_vectors_add(v, "glass.md", glass, 1);
    kb_vectors_add(v, "misc.md", misc, 1);
    kb_vectors_add(v, "pets.md", pets, 1);
    const struct turn_kb_dense dense = {.self = v, .vectors = the_vectors};
    const float qvec[] = {0.7f, 0.7f}; /* cosines: pets 0.99, glass 0.71, misc -0.71 */
    struct turn_kb_passages p;
    const char *q = "windscreen chip crack repair the";
    assert_int_equal(turn_kb_find(ix, &dense, qvec, 4, q, strlen(q), &p), 2);
    /* glass: BM25 rank 1 = 1/61 (its cosine is under 0.75 of the best); pets: dense rank 1 =
     * 1/61; misc: neither (BM25 cut, cosine negative). The tie goes by name. */
    assert_string_equal(p.docs[0].source, "kb:glass.md");
    assert_string_equal(p.docs[1].source, "kb:pets.md");
    turn_kb_cleanup(&p);
    /* No vector for the question: BM25 alone, as before. */
    assert_int_equal(turn_kb_find(ix, &dense, NULL, 4, q, strlen(q), &p), 1);
    turn_kb_cleanup(&p);
    kb_vectors_free(v);
    kb_index_free(ix);
}

static struct turn_citations three(void)
{
    const struct prompt_citation src[] = {
        {"policy:POL-1", "Your policy POL-1"}, {"kb:a.md", "A"}, {"kb:b.md", "B"}};
    struct turn_citations c;
    turn_citations_copy(&c, src, 3);
    return c;
}

static void test_narrow_to_what_the_answer_names(void **state)
{
    (void)state;
    struct turn_citations c = three();
    turn_citations_narrow(&c, "You pay nothing [kb:b.md#2], see also [kb:b.md].");
    assert_int_equal(c.n, 2);
    assert_string_equal(c.items[0].source, "policy:POL-1");
    assert_string_equal(c.items[1].source, "kb:b.md");
    assert_string_equal(c.items[1].title, "B");
    turn_citations_cleanup(&c);

    /* No reference, or only to files not supplied, or a longer name: every passage stays. */
    const char *keep[] = {"No reference.", "[kb:c.md#1]", "[kb:a.mdx#1]", NULL, "[kb:a.md"};
    for (size_t i = 0; i < 5; i++) {
        c = three();
        turn_citations_narrow(&c, keep[i]);
        assert_int_equal(c.n, 3);
        turn_citations_cleanup(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passages_of_a_question),
        cmocka_unit_test(test_cutoff_leaves_weak_passages_out),
        cmocka_unit_test(test_dense_fused),
        cmocka_unit_test(test_narrow_to_what_the_answer_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
