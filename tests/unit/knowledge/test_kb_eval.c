/* Unit tests for knowledge/kb_eval: recall@1, recall@3 and MRR, exact, including repeated
 * documents in a ranking, several expected documents and questions that expect none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "knowledge/kb_eval.h"

#define CASE(q, e, r)                                                                              \
    {                                                                                              \
        q, e, sizeof(e) / sizeof(e[0]), r, sizeof(r) / sizeof(r[0])                                \
    }

static void test_one_question(void **state)
{
    (void)state;
    const char *exp[] = {"glass.md"};
    const char *r[] = {"motor.md", "motor.md", "pets.md", "glass.md"};
    struct kb_eval_case c = CASE("Is my windscreen covered?", exp, r);
    struct kb_eval_score s;
    assert_true(kb_eval_case_score(&c, &s));
    /* motor.md twice is one document: glass.md is third. */
    assert_true(s.recall_at_1 == 0.0);
    assert_true(s.recall_at_3 == 1.0);
    assert_true(s.rr == 1.0 / 3.0);

    const char *none[] = {"x.md"};
    struct kb_eval_case c2 = {"q", exp, 1, none, 1};
    assert_true(kb_eval_case_score(&c2, &s));
    assert_true(s.recall_at_1 == 0.0 && s.recall_at_3 == 0.0 && s.rr == 0.0);
    struct kb_eval_case c3 = {"q", exp, 1, NULL, 0};
    assert_true(kb_eval_case_score(&c3, &s));
    assert_true(s.rr == 0.0);
}

static void test_means(void **state)
{
    (void)state;
    const char *e1[] = {"a"}, *r1[] = {"a", "b"};                /* r@1 1, r@3 1, rr 1 */
    const char *e2[] = {"b", "c"}, *r2[] = {"a", "b", "d", "c"}; /* 0, 1/2, 1/2 */
    const char *e3[] = {"c", "c"}, *r3[] = {"a", "a", "b", "c"}; /* 0, 1, 1/3 */
    const char *e4[] = {"z"}, *r4[] = {"a", "b", "c"};           /* 0, 0, 0 */
    struct kb_eval_case cases[] = {CASE("q1", e1, r1),
                                   CASE("q2", e2, r2),
                                   CASE("q3", e3, r3),
                                   CASE("q4", e4, r4),
                                   {"no answer", NULL, 0, r4, 3}};
    struct kb_eval_result res;
    kb_eval_compute(cases, 5, &res);
    assert_int_equal(res.questions, 4);
    assert_int_equal(res.skipped, 1);
    assert_true(res.recall_at_1 == 1.0 / 4.0);
    assert_true(res.recall_at_3 == (1.0 + 0.5 + 1.0 + 0.0) / 4.0);
    assert_true(res.mrr == (1.0 + 0.5 + 1.0 / 3.0 + 0.0) / 4.0);

    kb_eval_compute(cases, 0, &res);
    assert_int_equal(res.questions, 0);
    assert_true(res.recall_at_1 == 0.0 && res.mrr == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_question),
        cmocka_unit_test(test_means),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
