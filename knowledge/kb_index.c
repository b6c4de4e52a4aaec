/* Inverted index and BM25 search of kb_index.h. Postings are appended in any order; a removed
 * chunk's postings are dropped lazily (its slot's generation no longer matches) and a term's
 * array is compacted once more than half of it is dead, so a removal costs about the size of
 * the removed chunks, not of the index. */
#include "knowledge/kb_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/map.h"
#include "knowledge/kb_text.h"

struct posting {
    uint32_t slot, gen;
    uint16_t tf;   /* occurrences in the chunk text, saturated */
    uint8_t field; /* 1 if in the title or heading path */
    uint8_t unused;
};

struct term {
    struct posting *p;
    uint32_t n, cap;
    uint32_t df;   /* live chunks holding it */
    uint32_t dead; /* postings of removed chunks still in p */
    uint32_t id;   /* never reused, so a stale id matches nothing */
};

struct idoc {
    char *name, *title;
    uint32_t *slots;
    uint32_t n;
};

struct ichunk {
    struct idoc *doc; /* NULL: free slot */
    char *heading, *text;
    uint32_t *seq; /* ids of the text's terms in order (len of them), for the phrase boost */
    uint32_t gen, no, len;
};

struct kb_index {
    struct kb_index_params p;
    struct pl_map terms; /* term -> struct term */
    struct pl_map docs;  /* name -> struct idoc */
    struct ichunk *chunks;
    uint32_t n_slots, cap_slots;
    uint32_t *free_slots;
    uint32_t n_free, cap_free;
    size_t live;
    uint64_t total_len;
    uint32_t next_id;
    double *acc;       /* per slot, 0 when untouched (every contribution is positive) */
    uint32_t *touched; /* slots with acc != 0 */
    size_t n_touched;
};

struct kb_index_params kb_index_params_default(void)
{
    struct kb_index_params p = {KB_BM25_K1, KB_BM25_B, KB_FIELD_BOOST, KB_PHRASE_BOOST};
    return p;
}

struct kb_index *kb_index_new(const struct kb_index_params *p)
{
    struct kb_index *ix = pl_calloc(1, sizeof(*ix));
    ix->p = p ? *p : kb_index_params_default();
    pl_map_init(&ix->terms);
    pl_map_init(&ix->docs);
    return ix;
}

static void free_term(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    struct term *t = value;
    pl_free(t->p);
    pl_free(t);
}

static void free_doc(struct idoc *d)
{
    pl_free(d->name);
    pl_free(d->title);
    pl_free(d->slots);
    pl_free(d);
}

static void free_doc_cb(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    free_doc(value);
}

void kb_index_free(struct kb_index *ix)
{
    if (!ix)
        return;
    pl_map_each(&ix->terms, free_term, NULL);
    pl_map_cleanup(&ix->terms);
    pl_map_each(&ix->docs, free_doc_cb, NULL);
    pl_map_cleanup(&ix->docs);
    for (uint32_t i = 0; i < ix->n_slots; i++) {
        pl_free(ix->chunks[i].heading);
        pl_free(ix->chunks[i].text);
        pl_free(ix->chunks[i].seq);
    }
    pl_free(ix->chunks);
    pl_free(ix->free_slots);
    pl_free(ix->acc);
    pl_free(ix->touched);
    pl_free(ix);
}

size_t kb_index_docs(const struct kb_index *ix)
{
    return ix->docs.count;
}

size_t kb_index_chunks(const struct kb_index *ix)
{
    return ix->live;
}

/* ---- the terms of one chunk ---- */

struct tterm {
    const char *s;
    int field;
};

struct chunk_terms {
    struct kb_terms body, field;
    struct tterm *all; /* sorted: equal terms next to each other */
    size_t n;
    uint32_t len; /* terms of the body */
};

static int cmp_tterm(const void *a, const void *b)
{
    return strcmp(((const struct tterm *)a)->s, ((const struct tterm *)b)->s);
}

static void chunk_terms(struct chunk_terms *ct, const char *title, const char *heading,
                        const char *text)
{
    kb_terms_init(&ct->body);
    kb_terms_init(&ct->field);
    kb_terms_add(&ct->body, text, strlen(text));
    kb_terms_add(&ct->field, title, strlen(title));
    kb_terms_add(&ct->field, heading, strlen(heading));
    ct->n = ct->body.n + ct->field.n;
    ct->len = (uint32_t)ct->body.n;
    ct->all = pl_malloc((ct->n ? ct->n : 1) * sizeof(*ct->all));
    for (size_t i = 0; i < ct->body.n; i++)
        ct->all[i] = (struct tterm){ct->body.v[i], 0};
    for (size_t i = 0; i < ct->field.n; i++)
        ct->all[ct->body.n + i] = (struct tterm){ct->field.v[i], 1};
    qsort(ct->all, ct->n, sizeof(*ct->all), cmp_tterm);
}

