/* The policy-source interface and its cache; see policy_source.h. */
#include "connectors/policy_source.h"

#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/map.h"

/* A policy number is at most 64 bytes (sessions/policy_store.h checks its characters). */
#define NUMBER_MAX 64

struct waiter {
    policy_source_cb cb;
    void *ud;
    struct waiter *next;
};

/* One number: a read in flight (pending, waiters), or a result kept until `expires`. */
struct entry {
    struct policy_source *src;
    char number[NUMBER_MAX + 1];
    bool pending;
    struct waiter *waiters, **waiters_tail;
    int status; /* PL_OK or PL_ENOTFOUND when kept */
    char *record;
    size_t len;
    uint64_t expires;
    struct entry *prev, *next; /* recency list of kept results, most recent first */
    bool listed;
};

struct policy_source {
    uv_loop_t *loop;
    const struct policy_source_ops *ops;
    void *impl;
    struct policy_cache_opts cache;
    char *description;
    bool writable, stopped;
    struct pl_map entries; /* number -> struct entry */
    struct entry *lru_head, *lru_tail;
    struct policy_source_stats stats;
};

struct policy_source *policy_source_new(uv_loop_t *loop, const struct policy_source_ops *ops,
                                        void *impl, const struct policy_cache_opts *cache,
                                        const char *description, bool writable)
{
    struct policy_source *src = pl_calloc(1, sizeof(*src));
    src->loop = loop;
    src->ops = ops;
    src->impl = impl;
    if (cache)
        src->cache = *cache;
    if (src->cache.negative_ttl_ms > src->cache.ttl_ms)
        src->cache.negative_ttl_ms = src->cache.ttl_ms;
    if (!src->cache.max_entries)
        src->cache.ttl_ms = src->cache.negative_ttl_ms = 0;
    src->description = pl_strdup(description ? description : ops->kind);
    src->writable = writable;
    pl_map_init(&src->entries);
    return src;
}

static void unlist(struct entry *e)
{
    struct policy_source *src = e->src;
    if (!e->listed)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        src->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        src->lru_tail = e->prev;
    e->prev = e->next = NULL;
    e->listed = false;
}

static void list_front(struct entry *e)
{
    struct policy_source *src = e->src;
    unlist(e);
    e->next = src->lru_head;
    if (src->lru_head)
        src->lru_head->prev = e;
    src->lru_head = e;
    if (!src->lru_tail)
        src->lru_tail = e;
    e->listed = true;
}

/* Remove a kept (not pending) entry. */
static void drop(struct entry *e)
{
    unlist(e);
    pl_map_remove(&e->src->entries, e->number);
    pl_free(e->record);
    pl_free(e);
}

/* Room for one more entry: the least recently used kept results go (reads in flight are never
 * dropped, so the count may pass the bound by the reads in flight). */
static void make_room(struct policy_source *src)
{
    while (src->entries.count >= src->cache.max_entries && src->lru_tail) {
        drop(src->lru_tail);
        src->stats.evicted++;
    }
}

static void on_read(void *ud, int status, const char *record, size_t len)
{
    struct entry *e = ud;
    struct policy_source *src = e->src;
    e->pending = false;
    struct waiter *w = e->waiters;
    e->waiters = NULL;
    e->waiters_tail = &e->waiters;
    bool keep = (status == PL_OK || status == PL_ENOTFOUND) && src->cache.ttl_ms && !src->stopped;
    if (status != PL_OK && status != PL_ENOTFOUND)
        src->stats.failures++;
    /* The waiters get their own copy: one of them may look up other numbers and so evict this
     * entry before the others are told. */
    char *copy = status == PL_OK ? pl_malloc(len + 1) : NULL;
    if (copy) {
        memcpy(copy, record, len);
        copy[len] = '\0';
    }
    if (keep) {
        e->status = status;
        e->record = status == PL_OK ? pl_strndup(record, len) : NULL;
        e->len = status == PL_OK ? len : 0;
        e->expires =
            uv_now(src->loop) + (status == PL_OK ? src->cache.ttl_ms : src->cache.negative_ttl_ms);
        list_front(e);
    } else {
        drop(e);
    }
    while (w) {
        struct waiter *next = w->next;
        w->cb(w->ud, status, copy, copy ? len : 0);
        pl_free(w);
        w = next;
    }
    pl_free(copy);
}

