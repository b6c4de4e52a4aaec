/* The dense matrix: unit-length rows, cosine top-k with its ties, removal that keeps the other
 * documents' rows right, and the stored byte form. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "knowledge/kb_vectors.h"

static void test_cosine_top_k(void **state)
{
    (void)state;
    struct kb_vectors *v = kb_vectors_new(2);
    const float a[] = {3, 4, 0, 2};  /* (0.6, 0.8), (0, 1) */
    const float b[] = {-1, 0};       /* (-1, 0) */
    const float c[] = {10, 0, 0, 0}; /* (1, 0), zero */
    assert_int_equal(kb_vectors_add(v, "a", a, 2), PL_OK);
    assert_int_equal(kb_vectors_add(v, "b", b, 1), PL_OK);
    assert_int_equal(kb_vectors_add(v, "c", c, 2), PL_OK);
    assert_int_equal(kb_vectors_add(v, "a", b, 1), PL_EBUSY);
    assert_int_equal(kb_vectors_chunks(v), 5);
    assert_int_equal(kb_vectors_docs(v), 2 + 1);
    struct kb_vec_hit h[8];
    const float q[] = {2, 0}; /* any length */
    size_t n = kb_vectors_search(v, q, h, 3);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].doc, "c");
    assert_int_equal(h[0].chunk, 0);
    assert_float_equal(h[0].score, 1.0, 0.01); /* quantised: within a step */
    assert_string_equal(h[1].doc, "a");
    assert_int_equal(h[1].chunk, 0);
    assert_float_equal(h[1].score, 0.6, 0.01); /* quantised: within a step */
    /* 0 for a/1 and c/1: a first */
    assert_string_equal(h[2].doc, "a");
    assert_int_equal(h[2].chunk, 1);
    n = kb_vectors_search(v, q, h, 8);
    assert_int_equal(n, 5);
    assert_string_equal(h[3].doc, "c");
    assert_int_equal(h[3].chunk, 1);
    assert_string_equal(h[4].doc, "b");
    assert_float_equal(h[4].score, -1.0, 0.01); /* quantised: within a step */
    const float zero[] = {0, 0};
    assert_int_equal(kb_vectors_search(v, zero, h, 3), 0);
    kb_vectors_free(v);
}

static void test_remove_keeps_the_others(void **state)
{
    (void)state;
    struct kb_vectors *v = kb_vectors_new(2);
    const float a[] = {1, 0, 1, 0}, b[] = {0, 1, 0, 1, 0, 1}, c[] = {1, 1};
    kb_vectors_add(v, "a", a, 2);
    kb_vectors_add(v, "b", b, 3);
    kb_vectors_add(v, "c", c, 1);
    size_t before = kb_vectors_bytes(v);
    assert_true(before > 6 * 2 * sizeof(float));
    assert_int_equal(kb_vectors_remove(v, "a"), PL_OK);
    assert_int_equal(kb_vectors_remove(v, "a"), PL_ENOTFOUND);
    assert_false(kb_vectors_has(v, "a"));
    assert_true(kb_vectors_has(v, "b"));
    assert_int_equal(kb_vectors_chunks(v), 4);
    struct kb_vec_hit h[8];
    const float q[] = {1, 1};
    size_t n = kb_vectors_search(v, q, h, 8);
    assert_int_equal(n, 4);
    assert_string_equal(h[0].doc, "c");
    assert_float_equal(h[0].score, 1.0, 0.01); /* quantised: within a step */
    assert_string_equal(h[1].doc, "b");
    assert_int_equal(h[1].chunk, 0);
    assert_int_equal(h[3].chunk, 2);
    /* b removed after a: c's rows moved twice and still right */
    assert_int_equal(kb_vectors_remove(v, "b"), PL_OK);
    const float a2[] = {0, 5};
    assert_int_equal(kb_vectors_add(v, "a", a2, 1), PL_OK);
    const float q2[] = {0, 1};
    n = kb_vectors_search(v, q2, h, 8);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].doc, "a");
    assert_string_equal(h[1].doc, "c");
    assert_float_equal(h[1].score, sqrt(0.5), 0.01); /* quantised: within a step */
    const float bad[] = {NAN, 0};
    assert_int_equal(kb_vectors_add(v, "d", bad, 1), PL_EINVAL);
    assert_int_equal(kb_vectors_add(v, "", a2, 1), PL_EINVAL);
    kb_vectors_free(v);
    assert_null(kb_vectors_new(0));
}

static void test_byte_form(void **state)
{
    (void)state;
    const float in[] = {1.0f, -2.5f, 0.0f};
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    assert_int_equal(kb_vectors_encode(&b, in, 3), PL_OK);
    const unsigned char want[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
                                  0x20, 0xc0, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, want, 12);
    float out[3];
    assert_int_equal(kb_vectors_decode(b.data, b.len, out), PL_OK);
    assert_memory_equal(out, in, sizeof(in));
    assert_int_equal(kb_vectors_decode(b.data, 11, out), PL_EINVAL);
    const unsigned char inf[] = {0x00, 0x00, 0x80, 0x7f};
    assert_int_equal(kb_vectors_decode(inf, 4, out), PL_EINVAL);
    pl_buf_cleanup(&b);
}

/* Quantised scores against the exact cosine on 300 pseudo-random 384-dimension vectors (a
 * fixed seed): every score within 0.02, and each row searched for finds itself first. */
/* "123" -> 123 (the test's own names). */
static int atoi_digits(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}

static void test_quantised_scores_follow_cosine(void **state)
{
    (void)state;
    enum { ROWS = 300, DIMS = 384 };
    static float rows[ROWS][DIMS];
    uint32_t x = 12345;
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < DIMS; j++) {
            x = x * 1664525u + 1013904223u;
            rows[r][j] = (float)((double)(x >> 8) / (1u << 24) - 0.5);
        }
    struct kb_vectors *v = kb_vectors_new(DIMS);
    char name[16];
    for (int r = 0; r < ROWS; r++) {
        snprintf(name, sizeof(name), "d%03d", r);
        assert_int_equal(kb_vectors_add(v, name, rows[r], 1), PL_OK);
    }
    struct kb_vec_hit h[ROWS];
    for (int r = 0; r < ROWS; r += 7) {
        size_t n = kb_vectors_search(v, rows[r], h, ROWS);
        assert_int_equal(n, ROWS);
        snprintf(name, sizeof(name), "d%03d", r);
        assert_string_equal(h[0].doc, name);
        for (size_t i = 0; i < n; i++) {
            int o = atoi_digits(h[i].doc + 1);
            double dot = 0, na = 0, nb = 0;
            for (int j = 0; j < DIMS; j++) {
                dot += (double)rows[r][j] * rows[o][j];
                na += (double)rows[r][j] * rows[r][j];
                nb += (double)rows[o][j] * rows[o][j];
            }
            assert_float_equal(h[i].score, dot / sqrt(na * nb), 0.02);
        }
    }
    kb_vectors_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine_top_k),
        cmocka_unit_test(test_remove_keeps_the_others),
        cmocka_unit_test(test_byte_form),
        cmocka_unit_test(test_quantised_scores_follow_cosine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