static void chunk_terms_cleanup(struct chunk_terms *ct)
{
    kb_terms_cleanup(&ct->body);
    kb_terms_cleanup(&ct->field);
    pl_free(ct->all);
}

/* ---- add and remove ---- */

static uint32_t take_slot(struct kb_index *ix)
{
    if (ix->n_free)
        return ix->free_slots[--ix->n_free];
    if (ix->n_slots == ix->cap_slots) {
        ix->cap_slots = ix->cap_slots ? ix->cap_slots * 2 : 64;
        ix->chunks = pl_realloc(ix->chunks, ix->cap_slots * sizeof(*ix->chunks));
        ix->acc = pl_realloc(ix->acc, ix->cap_slots * sizeof(*ix->acc));
        ix->touched = pl_realloc(ix->touched, ix->cap_slots * sizeof(*ix->touched));
    }
    uint32_t s = ix->n_slots++;
    memset(&ix->chunks[s], 0, sizeof(ix->chunks[s]));
    ix->acc[s] = 0;
    return s;
}

int kb_index_add(struct kb_index *ix, const struct kb_doc *doc)
{
    if (!doc->name || !*doc->name)
        return PL_EINVAL;
    if (pl_map_get(&ix->docs, doc->name))
        return PL_EBUSY;
    if (doc->n_chunks > KB_INDEX_MAX_CHUNKS - ix->live)
        return PL_ETOOBIG;
    struct idoc *d = pl_calloc(1, sizeof(*d));
    d->name = pl_strdup(doc->name);
    d->title = pl_strdup(doc->title ? doc->title : doc->name);
    d->slots = pl_malloc((doc->n_chunks ? doc->n_chunks : 1) * sizeof(*d->slots));
    d->n = (uint32_t)doc->n_chunks;
    for (uint32_t i = 0; i < d->n; i++) {
        const struct kb_chunk *k = &doc->chunks[i];
        uint32_t s = take_slot(ix);
        struct ichunk *c = &ix->chunks[s];
        c->doc = d;
        c->heading = pl_strdup(k->heading ? k->heading : "");
        c->text = pl_strdup(k->text ? k->text : "");
        c->gen++;
        c->no = i;
        d->slots[i] = s;
        struct chunk_terms ct;
        chunk_terms(&ct, d->title, c->heading, c->text);
        c->len = ct.len;
        for (size_t a = 0; a < ct.n;) {
            size_t b = a;
            uint32_t tf = 0;
            int field = 0;
            for (; b < ct.n && strcmp(ct.all[b].s, ct.all[a].s) == 0; b++) {
                tf += !ct.all[b].field;
                field |= ct.all[b].field;
            }
            struct term *t = pl_map_get(&ix->terms, ct.all[a].s);
            if (!t) {
                t = pl_calloc(1, sizeof(*t));
                t->id = ix->next_id++;
                pl_map_put(&ix->terms, ct.all[a].s, t);
            }
            if (t->n == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 2;
                t->p = pl_realloc(t->p, t->cap * sizeof(*t->p));
            }
            t->p[t->n++] = (struct posting){
                s, c->gen, (uint16_t)(tf > UINT16_MAX ? UINT16_MAX : tf), (uint8_t)field, 0};
            t->df++;
            a = b;
        }
        c->seq = pl_malloc((ct.len ? ct.len : 1) * sizeof(*c->seq));
        for (uint32_t j = 0; j < ct.len; j++)
            c->seq[j] = ((const struct term *)pl_map_get(&ix->terms, ct.body.v[j]))->id;
        ix->total_len += c->len;
        ix->live++;
        chunk_terms_cleanup(&ct);
    }
    pl_map_put(&ix->docs, d->name, d);
    return PL_OK;
}

static int posting_live(const struct kb_index *ix, const struct posting *p)
{
    const struct ichunk *c = &ix->chunks[p->slot];
    return c->doc && c->gen == p->gen;
}

static void forget_term(struct kb_index *ix, const char *s)
{
    struct term *t = pl_map_get(&ix->terms, s);
    if (!t)
        return;
    t->df--;
    t->dead++;
    if (t->df == 0) {
        pl_map_remove(&ix->terms, s);
        free_term(s, t, NULL);
    } else if (t->dead * 2 > t->n) {
        uint32_t w = 0;
        for (uint32_t r = 0; r < t->n; r++)
            if (posting_live(ix, &t->p[r]))
                t->p[w++] = t->p[r];
        t->n = w;
        t->dead = 0;
    }
}