int policy_source_get(struct policy_source *src, const char *number, policy_source_cb cb, void *ud)
{
    if (!number || !*number || strlen(number) > NUMBER_MAX)
        return PL_EINVAL;
    if (src->stopped)
        return PL_ECLOSED;
    struct entry *e = pl_map_get(&src->entries, number);
    if (e && !e->pending && uv_now(src->loop) < e->expires) {
        src->stats.hits++;
        list_front(e);
        cb(ud, e->status, e->record, e->len);
        return PL_OK;
    }
    struct waiter *w = pl_calloc(1, sizeof(*w));
    w->cb = cb;
    w->ud = ud;
    if (e && e->pending) {
        src->stats.shared++;
        *e->waiters_tail = w;
        e->waiters_tail = &w->next;
        return PL_OK;
    }
    if (e) /* expired */
        drop(e);
    make_room(src);
    e = pl_calloc(1, sizeof(*e));
    e->src = src;
    memcpy(e->number, number, strlen(number) + 1);
    e->pending = true;
    e->waiters = w;
    e->waiters_tail = &w->next;
    pl_map_put(&src->entries, e->number, e);
    src->stats.misses++;
    int rc = src->ops->get(src->impl, number, on_read, e);
    if (rc != PL_OK) {
        src->stats.misses--;
        pl_map_remove(&src->entries, e->number);
        pl_free(e);
        pl_free(w);
    }
    return rc;
}

void policy_source_forget(struct policy_source *src, const char *number)
{
    struct entry *e = number ? pl_map_get(&src->entries, number) : NULL;
    if (e && !e->pending)
        drop(e);
}

bool policy_source_writable(const struct policy_source *src)
{
    return src->writable;
}

const char *policy_source_kind(const struct policy_source *src)
{
    return src->ops->kind;
}

const char *policy_source_description(const struct policy_source *src)
{
    return src->description;
}

void policy_source_stats(const struct policy_source *src, struct policy_source_stats *out)
{
    *out = src->stats;
    out->entries = src->entries.count;
}

void policy_source_metrics(const struct policy_source *src, struct pl_buf *out)
{
    const char *k = src->ops->kind;
    pl_buf_printf(out,
                  "# HELP parley_policy_lookups_total Policy record lookups, by how the cache "
                  "answered (hit: kept; miss: read from the source; shared: joined a read in "
                  "flight).\n"
                  "# TYPE parley_policy_lookups_total counter\n"
                  "parley_policy_lookups_total{source=\"%s\",cache=\"hit\"} %llu\n"
                  "parley_policy_lookups_total{source=\"%s\",cache=\"miss\"} %llu\n"
                  "parley_policy_lookups_total{source=\"%s\",cache=\"shared\"} %llu\n"
                  "# HELP parley_policy_lookup_failures_total Policy record reads that failed "
                  "(a missing record is not a failure).\n"
                  "# TYPE parley_policy_lookup_failures_total counter\n"
                  "parley_policy_lookup_failures_total{source=\"%s\"} %llu\n"
                  "# HELP parley_policy_cache_entries Policy records (and reads in flight) held "
                  "in memory.\n"
                  "# TYPE parley_policy_cache_entries gauge\n"
                  "parley_policy_cache_entries{source=\"%s\"} %zu\n"
                  "# HELP parley_policy_cache_evictions_total Kept records dropped to make room.\n"
                  "# TYPE parley_policy_cache_evictions_total counter\n"
                  "parley_policy_cache_evictions_total{source=\"%s\"} %llu\n",
                  k, (unsigned long long)src->stats.hits, k, (unsigned long long)src->stats.misses,
                  k, (unsigned long long)src->stats.shared, k,
                  (unsigned long long)src->stats.failures, k, src->entries.count, k,
                  (unsigned long long)src->stats.evicted);
    if (src->ops->metrics)
        src->ops->metrics(src->impl, out);
}

void policy_source_stop(struct policy_source *src)
{
    if (!src || src->stopped)
        return;
    src->stopped = true;
    if (src->ops->stop)
        src->ops->stop(src->impl);
}

static void free_entry(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    struct entry *e = value;
    for (struct waiter *w = e->waiters; w;) {
        struct waiter *next = w->next;
        pl_free(w);
        w = next;
    }
    pl_free(e->record);
    pl_free(e);
}

void policy_source_free(struct policy_source *src)
{
    if (!src)
        return;
    if (src->ops->destroy)
        src->ops->destroy(src->impl);
    pl_map_each(&src->entries, free_entry, NULL);
    pl_map_cleanup(&src->entries);
    pl_free(src->description);
    pl_free(src);
}
