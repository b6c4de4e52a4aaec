/* Flat matrix of unit vectors with brute-force cosine search; see kb_vectors.h. Each row is kept
 * as signed bytes with a scale (value = byte x scale, the row's largest component at +-127): a
 * search reads a quarter of the memory float32 rows would take, and a search at 100,000 rows is
 * bound by that read. A removal moves the rows after the document's down (a memmove of the
 * matrix tail), which costs about the matrix but happens once per changed document. */
#include "knowledge/kb_vectors.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/map.h"

struct vdoc {
    char *name;
    uint32_t start, n; /* its rows */
};

struct kb_vectors {
    unsigned dims;
    int8_t *mat;         /* rows x dims: each row's unit vector quantised */
    float *scale;        /* per row: a byte's value (0 for a zero vector) */
    struct vdoc **owner; /* per row */
    uint32_t *chunk;     /* per row */
    size_t rows, cap;
    struct pl_map docs; /* name -> struct vdoc */
    size_t name_bytes;
};

struct kb_vectors *kb_vectors_new(unsigned dims)
{
    if (dims == 0 || dims > KB_VECTORS_MAX_DIMS)
        return NULL;
    struct kb_vectors *v = pl_calloc(1, sizeof(*v));
    v->dims = dims;
    pl_map_init(&v->docs);
    return v;
}

static void free_doc(const char *key, void *value, void *ud)
{
    (void)key, (void)ud;
    struct vdoc *d = value;
    pl_free(d->name);
    pl_free(d);
}

void kb_vectors_free(struct kb_vectors *v)
{
    if (!v)
        return;
    pl_map_each(&v->docs, free_doc, NULL);
    pl_map_cleanup(&v->docs);
    pl_free(v->mat);
    pl_free(v->scale);
    pl_free(v->owner);
    pl_free(v->chunk);
    pl_free(v);
}

unsigned kb_vectors_dims(const struct kb_vectors *v)
{
    return v->dims;
}

size_t kb_vectors_docs(const struct kb_vectors *v)
{
    return v->docs.count;
}

size_t kb_vectors_chunks(const struct kb_vectors *v)
{
    return v->rows;
}

size_t kb_vectors_bytes(const struct kb_vectors *v)
{
    return sizeof(*v) +
           v->cap *
               (v->dims * sizeof(int8_t) + sizeof(float) + sizeof(*v->owner) + sizeof(uint32_t)) +
           v->docs.count * sizeof(struct vdoc) + v->name_bytes;
}

bool kb_vectors_has(const struct kb_vectors *v, const char *doc)
{
    return pl_map_get(&v->docs, doc) != NULL;
}

/* `src` (dims floats, finite) scaled to unit length and quantised into `dst`; returns the
 * scale (0 for a zero vector, whose bytes are all 0). */