int kb_index_remove(struct kb_index *ix, const char *name)
{
    struct idoc *d = name ? pl_map_get(&ix->docs, name) : NULL;
    if (!d)
        return PL_ENOTFOUND;
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t s = d->slots[i];
        struct ichunk *c = &ix->chunks[s];
        c->doc = NULL; /* its postings are dead from here on */
        struct chunk_terms ct;
        chunk_terms(&ct, d->title, c->heading, c->text);
        for (size_t a = 0; a < ct.n; a++)
            if (a == 0 || strcmp(ct.all[a].s, ct.all[a - 1].s) != 0)
                forget_term(ix, ct.all[a].s);
        chunk_terms_cleanup(&ct);
        ix->total_len -= c->len;
        ix->live--;
        pl_free(c->heading);
        pl_free(c->text);
        pl_free(c->seq);
        c->heading = c->text = NULL;
        c->seq = NULL;
        if (ix->n_free == ix->cap_free) {
            ix->cap_free = ix->cap_free ? ix->cap_free * 2 : 64;
            ix->free_slots = pl_realloc(ix->free_slots, ix->cap_free * sizeof(*ix->free_slots));
        }
        ix->free_slots[ix->n_free++] = s;
    }
    pl_map_remove(&ix->docs, name);
    free_doc(d);
    return PL_OK;
}

/* ---- memory ---- */

static void term_bytes(const char *key, void *value, void *ud)
{
    const struct term *t = value;
    /* the map's entry: next pointer, hash, value and the key */
    *(size_t *)ud += sizeof(*t) + t->cap * sizeof(*t->p) + 3 * sizeof(void *) + strlen(key) + 1;
}

static void doc_bytes(const char *key, void *value, void *ud)
{
    const struct idoc *d = value;
    *(size_t *)ud += sizeof(*d) + 2 * (strlen(key) + 1) + strlen(d->title) + 1 +
                     d->n * sizeof(*d->slots) + 3 * sizeof(void *);
}

size_t kb_index_bytes(const struct kb_index *ix)
{
    size_t n = sizeof(*ix);
    n += (ix->terms.n_buckets + ix->docs.n_buckets) * sizeof(void *);
    pl_map_each(&ix->terms, term_bytes, &n);
    pl_map_each(&ix->docs, doc_bytes, &n);
    n += ix->cap_slots * (sizeof(*ix->chunks) + sizeof(*ix->acc) + sizeof(*ix->touched));
    n += ix->cap_free * sizeof(*ix->free_slots);
    for (uint32_t i = 0; i < ix->n_slots; i++)
        if (ix->chunks[i].doc)
            n += strlen(ix->chunks[i].heading) + strlen(ix->chunks[i].text) + 2 +
                 ix->chunks[i].len * sizeof(*ix->chunks[i].seq);
    return n;
}

/* ---- search ---- */

struct cand {
    uint32_t slot;
    double score;
};

/* > 0 if a ranks before b: higher score, then smaller document name, then smaller number. */
static int better(const struct kb_index *ix, const struct cand *a, const struct cand *b)
{
    if (a->score != b->score)
        return a->score > b->score ? 1 : -1;
    const struct ichunk *x = &ix->chunks[a->slot], *y = &ix->chunks[b->slot];
    int c = strcmp(x->doc->name, y->doc->name);
    if (c)
        return -c;
    return x->no < y->no ? 1 : x->no > y->no ? -1 : 0;
}

/* Min-heap on `better`: the worst candidate kept is at the root. */
static void sift_down(const struct kb_index *ix, struct cand *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && better(ix, &h[m], &h[l]) > 0)
            m = l;
        if (r < n && better(ix, &h[m], &h[r]) > 0)
            m = r;
        if (m == i)
            return;
        struct cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(const struct kb_index *ix, struct cand *h, size_t i)
{
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (better(ix, &h[up], &h[i]) <= 0)
            return;
        struct cand t = h[i];
        h[i] = h[up];
        h[up] = t;
        i = up;
    }
}

static int cmp_cand(const void *a, const void *b, void *ix)
{
    return -better(ix, a, b);
}

/* Share of the query's adjacent term pairs that are adjacent in the chunk. `q` holds the ids of
 * the query's terms in order (UINT32_MAX for a term not indexed, which matches nothing). */
