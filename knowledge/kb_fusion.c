/* Reciprocal rank fusion of the BM25 and dense lists; see kb_fusion.h. */
#include "knowledge/kb_fusion.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static bool same(const struct kb_fuse_item *x, const struct kb_fuse_item *y)
{
    return x->chunk == y->chunk && strcmp(x->doc, y->doc) == 0;
}

static int cmp_fused(const void *pa, const void *pb)
{
    const struct kb_fuse_item *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    int c = strcmp(a->doc, b->doc);
    if (c)
        return c;
    return a->chunk < b->chunk ? -1 : a->chunk > b->chunk;
}

size_t kb_fuse_rrf(const struct kb_fuse_item *a, size_t na, const struct kb_fuse_item *b, size_t nb,
                   unsigned rrf_k, struct kb_fuse_item *out, size_t k)
{
    if (k == 0 || na + nb == 0)
        return 0;
    /* The lists are short (tens): a quadratic merge is simpler than a map and fast enough. */
    struct kb_fuse_item *all = pl_calloc(na + nb, sizeof(*all));
    size_t n = 0;
    for (int list = 0; list < 2; list++) {
        const struct kb_fuse_item *l = list ? b : a;
        size_t nl = list ? nb : na;
        for (size_t r = 0; r < nl; r++) {
            double add = 1.0 / ((double)rrf_k + (double)(r + 1));
            size_t i = 0;
            while (i < n && !same(&all[i], &l[r]))
                i++;
            if (i == n)
                all[n++] = (struct kb_fuse_item){l[r].doc, l[r].chunk, 0};
            all[i].score += add;
        }
    }
    qsort(all, n, sizeof(*all), cmp_fused);
    if (n > k)
        n = k;
    memcpy(out, all, n * sizeof(*out));
    pl_free(all);
    return n;
}

size_t kb_hybrid_search(struct kb_index *ix, const struct kb_vectors *v, const char *query,
                        size_t len, const float *qvec, double bm25_cutoff, struct kb_hit *hits,
                        size_t k)
{
    if (!ix || k == 0)
        return 0;
    /* BM25 alone: its own k best, exactly as kb_index_search ranks them. */
    size_t pool = !v || !qvec ? k : k > KB_FUSION_POOL ? k : KB_FUSION_POOL;
    struct kb_hit *bm = pl_calloc(pool, sizeof(*bm));
    size_t nbm = query && len ? kb_index_search(ix, query, len, bm, pool) : 0;
    size_t keep = 0;
    while (keep < nbm && bm[keep].score > 0 && bm[keep].score >= bm25_cutoff * bm[0].score)
        keep++;
    nbm = keep;
    if (!v || !qvec) {
        size_t n = nbm < k ? nbm : k;
        memcpy(hits, bm, n * sizeof(*hits));
        pl_free(bm);
        return n;
    }
    struct kb_fuse_item *a = pl_calloc(nbm ? nbm : 1, sizeof(*a));
    for (size_t i = 0; i < nbm; i++)
        a[i] = (struct kb_fuse_item){bm[i].doc, bm[i].chunk, bm[i].score};
    struct kb_vec_hit *dh = pl_calloc(pool, sizeof(*dh));
    size_t nd = kb_vectors_search(v, qvec, dh, pool);
    struct kb_fuse_item *b = pl_calloc(nd ? nd : 1, sizeof(*b));
    size_t nb = 0;
    for (size_t i = 0; i < nd; i++) {
        /* Only chunks the BM25 index also has (a document's vectors may outlive it briefly). */
        struct kb_hit tmp;
        if (dh[i].score <= 0 || dh[i].score < KB_DENSE_RELATIVE_CUTOFF * dh[0].score ||
            !kb_index_chunk(ix, dh[i].doc, dh[i].chunk, &tmp))
            continue;
        b[nb++] = (struct kb_fuse_item){tmp.doc, dh[i].chunk, dh[i].score};
    }
    struct kb_fuse_item *fused = pl_calloc(k, sizeof(*fused));
    size_t n = kb_fuse_rrf(a, nbm, b, nb, KB_RRF_K, fused, k);
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (kb_index_chunk(ix, fused[i].doc, fused[i].chunk, &hits[out])) {
            hits[out].score = fused[i].score;
            out++;
        }
    pl_free(fused);
    pl_free(b);
    pl_free(dh);
    pl_free(a);
    pl_free(bm);
    return out;
}
