/* Following the stored documents; see kb_sync.h. */
#include "bot/kb_sync.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bot/config.h"
#include "bot/kb_dense.h"
#include "bot/kb_setup.h"
#include "bot/server.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/map.h"
#include "knowledge/kb_index.h"
#include "sessions/kb_store.h"

/* A document loaded from the store, at the version it had (a value of kb_sync.docs). */
struct synced {
    uint64_t version;
};

struct kb_sync {
    struct bot_server *srv;
    uv_timer_t timer;
    uint32_t interval_ms;
    bool running;       /* a pass is under way: the timer skips */
    bool stopped;       /* kb_sync_stop was called: replies in flight only free */
    bool closed;        /* the timer handle is closed */
    bool loaded_once;   /* the first pass completed */
    uint64_t seen;      /* the store's counter of the last pass that completed */
    uint64_t pass_ver;  /* the counter the current pass read */
    unsigned pending;   /* documents of the current pass still being read */
    unsigned restoring; /* --kb DIR files being read again (restore_local) */
    bool pass_failed;
    struct pl_map docs; /* name -> struct synced: the documents loaded from the store */
};

static struct synced *find(struct kb_sync *s, const char *name)
{
    return pl_map_get(&s->docs, name);
}

static void record(struct kb_sync *s, const char *name, uint64_t version)
{
    struct synced *d = find(s, name);
    if (!d) {
        d = pl_calloc(1, sizeof(*d));
        pl_map_put(&s->docs, name, d);
    }
    d->version = version;
}

static void forget(struct kb_sync *s, const char *name)
{
    pl_free(pl_map_remove(&s->docs, name));
}

/* The index's copy of `doc` replaced (or added). */
static int index_put(struct kb_index *ix, const struct kb_doc *doc)
{
    kb_index_remove(ix, doc->name); /* PL_ENOTFOUND for a new one */
    return kb_index_add(ix, doc);
}

int kb_sync_apply_put(struct kb_sync *s, struct kb_doc *doc, uint64_t version)
{
    int rc = index_put(s->srv->kb, doc);
    if (rc == PL_OK) {
        kb_dense_changed(s->srv->kb_dense, doc->name);
        struct synced *d = find(s, doc->name);
        /* A newer version already loaded by a pass stays. */
        if (!d || d->version < version)
            record(s, doc->name, version);
    }
    kb_doc_cleanup(doc);
    return rc;
}

static void restore_local(struct kb_sync *s, const char *name);

/* A stored document left the store: out of the index, and the folder's copy back in. */
static void drop_stored(struct kb_sync *s, const char *name)
{
    kb_index_remove(s->srv->kb, name);
    kb_dense_changed(s->srv->kb_dense, name);
    forget(s, name);
    restore_local(s, name);
}

void kb_sync_apply_delete(struct kb_sync *s, const char *name)
{
    drop_stored(s, name);
}

static void pass_done(struct kb_sync *s)
{
    s->running = false;
    if (!s->pass_failed) {
        if (!s->loaded_once)
            PL_LOG(PL_LOG_NOTICE, "kb", "knowledge base: %zu stored documents loaded",
                   s->docs.count);
        s->loaded_once = true;
        s->seen = s->pass_ver;
        if (!s->interval_ms)
            uv_timer_stop(&s->timer); /* read once */
    }
}

struct fetch {
    struct kb_sync *s;
    char *name;
};

static void free_value(const char *key, void *value, void *ud)
{
    (void)key, (void)ud;
    pl_free(value);
}

static void free_sync(struct kb_sync *s)
{
    pl_map_each(&s->docs, free_value, NULL);
    pl_map_cleanup(&s->docs);
    pl_free(s);
}

/* The names of pl_map_each's walk that the store no longer lists. */
struct gone {
    const struct pl_map *listed;
    char **names;
    size_t n;
};

static void collect_gone(const char *key, void *value, void *ud)
{
    (void)value;
    struct gone *g = ud;
    if (!pl_map_get(g->listed, key))
        g->names[g->n++] = pl_strdup(key);
}

/* Freed once stopped, its handle closed and no reply outstanding. */
static void maybe_free(struct kb_sync *s)
{
    if (s->stopped && s->closed && !s->pending && !s->running && !s->restoring)
        free_sync(s);
}

/* ---- the folder's copy of a deleted stored document ----
 * A stored document replaces the --kb DIR file of its name; once it is deleted the file is
 * served again. The file is read and chunked on libuv's thread pool (never on the loop), and
 * put back unless a stored document of that name came meanwhile. A name the folder does not
 * have costs one failed open. */

struct restore {
    uv_work_t work;
    struct kb_sync *s;
    char *dir;
    char *name;
    struct kb_doc doc;
    int rc;
    char err[256];
};

static void restore_read(uv_work_t *w)
{
    struct restore *r = w->data;
    r->rc = kb_setup_read_doc(r->dir, r->name, &r->doc, r->err, sizeof(r->err));
}

static void restore_done(uv_work_t *w, int status)
{
    struct restore *r = w->data;
    struct kb_sync *s = r->s;
    s->restoring--;
    if (status == 0 && r->rc == PL_OK && !s->stopped && !find(s, r->name)) {
        if (index_put(s->srv->kb, &r->doc) == PL_OK) {
            kb_dense_changed(s->srv->kb_dense, r->name);
            PL_LOG(PL_LOG_NOTICE, "kb",
                   "%s: the stored copy is gone; the one in %s is served again", r->name, r->dir);
        }
    } else if (status == 0 && r->rc != PL_OK && r->rc != PL_ENOTFOUND && !s->stopped) {
        PL_LOG(PL_LOG_WARN, "kb", "%s", r->err);
    }
    if (r->rc == PL_OK)
        kb_doc_cleanup(&r->doc);
    pl_free(r->dir);
    pl_free(r->name);
    pl_free(r);
    maybe_free(s);
}