static float quantise(const float *src, unsigned dims, int8_t *dst)
{
    double norm = 0, max = 0;
    for (unsigned j = 0; j < dims; j++) {
        norm += (double)src[j] * src[j];
        if (fabs((double)src[j]) > max)
            max = fabs((double)src[j]);
    }
    if (!(norm > 0) || !isfinite(norm) || !(max > 0)) {
        memset(dst, 0, dims);
        return 0.0f;
    }
    norm = sqrt(norm);
    double step = max / norm / 127.0; /* the unit vector's largest component is 127 steps */
    for (unsigned j = 0; j < dims; j++) {
        long q = lrint(src[j] / norm / step);
        dst[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    return (float)step;
}

int kb_vectors_add(struct kb_vectors *v, const char *doc, const float *vecs, uint32_t n)
{
    if (!doc || !*doc || n == 0)
        return PL_EINVAL;
    if (pl_map_get(&v->docs, doc))
        return PL_EBUSY;
    for (size_t i = 0; i < (size_t)n * v->dims; i++)
        if (!isfinite(vecs[i]))
            return PL_EINVAL;
    if (v->rows + n > v->cap) {
        size_t cap = v->cap ? v->cap : 64;
        while (cap < v->rows + n)
            cap *= 2;
        v->mat = pl_realloc(v->mat, cap * v->dims * sizeof(int8_t));
        v->scale = pl_realloc(v->scale, cap * sizeof(float));
        v->owner = pl_realloc(v->owner, cap * sizeof(*v->owner));
        v->chunk = pl_realloc(v->chunk, cap * sizeof(*v->chunk));
        v->cap = cap;
    }
    struct vdoc *d = pl_calloc(1, sizeof(*d));
    d->name = pl_strdup(doc);
    d->start = (uint32_t)v->rows;
    d->n = n;
    for (uint32_t i = 0; i < n; i++) {
        const float *src = vecs + (size_t)i * v->dims;
        v->scale[v->rows + i] = quantise(src, v->dims, v->mat + (v->rows + i) * v->dims);
        v->owner[v->rows + i] = d;
        v->chunk[v->rows + i] = i;
    }
    v->rows += n;
    v->name_bytes += strlen(doc) + 1;
    pl_map_put(&v->docs, d->name, d);
    return PL_OK;
}

int kb_vectors_remove(struct kb_vectors *v, const char *doc)
{
    struct vdoc *d = pl_map_remove(&v->docs, doc);
    if (!d)
        return PL_ENOTFOUND;
    size_t end = (size_t)d->start + d->n, tail = v->rows - end;
    memmove(v->mat + (size_t)d->start * v->dims, v->mat + end * v->dims,
            tail * v->dims * sizeof(int8_t));
    memmove(v->scale + d->start, v->scale + end, tail * sizeof(float));
    memmove(v->owner + d->start, v->owner + end, tail * sizeof(*v->owner));
    memmove(v->chunk + d->start, v->chunk + end, tail * sizeof(*v->chunk));
    v->rows -= d->n;
    /* The documents after it moved down by its rows. */
    for (size_t r = d->start; r < v->rows; r++)
        if (v->chunk[r] == 0)
            v->owner[r]->start = (uint32_t)r;
    v->name_bytes -= strlen(d->name) + 1;
    pl_free(d->name);
    pl_free(d);
    return PL_OK;
}

/* True if a ranks before b. */
static bool before(const struct kb_vec_hit *a, const struct kb_vec_hit *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    int c = strcmp(a->doc, b->doc);
    return c ? c < 0 : a->chunk < b->chunk;
}

/* A plain integer sum: integer addition may be reordered, so the compiler vectorises it (this
 * file is built with -ftree-vectorize, CMakeLists.txt). On x86-64 a second copy is built for AVX2
 * (picked at load time on CPUs that have it): widening the bytes and multiply-adding them 16 at
 * a time is what makes the bytes pay; baseline SSE2 has no such instructions (bench/RESULTS.md).
 * 127 x 127 x 8192 fits an int32. */
#if defined(__x86_64__) && defined(__GNUC__)
#define DOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DOT_CLONES
#endif

DOT_CLONES static int32_t dot_product(const int8_t *a, const int8_t *b, unsigned n)
{
    int32_t s = 0;
    for (unsigned j = 0; j < n; j++)
        s += (int32_t)a[j] * (int32_t)b[j];
    return s;
}

size_t kb_vectors_search(const struct kb_vectors *v, const float *query, struct kb_vec_hit *hits,
                         size_t k)
{
    if (!v || k == 0 || v->rows == 0)
        return 0;
    for (unsigned j = 0; j < v->dims; j++)
        if (!isfinite(query[j]))
            return 0;
    int8_t *q = pl_malloc(v->dims);
    float qscale = quantise(query, v->dims, q);
    if (qscale == 0.0f) {
        pl_free(q);
        return 0;
    }
    size_t n = 0;
    for (size_t r = 0; r < v->rows; r++) {
        int32_t dot = dot_product(v->mat + r * v->dims, q, v->dims);
        double score = (double)dot * v->scale[r] * qscale;
        struct kb_vec_hit h = {score, v->owner[r]->name, v->chunk[r]};
        if (n == k && !before(&h, &hits[k - 1]))
            continue;
        /* Insertion into the sorted top k (k is small: tens). */
        size_t i = n < k ? n++ : k - 1;
        while (i > 0 && before(&h, &hits[i - 1])) {
            hits[i] = hits[i - 1];
            i--;
        }
        hits[i] = h;
    }
    pl_free(q);
    return n;
}

int kb_vectors_encode(struct pl_buf *out, const float *vecs, size_t n)
{
    int rc = pl_buf_reserve(out, n * 4);
    for (size_t i = 0; i < n && rc == PL_OK; i++) {
        uint32_t u;
        memcpy(&u, &vecs[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        rc = pl_buf_append(out, b, 4);
    }
    return rc;
}

int kb_vectors_decode(const void *bytes, size_t len, float *out)
{
    if (len % 4)
        return PL_EINVAL;
    const unsigned char *b = bytes;
    for (size_t i = 0; i < len / 4; i++, b += 4) {
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&out[i], &u, 4);
        if (!isfinite(out[i]))
            return PL_EINVAL;
    }
    return PL_OK;
}
