/* Helpers shared by the libFuzzer targets of tests/fuzz: a contract check that crashes in every
 * build type (assert does not in release builds), and a hash of the input that picks split
 * points and variants, so that one input always replays the same way. */
#ifndef PARLEY_TESTS_FUZZ_CHECK_H
#define PARLEY_TESTS_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a crash for libFuzzer to report, with the condition and its line. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FNV-1a of the input: a deterministic "random" number for an input. */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

/* A decoder fed in pieces must decode what it decodes fed whole. `run` feeds the input in pieces
 * of `piece` bytes (0: whole) and writes what it decoded to `out` (at most `out_max` bytes);
 * this runs it whole, in pieces of `piece` and byte by byte, and checks the three agree. */
typedef void (*fuzz_run_fn)(const uint8_t *data, size_t size, size_t piece, struct pl_buf *out);

static inline void fuzz_check_split_agrees(fuzz_run_fn run, const uint8_t *data, size_t size,
                                           size_t piece, size_t out_max)
{
    struct pl_buf whole, split, bytes;
    pl_buf_init(&whole, out_max);
    pl_buf_init(&split, out_max);
    pl_buf_init(&bytes, out_max);
    run(data, size, 0, &whole);
    run(data, size, piece, &split);
    run(data, size, 1, &bytes);
    CHECK(whole.len == split.len && whole.len == bytes.len);
    CHECK(whole.len == 0 || (memcmp(whole.data, split.data, whole.len) == 0 &&
                             memcmp(whole.data, bytes.data, whole.len) == 0));
    pl_buf_cleanup(&whole);
    pl_buf_cleanup(&split);
    pl_buf_cleanup(&bytes);
}

#endif