static double phrase_share(const uint32_t *q, size_t nq, const struct ichunk *c, char *found)
{
    memset(found, 0, nq);
    size_t hit = 0;
    for (uint32_t j = 0; j + 1 < c->len && hit < nq - 1; j++)
        for (size_t i = 0; i + 1 < nq; i++)
            if (!found[i] && c->seq[j] == q[i] && c->seq[j + 1] == q[i + 1] && q[i] != UINT32_MAX) {
                found[i] = 1;
                hit++;
            }
    return (double)hit / (double)(nq - 1);
}

size_t kb_index_search(struct kb_index *ix, const char *query, size_t len, struct kb_hit *hits,
                       size_t k)
{
    if (k == 0 || ix->live == 0)
        return 0;
    struct kb_terms q;
    kb_terms_init(&q);
    kb_terms_add(&q, query, len);
    double n = (double)ix->live;
    double avgdl = ix->total_len ? (double)ix->total_len / n : 1.0;
    double k1 = ix->p.k1, b = ix->p.b;
    uint32_t *qid = pl_malloc((q.n ? q.n : 1) * sizeof(*qid));
    for (size_t i = 0; i < q.n; i++) {
        const struct term *qt = pl_map_get(&ix->terms, q.v[i]);
        qid[i] = qt ? qt->id : UINT32_MAX;
    }
    for (size_t i = 0; i < q.n; i++) {
        int seen = 0; /* a term said twice counts once */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(q.v[i], q.v[j]) == 0;
        struct term *t = seen ? NULL : pl_map_get(&ix->terms, q.v[i]);
        if (!t)
            continue;
        double df = t->df;
        double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
        for (uint32_t j = 0; j < t->n; j++) {
            const struct posting *p = &t->p[j];
            if (!posting_live(ix, p))
                continue;
            double tf = p->tf + ix->p.field_boost * p->field;
            double norm = k1 * (1.0 - b + b * ix->chunks[p->slot].len / avgdl);
            if (ix->acc[p->slot] == 0)
                ix->touched[ix->n_touched++] = p->slot;
            ix->acc[p->slot] += idf * tf * (k1 + 1.0) / (tf + norm);
        }
    }

    size_t pool = k * 4 > KB_PHRASE_POOL ? k * 4 : KB_PHRASE_POOL;
    if (pool > ix->n_touched)
        pool = ix->n_touched;
    struct cand *h = pl_malloc((pool ? pool : 1) * sizeof(*h));
    size_t nh = 0;
    for (size_t i = 0; i < ix->n_touched; i++) {
        struct cand c = {ix->touched[i], ix->acc[ix->touched[i]]};
        ix->acc[c.slot] = 0;
        if (nh < pool) {
            h[nh++] = c;
            sift_up(ix, h, nh - 1);
        } else if (better(ix, &c, &h[0]) > 0) {
            h[0] = c;
            sift_down(ix, h, nh, 0);
        }
    }
    ix->n_touched = 0;
    if (q.n >= 2 && ix->p.phrase_boost > 0) {
        char *found = pl_malloc(q.n);
        for (size_t i = 0; i < nh; i++)
            h[i].score *=
                1.0 + ix->p.phrase_boost * phrase_share(qid, q.n, &ix->chunks[h[i].slot], found);
        pl_free(found);
    }
    qsort_r(h, nh, sizeof(*h), cmp_cand, ix);
    size_t out = nh < k ? nh : k;
    for (size_t i = 0; i < out; i++) {
        const struct ichunk *c = &ix->chunks[h[i].slot];
        hits[i] =
            (struct kb_hit){h[i].score, c->doc->name, c->doc->title, c->heading, c->text, c->no};
    }
    pl_free(h);
    pl_free(qid);
    kb_terms_cleanup(&q);
    return out;
}

/* ---- reading back ---- */

bool kb_index_chunk(const struct kb_index *ix, const char *doc, uint32_t chunk, struct kb_hit *out)
{
    const struct idoc *d = pl_map_get(&ix->docs, doc);
    if (!d || chunk >= d->n)
        return false;
    const struct ichunk *c = &ix->chunks[d->slots[chunk]];
    *out = (struct kb_hit){0, d->name, d->title, c->heading, c->text, c->no};
    return true;
}

uint32_t kb_index_doc_chunks(const struct kb_index *ix, const char *doc)
{
    const struct idoc *d = pl_map_get(&ix->docs, doc);
    return d ? d->n : 0;
}

struct each_doc {
    void (*fn)(const char *name, void *ud);
    void *ud;
};

static void each_doc(const char *key, void *value, void *ud)
{
    (void)value;
    const struct each_doc *e = ud;
    e->fn(key, e->ud);
}

void kb_index_each_doc(const struct kb_index *ix, void (*fn)(const char *name, void *ud), void *ud)
{
    struct each_doc e = {fn, ud};
    pl_map_each(&ix->docs, each_doc, &e);
}
