/* The dense side of the knowledge base: one vector per chunk, kept unit-length in a flat matrix
 * (rows of one document together), searched by brute-force cosine similarity (a dot product of
 * unit vectors). Rows and the query are quantised to signed bytes with a scale per vector (the
 * largest component is 127 steps), so a search reads a byte per dimension and a score is within
 * about a step (1/127 of the largest component, times a few) of the exact cosine: close
 * passages may swap places, far ones do not. Documents are added whole and removed by name, as
 * in kb_index.h. Memory: dims bytes per chunk plus 16 for its scale, document and number (512
 * dims: about 0.5 MB per 1,000 chunks, 53 MB per 100,000). Single-threaded; I/O-free. Also the
 * byte form vectors are stored in Redis in (little-endian float32, unquantised). */
#ifndef PARLEY_KNOWLEDGE_KB_VECTORS_H
#define PARLEY_KNOWLEDGE_KB_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define KB_VECTORS_MAX_DIMS 8192u

struct kb_vectors;

struct kb_vec_hit {
    double score;    /* cosine similarity, -1..1 */
    const char *doc; /* borrowed from the set, valid until the next add or remove */
    uint32_t chunk;
};

/** A new empty set of `dims`-long vectors (1..KB_VECTORS_MAX_DIMS). */
struct kb_vectors *kb_vectors_new(unsigned dims);
/** Accepts NULL. */
void kb_vectors_free(struct kb_vectors *v);

unsigned kb_vectors_dims(const struct kb_vectors *v);
size_t kb_vectors_docs(const struct kb_vectors *v);
size_t kb_vectors_chunks(const struct kb_vectors *v);
/** Bytes held on the heap (matrix, row tables, names). */
size_t kb_vectors_bytes(const struct kb_vectors *v);
bool kb_vectors_has(const struct kb_vectors *v, const char *doc);

/** Add the `n` vectors (n x dims floats, chunk 0 first) of `doc`, each scaled to unit length (a
 *  zero vector stays zero and matches nothing). PL_EBUSY if `doc` has vectors, PL_EINVAL for
 *  an empty name, n 0 or a value that is not finite. */
int kb_vectors_add(struct kb_vectors *v, const char *doc, const float *vecs, uint32_t n);
/** PL_ENOTFOUND if `doc` has none. */
int kb_vectors_remove(struct kb_vectors *v, const char *doc);

/** The `k` rows most similar to `query` (dims floats; need not be unit length) into `hits`,
 *  best first, ties by document name then chunk; returns how many (0 for a zero query). */
size_t kb_vectors_search(const struct kb_vectors *v, const float *query, struct kb_vec_hit *hits,
                         size_t k);

/** Append `n` floats as little-endian float32 bytes. */
int kb_vectors_encode(struct pl_buf *out, const float *vecs, size_t n);
/** Read `len` bytes of little-endian float32 into `out` (room for len / 4). PL_EINVAL when len
 *  is not a multiple of 4 or a value is not finite. */
int kb_vectors_decode(const void *bytes, size_t len, float *out);

#endif
