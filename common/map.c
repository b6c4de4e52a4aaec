/* Chained string hash map; see map.h. FNV-1a hashing. */
#include "common/map.h"

#include <stdint.h>
#include <string.h>

#include "common/alloc.h"

struct pl_map_entry {
    struct pl_map_entry *next;
    uint64_t hash;
    void *value;
    char key[];
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void pl_map_init(struct pl_map *m)
{
    m->n_buckets = 64;
    m->buckets = pl_calloc(m->n_buckets, sizeof(*m->buckets));
    m->count = 0;
}

void pl_map_cleanup(struct pl_map *m)
{
    if (!m || !m->buckets)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct pl_map_entry *e = m->buckets[i];
        while (e) {
            struct pl_map_entry *next = e->next;
            pl_free(e);
            e = next;
        }
    }
    pl_free(m->buckets);
    m->buckets = NULL;
    m->count = 0;
}

static struct pl_map_entry **find(const struct pl_map *m, const char *key, uint64_t h)
{
    struct pl_map_entry **pp = &m->buckets[h & (m->n_buckets - 1)];
    while (*pp && !((*pp)->hash == h && strcmp((*pp)->key, key) == 0))
        pp = &(*pp)->next;
    return pp;
}

void *pl_map_get(const struct pl_map *m, const char *key)
{
    struct pl_map_entry **pp = find(m, key, hash(key));
    return *pp ? (*pp)->value : NULL;
}

static void grow(struct pl_map *m)
{
    size_t n = m->n_buckets * 2;
    struct pl_map_entry **b = pl_calloc(n, sizeof(*b));
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct pl_map_entry *e = m->buckets[i];
        while (e) {
            struct pl_map_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    pl_free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
}

void pl_map_put(struct pl_map *m, const char *key, void *value)
{
    uint64_t h = hash(key);
    struct pl_map_entry **pp = find(m, key, h);
    if (*pp) {
        (*pp)->value = value;
        return;
    }
    size_t klen = strlen(key);
    struct pl_map_entry *e = pl_malloc(sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->value = value;
    e->next = NULL;
    *pp = e;
    if (++m->count > m->n_buckets)
        grow(m);
}

void *pl_map_remove(struct pl_map *m, const char *key)
{
    struct pl_map_entry **pp = find(m, key, hash(key));
    struct pl_map_entry *e = *pp;
    if (!e)
        return NULL;
    void *v = e->value;
    *pp = e->next;
    pl_free(e);
    m->count--;
    return v;
}

void pl_map_each(const struct pl_map *m, void (*fn)(const char *key, void *value, void *ud),
                 void *ud)
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        for (struct pl_map_entry *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->value, ud);
    }
}
