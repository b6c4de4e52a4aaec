/* Micro-benchmark of knowledge-base search (knowledge/kb_index.h): builds an index of N
 * synthetic chunks (150 words each from a 30,000-word vocabulary drawn with a Zipf-like law, 50
 * chunks a document), then times queries of 2-6 words drawn the same way, and one document's
 * update (remove and add). Usage: kb_search [chunks ...] (default 1000 100000), each with
 * and without the phrase boost; then the dense side (knowledge/kb_vectors.h) at 512 and 1024
 * dimensions: random unit vectors, a cosine top-50 search and the hybrid search (BM25 and dense
 * fused, knowledge/kb_fusion.h). Deterministic (fixed seed). Results: bench/RESULTS.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "knowledge/kb_fusion.h"
#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"

#define VOCAB       30000
#define CHUNK_WORDS 150
#define DOC_CHUNKS  50
#define QUERIES     2000

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double *cdf;

/* A word rank with P(rank r) proportional to 1 / (r + 1). */
static size_t zipf(void)
{
    double u = (double)(next() >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Rank r as a pseudo-word of letters that no stemming rule touches ("qa", "qb", ... "qzzk"). */
static void word(size_t r, char *out)
{
    size_t n = 0;
    out[n++] = 'q';
    do {
        out[n++] = (char)('a' + r % 21); /* a-u: no s, no y */
        r /= 21;
    } while (r);
    out[n++] = 'k';
    out[n] = '\0';
}

static void append_words(char *buf, size_t *len, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char w[16];
        word(zipf(), w);
        size_t n = strlen(w);
        if (*len)
            buf[(*len)++] = ' ';
        memcpy(buf + *len, w, n);
        *len += n;
    }
    buf[*len] = '\0';
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void make_doc(size_t d, struct kb_doc *doc, char names[][32])
{
    snprintf(names[0], 32, "doc%06zu.md", d);
    snprintf(names[1], 32, "Title %zu", d);
    doc->name = names[0];
    doc->title = names[1];
    doc->kind = KB_KIND_MD;
    doc->n_chunks = DOC_CHUNKS;
    doc->chunks = pl_calloc(DOC_CHUNKS, sizeof(*doc->chunks));
    for (size_t c = 0; c < DOC_CHUNKS; c++) {
        char *text = pl_malloc(CHUNK_WORDS * 16);
        size_t len = 0;
        append_words(text, &len, CHUNK_WORDS);
        char *heading = pl_malloc(64);
        size_t hl = 0;
        append_words(heading, &hl, 2);
        doc->chunks[c] = (struct kb_chunk){heading, text, CHUNK_WORDS};
    }
}

static void free_doc(struct kb_doc *doc)
{
    for (size_t c = 0; c < doc->n_chunks; c++) {
        pl_free(doc->chunks[c].heading);
        pl_free(doc->chunks[c].text);
    }
    pl_free(doc->chunks);
}

static void run(size_t chunks, double phrase_boost)
{
    rng = 88172645463325252ull;
    struct kb_index_params p = kb_index_params_default();
    p.phrase_boost = phrase_boost;
    struct kb_index *ix = kb_index_new(&p);
    size_t docs = (chunks + DOC_CHUNKS - 1) / DOC_CHUNKS;
    char names[2][32];
    double t0 = now();
    for (size_t d = 0; d < docs; d++) {
        struct kb_doc doc;
        make_doc(d, &doc, names);
        if (kb_index_add(ix, &doc) != 0)
            abort();
        free_doc(&doc);
    }
    double t_build = now() - t0;

    static double lat[QUERIES];
    size_t hits_total = 0;
    struct kb_hit hits[5];
    char q[256];
    for (size_t i = 0; i < QUERIES; i++) {
        size_t len = 0;
        append_words(q, &len, 2 + next() % 5);
        double a = now();
        hits_total += kb_index_search(ix, q, len, hits, 5);
        lat[i] = now() - a;
    }
    double sum = 0;
    for (size_t i = 0; i < QUERIES; i++)
        sum += lat[i];
    qsort(lat, QUERIES, sizeof(lat[0]), cmp_double);

    /* an update of one document: remove and add its 50 chunks */
    struct kb_doc doc;
    make_doc(docs / 2, &doc, names);
    double u0 = now();
    kb_index_remove(ix, doc.name);
    kb_index_add(ix, &doc);
    double t_update = now() - u0;
    free_doc(&doc);

    size_t bytes = kb_index_bytes(ix);
    printf("phrase boost %.1f, %zu chunks (%zu docs): build %.2f s; search mean %.1f us, p50 %.1f "
           "us, p99 %.1f us, "
           "max %.1f us (%zu queries, %.2f hits each); update of a %d-chunk document %.2f ms; "
           "index %.1f MB, %.0f bytes a chunk\n",
           phrase_boost, chunks, docs, t_build, sum / QUERIES * 1e6, lat[QUERIES / 2] * 1e6,
           lat[QUERIES * 99 / 100] * 1e6, lat[QUERIES - 1] * 1e6, (size_t)QUERIES,
           (double)hits_total / QUERIES, DOC_CHUNKS, t_update * 1e3, bytes / 1048576.0,
           (double)bytes / (double)kb_index_chunks(ix));
    kb_index_free(ix);
}

#define DENSE_QUERIES 200

/* A uniform value in [-1, 1). */
static float uniform(void)
{
    return (float)((double)(next() >> 11) / 4503599627370496.0 - 1.0);
}

static void run_dense(size_t chunks, unsigned dims)
{
    rng = 88172645463325252ull;
    struct kb_index *ix = kb_index_new(NULL);
    struct kb_vectors *v = kb_vectors_new(dims);
    size_t docs = (chunks + DOC_CHUNKS - 1) / DOC_CHUNKS;
    char names[2][32];
    float *vecs = pl_malloc((size_t)DOC_CHUNKS * dims * sizeof(float));
    double t_vec = 0;
    for (size_t d = 0; d < docs; d++) {
        struct kb_doc doc;
        make_doc(d, &doc, names);
        if (kb_index_add(ix, &doc) != 0)
            abort();
        for (size_t i = 0; i < (size_t)DOC_CHUNKS * dims; i++)
            vecs[i] = uniform();
        double a = now();
        if (kb_vectors_add(v, doc.name, vecs, DOC_CHUNKS) != 0)
            abort();
        t_vec += now() - a;
        free_doc(&doc);
    }
    static double lat[DENSE_QUERIES], hyb[DENSE_QUERIES];
    struct kb_vec_hit dh[KB_FUSION_POOL];
    struct kb_hit hits[5];
    float *qv = pl_malloc(dims * sizeof(float));
    char q[256];
    double sum = 0, hsum = 0;
    for (size_t i = 0; i < DENSE_QUERIES; i++) {
        for (unsigned j = 0; j < dims; j++)
            qv[j] = uniform();
        double a = now();
        kb_vectors_search(v, qv, dh, KB_FUSION_POOL);
        lat[i] = now() - a;
        sum += lat[i];
        size_t len = 0;
        append_words(q, &len, 2 + next() % 5);
        a = now();
        kb_hybrid_search(ix, v, q, len, qv, 0.3, hits, 5);
        hyb[i] = now() - a;
        hsum += hyb[i];
    }
    qsort(lat, DENSE_QUERIES, sizeof(lat[0]), cmp_double);
    qsort(hyb, DENSE_QUERIES, sizeof(hyb[0]), cmp_double);
    /* an update: the vectors of one 50-chunk document removed and added */
    double u0 = now();
    kb_vectors_remove(v, "doc000000.md");
    kb_vectors_add(v, "doc000000.md", vecs, DOC_CHUNKS);
    double t_update = now() - u0;
    size_t bytes = kb_vectors_bytes(v);
    printf(
        "dense %u dims, %zu chunks: vectors added in %.2f s; cosine top-%d mean %.0f us, p50 %.0f "
        "us, p99 %.0f us; hybrid top-5 (BM25 + dense + fusion) mean %.0f us, p50 %.0f us, "
        "p99 %.0f us (%d queries); update of a %d-chunk document %.2f ms; vectors %.1f MB, "
        "%.0f bytes a chunk\n",
        dims, chunks, t_vec, KB_FUSION_POOL, sum / DENSE_QUERIES * 1e6,
        lat[DENSE_QUERIES / 2] * 1e6, lat[DENSE_QUERIES * 99 / 100] * 1e6,
        hsum / DENSE_QUERIES * 1e6, hyb[DENSE_QUERIES / 2] * 1e6,
        hyb[DENSE_QUERIES * 99 / 100] * 1e6, DENSE_QUERIES, DOC_CHUNKS, t_update * 1e3,
        bytes / 1048576.0, (double)bytes / (double)kb_vectors_chunks(v));
    pl_free(qv);
    pl_free(vecs);
    kb_vectors_free(v);
    kb_index_free(ix);
}

int main(int argc, char **argv)
{
    cdf = malloc(VOCAB * sizeof(*cdf));
    double total = 0;
    for (size_t r = 0; r < VOCAB; r++)
        total += 1.0 / (double)(r + 1);
    double acc = 0;
    for (size_t r = 0; r < VOCAB; r++) {
        acc += 1.0 / (double)(r + 1) / total;
        cdf[r] = acc;
    }
    cdf[VOCAB - 1] = 1.0;
    /* each size with the phrase boost (the default) and without it (BM25 alone) */
    const char *dflt[] = {"1000", "100000"};
    const char *const *sizes = argc < 2 ? dflt : (const char *const *)argv + 1;
    int n = argc < 2 ? 2 : argc - 1;
    for (int i = 0; i < n; i++) {
        run((size_t)strtoul(sizes[i], NULL, 10), KB_PHRASE_BOOST);
        run((size_t)strtoul(sizes[i], NULL, 10), 0);
    }
    for (int i = 0; i < n; i++) {
        run_dense((size_t)strtoul(sizes[i], NULL, 10), 512);
        run_dense((size_t)strtoul(sizes[i], NULL, 10), 1024);
    }
    free(cdf);
    return 0;
}