static void restore_local(struct kb_sync *s, const char *name)
{
    const char *dir = s->srv->cfg->kb_dir;
    enum kb_kind kind;
    if (!dir || !*dir || s->stopped || !kb_kind_from_name(name, &kind))
        return;
    struct restore *r = pl_calloc(1, sizeof(*r));
    r->work.data = r;
    r->s = s;
    r->dir = pl_strdup(dir);
    r->name = pl_strdup(name);
    if (uv_queue_work(s->srv->loop, &r->work, restore_read, restore_done) != 0) {
        pl_free(r->dir);
        pl_free(r->name);
        pl_free(r);
        return;
    }
    s->restoring++;
}

static void on_closed(uv_handle_t *h)
{
    struct kb_sync *s = h->data;
    s->closed = true;
    maybe_free(s);
}

static void on_doc(void *ud, int status, uint64_t version, const char *text, size_t len,
                   const char *kind_name, const char *title)
{
    (void)title;
    struct fetch *f = ud;
    struct kb_sync *s = f->s;
    if (!s->stopped) {
        if (status == PL_ENOTFOUND) {
            /* Deleted since the list. */
            drop_stored(s, f->name);
        } else if (status != PL_OK) {
            s->pass_failed = true;
        } else {
            enum kb_kind kind = !strcmp(kind_name, "html")  ? KB_KIND_HTML
                                : !strcmp(kind_name, "txt") ? KB_KIND_TXT
                                                            : KB_KIND_MD;
            struct kb_doc doc;
            int rc = kb_chunk_document(f->name, text, len, kind, NULL, &doc);
            if (rc == PL_OK)
                rc = index_put(s->srv->kb, &doc);
            kb_doc_cleanup(&doc);
            if (rc == PL_OK) {
                kb_dense_changed(s->srv->kb_dense, f->name);
                record(s, f->name, version);
            } else { /* stored by a POST that chunked it: not expected; not retried either */
                PL_LOG(PL_LOG_WARN, "kb", "stored document %s not indexed: %s", f->name,
                       pl_strerror(rc));
            }
        }
    }
    pl_free(f->name);
    pl_free(f);
    if (--s->pending == 0 && !s->stopped)
        pass_done(s);
    else if (s->pending == 0)
        s->running = false;
    maybe_free(s);
}

static void on_list(void *ud, int status, uint64_t version, size_t n, const char *const *names,
                    const uint64_t *versions)
{
    struct kb_sync *s = ud;
    if (s->stopped || status != PL_OK) {
        s->running = false;
        maybe_free(s);
        return;
    }
    s->pass_ver = version;
    s->pass_failed = false;
    /* Gone from the store: out of the index (maps, so a pass costs about the names). */
    struct pl_map listed;
    pl_map_init(&listed);
    for (size_t j = 0; j < n; j++)
        pl_map_put(&listed, names[j], (void *)names[j]);
    struct gone g = {&listed, pl_calloc(s->docs.count + 1, sizeof(char *)), 0};
    pl_map_each(&s->docs, collect_gone, &g);
    pl_map_cleanup(&listed);
    for (size_t i = 0; i < g.n; i++) {
        drop_stored(s, g.names[i]);
        pl_free(g.names[i]);
    }
    pl_free(g.names);
    s->pending = 1; /* this function's own share, so the pass cannot end inside the loop */
    for (size_t j = 0; j < n; j++) {
        struct synced *d = find(s, names[j]);
        if (d && d->version == versions[j])
            continue;
        struct fetch *f = pl_calloc(1, sizeof(*f));
        f->s = s;
        f->name = pl_strdup(names[j]);
        if (kb_store_get(s->srv->store, names[j], on_doc, f) != PL_OK) {
            s->pass_failed = true;
            pl_free(f->name);
            pl_free(f);
        } else {
            s->pending++;
        }
    }
    if (--s->pending == 0)
        pass_done(s);
}

static void on_version(void *ud, int status, uint64_t version)
{
    struct kb_sync *s = ud;
    if (s->stopped || status != PL_OK || (s->loaded_once && version == s->seen) ||
        kb_store_list(s->srv->store, on_list, s) != PL_OK) {
        s->running = false;
        maybe_free(s);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct kb_sync *s = t->data;
    if (s->running)
        return;
    s->running = true;
    if (kb_store_version(s->srv->store, on_version, s) != PL_OK)
        s->running = false; /* Redis down: the next tick tries again */
}

struct kb_sync *kb_sync_start(struct bot_server *srv, uint32_t interval_ms)
{
    if (!srv->kb)
        srv->kb = kb_index_new(NULL);
    struct kb_sync *s = pl_calloc(1, sizeof(*s));
    pl_map_init(&s->docs);
    s->srv = srv;
    s->interval_ms = interval_ms;
    uv_timer_init(srv->loop, &s->timer);
    s->timer.data = s;
    /* The first pass as soon as the loop runs (retried each interval until Redis answers; with
     * no interval, every 1 s until the first pass completes). */
    uv_timer_start(&s->timer, on_tick, 0, interval_ms ? interval_ms : 1000);
    /* It never keeps the loop alive: a drained server exits while it still ticks. */
    uv_unref((uv_handle_t *)&s->timer);
    return s;
}

void kb_sync_stop(struct kb_sync *s)
{
    if (!s)
        return;
    s->stopped = true;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}
