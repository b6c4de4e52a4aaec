/* Hybrid retrieval: BM25 (kb_index.h) and dense (kb_vectors.h) rankings fused by reciprocal
 * rank fusion (Cormack, Clarke and Buettcher, 2009): a chunk's fused score is the sum, over the
 * lists it is in, of 1 / (KB_RRF_K + its rank there), ranks from 1. Each list is first cut by a
 * relative cut-off on its own scores (docs/knowledge.md "Dense retrieval"): a BM25 hit under
 * `bm25_cutoff` x the best BM25 score, and a dense hit under KB_DENSE_RELATIVE_CUTOFF x the best
 * cosine (or not above 0), gets no vote, so a passage weak in both lists is left out however
 * few the candidates are. I/O-free. */
#ifndef PARLEY_KNOWLEDGE_KB_FUSION_H
#define PARLEY_KNOWLEDGE_KB_FUSION_H

#include <stddef.h>
#include <stdint.h>

#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"

#define KB_RRF_K                 60   /* the constant of the original paper */
#define KB_FUSION_POOL           50   /* candidates taken from each list */
#define KB_DENSE_RELATIVE_CUTOFF 0.75 /* of the best cosine */

/* A ranked chunk. */
struct kb_fuse_item {
    const char *doc; /* borrowed */
    uint32_t chunk;
    double score;
};

/** Fuse ranked lists `a` (na items, best first) and `b` (nb) into `out` (room for k): each
 *  distinct (doc, chunk) once with score sum 1 / (rrf_k + rank), best first, ties by document
 *  name then chunk. Returns how many (at most k). */
size_t kb_fuse_rrf(const struct kb_fuse_item *a, size_t na, const struct kb_fuse_item *b, size_t nb,
                   unsigned rrf_k, struct kb_fuse_item *out, size_t k);

/** The `k` best chunks for `query` (len bytes) and its embedding `qvec` (kb_vectors_dims(v)
 *  floats): BM25's and the dense search's KB_FUSION_POOL best, each cut as above, fused. The
 *  hits carry the fused score; strings borrowed from `ix` as for kb_index_search. `v` or
 *  `qvec` NULL: kb_index_search's k best alone, cut by `bm25_cutoff`, with their BM25 scores. */
size_t kb_hybrid_search(struct kb_index *ix, const struct kb_vectors *v, const char *query,
                        size_t len, const float *qvec, double bm25_cutoff, struct kb_hit *hits,
                        size_t k);

#endif
