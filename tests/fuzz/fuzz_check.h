/* Helpers shared by the libFuzzer targets of tests/fuzz: a contract check that crashes in every
 * build type (assert does not in release builds), and a hash of the input that picks split
 * points and variants, so that one input always replays the same way. */
#ifndef PARLEY_TESTS_FUZZ_CHECK_H
#define PARLEY_TESTS_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
