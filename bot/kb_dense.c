/* Dense retrieval of one instance; see kb_dense.h. Documents are handled one at a time (their
 * Redis reads are short and an embedding already has KB_DENSE_CONCURRENCY calls in flight); a
 * document whose lock another instance holds waits in the map and is looked for again on the
 * timer, so it never holds up the others. Every step checks the document's generation on its
 * way back: a document changed meanwhile starts again. */
#include "bot/kb_dense.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <uv.h>

#include "bot/aws_setup.h"
#include "bot/server.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/map.h"
#include "connectors/embeddings.h"
#include "connectors/embeddings_wire.h"
#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"
#include "sessions/kb_vector_store.h"

enum dstate { D_IDLE, D_QUEUED, D_BUSY, D_READY, D_WAITING };

struct ddoc {
    char *name;
    uint64_t gen; /* raised by every change */
    enum dstate state;
    bool in_memory;
    char sig[65];    /* of the vectors in memory (or stored by this instance) */
    uint64_t due_ms; /* D_WAITING: when to look again */
    unsigned failures;
    struct ddoc *next_queued;
};

struct job;

/* The slot of a call, so its reply knows its job and chunks. */
struct slot_ref {
    struct job *job;
    unsigned i;
};

/* The embedding of one document. */
struct job {
    struct kb_dense *d;
    struct ddoc *doc;
    uint64_t gen;
    char sig[65];
    uint32_t n;
    char **texts;
    size_t *lens;
    float *vecs; /* n x dims, once dims is known */
    unsigned dims;
    uint32_t next; /* first chunk not yet asked for */
    uint32_t done;
    unsigned in_flight;
    bool failed;
    char detail[240];
    struct emb_call *calls[KB_DENSE_CONCURRENCY];
    uint32_t call_first[KB_DENSE_CONCURRENCY];
    uint32_t call_n[KB_DENSE_CONCURRENCY];
    struct slot_ref refs[KB_DENSE_CONCURRENCY];
};

struct kb_dense_query {
    struct kb_dense *d;
    struct emb_call *call;
    kb_dense_query_cb cb;
    void *ud;
    struct kb_dense_query *prev, *next;
};

struct kb_dense {
    struct bot_server *srv;
    struct emb_client *emb;
    struct kb_vectors *vectors;
    unsigned dims; /* configured (0: the model's own, learnt) */
    uint32_t query_timeout_ms;
    struct pl_map docs; /* name -> struct ddoc */
    struct ddoc *queue_head, *queue_tail;
    struct ddoc *current; /* the document being worked on */
    struct job *job;
    struct kb_dense_query *queries;
    struct turn_kb_dense for_turns;
    uv_timer_t timer;
    unsigned redis_pending; /* store replies still to come (they hold `d`) */
    bool stopped, closed;
    unsigned logged; /* causes of failed question embeddings already logged (bits) */
    struct kb_dense_stats stats;
};

static void pump(struct kb_dense *d);
static void maybe_free(struct kb_dense *d);

/* ---- documents ---- */

static void free_ddoc(struct ddoc *dd)
{
    pl_free(dd->name);
    pl_free(dd);
}

static void enqueue(struct kb_dense *d, struct ddoc *dd)
{
    if (dd->state == D_QUEUED || dd->state == D_BUSY)
        return;
    dd->state = D_QUEUED;
    dd->next_queued = NULL;
    if (d->queue_tail)
        d->queue_tail->next_queued = dd;
    else
        d->queue_head = dd;
    d->queue_tail = dd;
}

static void drop_vectors(struct kb_dense *d, struct ddoc *dd)
{
    if (dd->in_memory && d->vectors)
        kb_vectors_remove(d->vectors, dd->name);
    dd->in_memory = false;
}

void kb_dense_changed(struct kb_dense *d, const char *name)
{
    if (!d || d->stopped)
        return;
    struct ddoc *dd = pl_map_get(&d->docs, name);
    if (!dd) {
        dd = pl_calloc(1, sizeof(*dd));
        dd->name = pl_strdup(name);
        pl_map_put(&d->docs, dd->name, dd);
    }
    dd->gen++;
    dd->failures = 0;
    /* Its old vectors number the old chunks: out at once (its sig stays, to delete them). */
    drop_vectors(d, dd);
    if (dd->state == D_BUSY) {
        /* The step under way sees the new generation and starts again. */
    } else {
        enqueue(d, dd);
    }
    pump(d);
}

static void changed_one(const char *name, void *ud)
{
    kb_dense_changed(ud, name);
}

void kb_dense_changed_all(struct kb_dense *d)
{
    if (d && d->srv->kb)
        kb_index_each_doc(d->srv->kb, changed_one, d);
}

const struct kb_vectors *kb_dense_vectors(const struct kb_dense *d)
{
    return d && d->vectors && kb_vectors_chunks(d->vectors) ? d->vectors : NULL;
}

/* The text embedded for a chunk: its place in the document, then its words. */
static char *chunk_text(const struct kb_hit *h, size_t *len)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, h->heading && *h->heading ? h->heading : h->title);
    pl_buf_append_str(&b, "\n\n");
    pl_buf_append_str(&b, h->text);
    if (b.len > EMB_TEXT_MAX) {
        size_t n = EMB_TEXT_MAX;
        while (n > 0 && ((unsigned char)b.data[n] & 0xc0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
        b.len = n;
        b.data[n] = '\0';
    }
    *len = b.len;
    return pl_buf_take(&b);
}

/* SHA-256 (hex) of the model, the dimensions and every text: what the vectors are of. */
static void signature(const struct kb_dense *d, char *const *texts, const size_t *lens, uint32_t n,
                      char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    char head[64];
    int hl = snprintf(head, sizeof(head), "%u\n%u\n", d->dims, (unsigned)n);
    const char *id = emb_client_id(d->emb);
    EVP_DigestUpdate(ctx, id, strlen(id) + 1);
    EVP_DigestUpdate(ctx, head, (size_t)hl);
    for (uint32_t i = 0; i < n; i++) {
        char len[24];
        int ll = snprintf(len, sizeof(len), "%zu\n", lens[i]);
        EVP_DigestUpdate(ctx, len, (size_t)ll);
        EVP_DigestUpdate(ctx, texts[i], lens[i]);
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void job_free(struct job *j)
{
    for (uint32_t i = 0; i < j->n; i++)
        pl_free(j->texts[i]);
    pl_free(j->texts);
    pl_free(j->lens);
    pl_free(j->vecs);
    pl_free(j);
}

/* The texts of `dd`'s chunks as the index has them now; NULL when it is not indexed. */
static struct job *job_new(struct kb_dense *d, struct ddoc *dd)
{
    uint32_t n = d->srv->kb ? kb_index_doc_chunks(d->srv->kb, dd->name) : 0;
    if (n == 0)
        return NULL;
    struct job *j = pl_calloc(1, sizeof(*j));
    j->d = d;
    j->doc = dd;
    j->gen = dd->gen;
    j->n = n;
    j->texts = pl_calloc(n, sizeof(*j->texts));
    j->lens = pl_calloc(n, sizeof(*j->lens));
    for (uint32_t i = 0; i < n; i++) {
        struct kb_hit h;
        kb_index_chunk(d->srv->kb, dd->name, i, &h);
        j->texts[i] = chunk_text(&h, &j->lens[i]);
    }
    signature(d, j->texts, j->lens, n, j->sig);
    return j;
}

/* Before looking for a document again: KB_DENSE_RETRY_MS while another instance embeds it,
 * KB_DENSE_FAIL_MS doubling to 60 s after failures of our own. */
static uint64_t backoff_ms(unsigned failures)
{
    if (!failures)
        return KB_DENSE_RETRY_MS;
    uint64_t ms = (uint64_t)KB_DENSE_FAIL_MS << (failures > 5 ? 5 : failures - 1);
    return ms > 60000 ? 60000 : ms;
}

/* The current document is done with for now: `state` says what is next for it. */
static void finish_current(struct kb_dense *d, enum dstate state)
{
    struct ddoc *dd = d->current;
    struct job *j = d->job;
    d->current = NULL;
    d->job = NULL;
    bool stale = j && j->gen != dd->gen;
    if (j)
        job_free(j);
    if (stale) {
        dd->state = D_IDLE;
        enqueue(d, dd); /* changed meanwhile: again, from the start */
    } else {
        dd->state = state;
        if (state == D_WAITING)
            dd->due_ms = uv_now(d->srv->loop) + backoff_ms(dd->failures);
    }
    pump(d);
}

static bool vectors_ready(struct kb_dense *d, unsigned dims)
{
    if (!d->vectors)
        d->vectors = kb_vectors_new(dims);
    if (!d->vectors || kb_vectors_dims(d->vectors) != dims) {
        PL_LOG(PL_LOG_WARN, "kb", "embeddings of %u dimensions do not match the %u in memory", dims,
               d->vectors ? kb_vectors_dims(d->vectors) : 0);
        return false;
    }
    return true;
}

static void put_in_memory(struct kb_dense *d, struct ddoc *dd, const char *sig, const float *vecs,
                          uint32_t n, unsigned dims)
{
    drop_vectors(d, dd);
    if (vectors_ready(d, dims) && kb_vectors_add(d->vectors, dd->name, vecs, n) == PL_OK) {
        dd->in_memory = true;
        snprintf(dd->sig, sizeof(dd->sig), "%s", sig);
    }
}

static void on_stored(void *ud, int status)
{
    struct kb_dense *d = ud;
    d->redis_pending--;
    if (d->stopped) {
        maybe_free(d);
        return;
    }
    if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "kb",
               "document vectors not stored in Redis (%s): other instances "
               "will embed it again",
               pl_strerror(status));
}

static void embed_more(struct job *j);

static void job_failed(struct kb_dense *d, struct job *j)
{
    struct ddoc *dd = j->doc;
    d->stats.embed_failures++;
    dd->failures++;
    PL_LOG(PL_LOG_WARN, "kb", "embedding %s failed: %s (BM25 only for it; tried again later)",
           dd->name, j->detail);
    if (d->srv->store && !d->srv->shutting_down &&
        kb_vec_store_unlock(d->srv->store, dd->name, d->srv->instance_id, on_stored, d) == PL_OK)
        d->redis_pending++;
    finish_current(d, D_WAITING);
}

static void job_complete(struct kb_dense *d, struct job *j)
{
    struct ddoc *dd = j->doc;
    d->stats.chunks_embedded += j->n;
    put_in_memory(d, dd, j->sig, j->vecs, j->n, j->dims);
    struct pl_buf blob;
    pl_buf_init(&blob, SIZE_MAX);
    kb_vectors_encode(&blob, j->vecs, (size_t)j->n * j->dims);
    if (d->srv->store && kb_vec_store_put(d->srv->store, dd->name, d->srv->instance_id, j->sig,
                                          emb_client_id(d->emb), j->dims, j->n, blob.data, blob.len,
                                          on_stored, d) == PL_OK)
        d->redis_pending++;
    pl_buf_cleanup(&blob);
    PL_LOG(PL_LOG_INFO, "kb", "embedded %s: %u passages", dd->name, (unsigned)j->n);
    dd->failures = 0;
    finish_current(d, D_READY);
}

static void on_batch(void *ud, const struct emb_result *r)
{
    struct slot_ref *ref = ud;
    struct job *j = ref->job;
    unsigned i = ref->i;
    struct kb_dense *d = j->d;
    j->calls[i] = NULL;
    j->in_flight--;
    if (r->status != PL_OK) {
        if (!j->failed)
            snprintf(j->detail, sizeof(j->detail), "%s", r->detail ? r->detail : "error");
        j->failed = true;
    } else if (!j->failed) {
        if (!j->vecs) {
            j->dims = r->dims;
            j->vecs = pl_calloc((size_t)j->n * r->dims, sizeof(float));
        }
        if (r->dims != j->dims || r->n != j->call_n[i]) {
            snprintf(j->detail, sizeof(j->detail), "vectors of %u dimensions, then %u", j->dims,
                     r->dims);
            j->failed = true;
        } else {
            memcpy(j->vecs + (size_t)j->call_first[i] * j->dims, r->vecs,
                   (size_t)r->n * r->dims * sizeof(float));
            j->done += (uint32_t)r->n;
        }
    }
    if (d->stopped)
        return;
    if (j->gen != j->doc->gen) {
        j->failed = true; /* changed: stop asking, start again once the calls are back */
        snprintf(j->detail, sizeof(j->detail), "changed");
    }
    embed_more(j);
}

/* Keep up to KB_DENSE_CONCURRENCY calls in flight; the end once all are back. */
static void embed_more(struct job *j)
{
    struct kb_dense *d = j->d;
    size_t batch = emb_client_batch_max(d->emb);
    for (unsigned i = 0; i < KB_DENSE_CONCURRENCY && !j->failed && j->next < j->n; i++) {
        if (j->calls[i])
            continue;
        uint32_t first = j->next;
        uint32_t n = j->n - first < batch ? j->n - first : (uint32_t)batch;
        struct slot_ref *ref = &j->refs[i];
        ref->job = j;
        ref->i = i;
        j->calls[i] = emb_start(d->emb, (const char *const *)j->texts + first, j->lens + first, n,
                                30000, on_batch, ref);
        if (!j->calls[i]) {
            snprintf(j->detail, sizeof(j->detail), "embeddings call refused");
            j->failed = true;
            break;
        }
        j->call_first[i] = first;
        j->call_n[i] = n;
        j->next += n;
        j->in_flight++;
    }
    if (j->in_flight)
        return;
    if (j->gen != j->doc->gen)
        finish_current(d, D_IDLE); /* re-queued by finish_current */
    else if (j->failed)
        job_failed(d, j);
    else if (j->done == j->n)
        job_complete(d, j);
}

static void on_lock(void *ud, int status, bool taken)
{
    struct kb_dense *d = ud;
    d->redis_pending--;
    if (d->stopped) {
        maybe_free(d);
        return;
    }
    struct job *j = d->job;
    if (j->gen != j->doc->gen) {
        if (status == PL_OK && taken && d->srv->store &&
            kb_vec_store_unlock(d->srv->store, j->doc->name, d->srv->instance_id, on_stored, d) ==
                PL_OK)
            d->redis_pending++;
        finish_current(d, D_IDLE);
    } else if (status != PL_OK || !taken) {
        finish_current(d, D_WAITING); /* another instance embeds it, or Redis is away */
    } else {
        embed_more(j);
    }
}

static void on_loaded(void *ud, int status, const char *sig, unsigned dims, uint32_t n,
                      const void *blob, size_t len)
{
    struct kb_dense *d = ud;
    d->redis_pending--;
    if (d->stopped) {
        maybe_free(d);
        return;
    }
    struct job *j = d->job;
    struct ddoc *dd = j->doc;
    if (j->gen != dd->gen) {
        finish_current(d, D_IDLE);
        return;
    }
    if (status == PL_OK && !strcmp(sig, j->sig) && n == j->n && dims > 0 &&
        dims <= KB_VECTORS_MAX_DIMS && len == (size_t)n * dims * 4) {
        float *vecs = pl_malloc(len);
        if (kb_vectors_decode(blob, len, vecs) == PL_OK) {
            put_in_memory(d, dd, sig, vecs, n, dims);
            pl_free(vecs);
            d->stats.vectors_loaded++;
            PL_LOG(PL_LOG_INFO, "kb", "vectors of %s read from Redis", dd->name);
            finish_current(d, D_READY);
            return;
        }
        pl_free(vecs);
    }
    if (status != PL_OK && status != PL_ENOTFOUND) {
        finish_current(d, D_WAITING);
        return;
    }
    /* None for these texts: embed them, unless another instance is doing so. */
    if (!d->srv->store || kb_vec_store_lock(d->srv->store, dd->name, d->srv->instance_id,
                                            KB_DENSE_LOCK_MS, on_lock, d) != PL_OK) {
        finish_current(d, D_WAITING);
        return;
    }
    d->redis_pending++;
}

/* Start on the next queued document. */
static void pump(struct kb_dense *d)
{
    while (!d->current && d->queue_head && !d->stopped && !d->srv->shutting_down) {
        struct ddoc *dd = d->queue_head;
        d->queue_head = dd->next_queued;
        if (!d->queue_head)
            d->queue_tail = NULL;
        dd->next_queued = NULL;
        struct job *j = job_new(d, dd);
        if (!j) {
            /* Gone from the index: its vectors go, here and (if still these) in Redis. */
            drop_vectors(d, dd);
            if (dd->sig[0] && d->srv->store && !d->srv->shutting_down &&
                kb_vec_store_delete(d->srv->store, dd->name, dd->sig, on_stored, d) == PL_OK)
                d->redis_pending++;
            pl_map_remove(&d->docs, dd->name);
            free_ddoc(dd);
            continue;
        }
        if (dd->in_memory && !strcmp(dd->sig, j->sig)) {
            dd->state = D_READY;
            job_free(j);
            continue;
        }
        dd->state = D_BUSY;
        d->current = dd;
        d->job = j;
        if (!d->srv->store || kb_vec_store_get(d->srv->store, dd->name, on_loaded, d) != PL_OK) {
            finish_current(d, D_WAITING);
            return;
        }
        d->redis_pending++;
    }
}

struct due_walk {
    struct kb_dense *d;
    uint64_t now;
};

static void requeue_due(const char *key, void *value, void *ud)
{
    (void)key;
    struct due_walk *w = ud;
    struct ddoc *dd = value;
    if (dd->state == D_WAITING && dd->due_ms <= w->now)
        enqueue(w->d, dd);
}

static void on_tick(uv_timer_t *t)
{
    struct kb_dense *d = t->data;
    struct due_walk w = {d, uv_now(d->srv->loop)};
    pl_map_each(&d->docs, requeue_due, &w);
    pump(d);
}

/* ---- questions ---- */

enum cause { C_TIMEOUT = 1, C_RATE = 2, C_SERVER = 4, C_REFUSED = 8, C_PROTO = 16, C_OTHER = 32 };

static void unlink_query(struct kb_dense_query *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
}

static void on_query(void *ud, const struct emb_result *r)
{
    struct kb_dense_query *q = ud;
    struct kb_dense *d = q->d;
    unlink_query(q);
    const float *vec = NULL;
    if (r->status == PL_OK && d->vectors && r->dims == kb_vectors_dims(d->vectors)) {
        d->stats.queries_ok++;
        vec = r->vecs;
    } else {
        unsigned cause = r->status == PL_ETIMEDOUT                      ? C_TIMEOUT
                         : r->http_status == 429                        ? C_RATE
                         : r->http_status >= 500                        ? C_SERVER
                         : r->status == PL_EUPSTREAM                    ? C_REFUSED
                         : r->status == PL_EPROTO || r->status == PL_OK ? C_PROTO
                                                                        : C_OTHER;
        if (cause == C_TIMEOUT)
            d->stats.queries_timeout++;
        else
            d->stats.queries_error++;
        if (!(d->logged & cause)) {
            d->logged |= cause;
            PL_LOG(PL_LOG_WARN, "kb",
                   "a question's embedding failed (%s): answering with BM25 passages alone "
                   "(said once per cause; counted in parley_kb_dense_queries_total)",
                   r->status == PL_OK ? "vectors of another length" : r->detail);
        }
    }
    kb_dense_query_cb cb = q->cb;
    void *cud = q->ud;
    pl_free(q);
    cb(cud, vec);
}

struct kb_dense_query *kb_dense_query(struct kb_dense *d, const char *text, size_t len,
                                      kb_dense_query_cb cb, void *ud)
{
    if (!d || d->stopped || d->srv->shutting_down || !kb_dense_vectors(d) || !text || len == 0)
        return NULL;
    if (len > EMB_TEXT_MAX) {
        len = EMB_TEXT_MAX;
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
            len--;
    }
    struct kb_dense_query *q = pl_calloc(1, sizeof(*q));
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    const char *texts[] = {text};
    q->call = emb_start(d->emb, texts, &len, 1, d->query_timeout_ms, on_query, q);
    if (!q->call) {
        pl_free(q);
        return NULL;
    }
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
    return q;
}

void kb_dense_query_cancel(struct kb_dense_query *q)
{
    if (!q)
        return;
    unlink_query(q);
    emb_cancel(q->call);
    pl_free(q);
}

/* ---- the turn engine's view (turn_engine.h) ---- */

static void *dense_embed(void *self, const char *text, size_t len,
                         void (*done)(void *ud, const float *vec), void *ud)
{
    return kb_dense_query(self, text, len, done, ud);
}

static void dense_cancel(void *handle)
{
    kb_dense_query_cancel(handle);
}

static const struct kb_vectors *dense_vectors(void *self)
{
    return kb_dense_vectors(self);
}

const struct turn_kb_dense *kb_dense_for_turns(struct kb_dense *d)
{
    return d ? &d->for_turns : NULL;
}

/* ---- set-up, stats, stop ---- */

int kb_dense_start(struct bot_server *srv, struct kb_dense **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct bot_config *cfg = srv->cfg;
    const char *spec = cfg->embeddings;
    if (!spec || !*spec)
        return PL_OK;
    struct emb_config ec = {.dims = cfg->embeddings_dimensions};
    const char *model;
    if (!strncmp(spec, "bedrock:", 8)) {
        ec.provider = EMB_PROVIDER_BEDROCK;
        model = spec + 8;
    } else if (!strncmp(spec, "openai:", 7)) {
        ec.provider = EMB_PROVIDER_OPENAI;
        model = spec + 7;
    } else {
        snprintf(err, errlen,
                 "--embeddings must be bedrock:MODEL or openai:MODEL (such as "
                 "bedrock:" EMB_TITAN_V2_MODEL ")");
        return PL_EINVAL;
    }
    ec.model = model;
    if (ec.provider == EMB_PROVIDER_BEDROCK) {
        if (!ec.dims)
            ec.dims = EMB_TITAN_DIMS_DEFAULT;
        bool has_key = cfg->bedrock_api_key && *cfg->bedrock_api_key;
        if (has_key)
            ec.api_key = cfg->bedrock_api_key;
        else if (aws_setup_credentials(srv, "the bedrock embeddings model", err, errlen) != PL_OK)
            return PL_EINVAL;
        ec.creds = srv->aws_creds;
        if (aws_setup_region(srv, "the bedrock embeddings model", &ec.region, err, errlen) != PL_OK)
            return PL_EINVAL;
        ec.base_url = cfg->embeddings_base_url && *cfg->embeddings_base_url
                          ? cfg->embeddings_base_url
                          : cfg->bedrock_endpoint;
    } else {
        ec.api_key = cfg->openai_api_key;
        ec.base_url = cfg->embeddings_base_url && *cfg->embeddings_base_url
                          ? cfg->embeddings_base_url
                          : cfg->openai_base_url;
    }
    struct emb_client *emb;
    int rc = emb_client_create(srv->loop, srv->http, &ec, &emb, err, errlen);
    if (rc != PL_OK)
        return rc;
    struct kb_dense *d = pl_calloc(1, sizeof(*d));
    d->srv = srv;
    d->emb = emb;
    d->dims = ec.dims;
    d->query_timeout_ms = cfg->embeddings_timeout_ms ? cfg->embeddings_timeout_ms : 1500;
    d->for_turns = (struct turn_kb_dense){d, dense_embed, dense_cancel, dense_vectors};
    pl_map_init(&d->docs);
    uv_timer_init(srv->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_tick, KB_DENSE_RETRY_MS, KB_DENSE_RETRY_MS);
    uv_unref((uv_handle_t *)&d->timer);
    PL_LOG(PL_LOG_NOTICE, "kb", "dense retrieval: %s, %u dimensions%s, fused with BM25",
           emb_client_id(emb), ec.dims, ec.dims ? "" : " (the model's own)");
    *out = d;
    return PL_OK;
}

void kb_dense_stats(const struct kb_dense *d, struct kb_dense_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!d)
        return;
    *out = d->stats;
    out->docs_ready = d->vectors ? kb_vectors_docs(d->vectors) : 0;
    size_t indexed = d->srv->kb ? kb_index_docs(d->srv->kb) : 0;
    out->docs_waiting = indexed > out->docs_ready ? indexed - out->docs_ready : 0;
}

void kb_dense_metrics(const struct kb_dense *d, struct pl_buf *b)
{
    if (!d)
        return;
    struct kb_dense_stats s;
    kb_dense_stats(d, &s);
    pl_buf_printf(
        b,
        "# HELP parley_kb_dense_documents Knowledge documents by whether their vectors are in "
        "memory.\n# TYPE parley_kb_dense_documents gauge\n"
        "parley_kb_dense_documents{state=\"ready\"} %llu\n"
        "parley_kb_dense_documents{state=\"waiting\"} %llu\n"
        "# HELP parley_kb_dense_chunks_embedded_total Passages this instance embedded.\n"
        "# TYPE parley_kb_dense_chunks_embedded_total counter\n"
        "parley_kb_dense_chunks_embedded_total %llu\n"
        "# HELP parley_kb_dense_vectors_loaded_total Documents whose vectors were read from "
        "Redis.\n# TYPE parley_kb_dense_vectors_loaded_total counter\n"
        "parley_kb_dense_vectors_loaded_total %llu\n"
        "# HELP parley_kb_dense_embed_failures_total Document embeddings that failed.\n"
        "# TYPE parley_kb_dense_embed_failures_total counter\n"
        "parley_kb_dense_embed_failures_total %llu\n"
        "# HELP parley_kb_dense_queries_total Questions embedded, by outcome (timeout and error: "
        "BM25 alone).\n# TYPE parley_kb_dense_queries_total counter\n"
        "parley_kb_dense_queries_total{outcome=\"ok\"} %llu\n"
        "parley_kb_dense_queries_total{outcome=\"timeout\"} %llu\n"
        "parley_kb_dense_queries_total{outcome=\"error\"} %llu\n"
        "# HELP parley_kb_dense_bytes Bytes of the vectors in memory.\n"
        "# TYPE parley_kb_dense_bytes gauge\nparley_kb_dense_bytes %llu\n",
        (unsigned long long)s.docs_ready, (unsigned long long)s.docs_waiting,
        (unsigned long long)s.chunks_embedded, (unsigned long long)s.vectors_loaded,
        (unsigned long long)s.embed_failures, (unsigned long long)s.queries_ok,
        (unsigned long long)s.queries_timeout, (unsigned long long)s.queries_error,
        (unsigned long long)(d->vectors ? kb_vectors_bytes(d->vectors) : 0));
}

static void free_doc_value(const char *key, void *value, void *ud)
{
    (void)key, (void)ud;
    free_ddoc(value);
}

static void maybe_free(struct kb_dense *d)
{
    if (!d->closed || d->redis_pending)
        return;
    pl_map_each(&d->docs, free_doc_value, NULL);
    pl_map_cleanup(&d->docs);
    kb_vectors_free(d->vectors);
    pl_free(d);
}

static void on_closed(uv_handle_t *h)
{
    struct kb_dense *d = h->data;
    d->closed = true;
    maybe_free(d);
}

void kb_dense_stop(struct kb_dense *d)
{
    if (!d)
        return;
    d->stopped = true;
    struct job *j = d->job;
    if (j) {
        for (unsigned i = 0; i < KB_DENSE_CONCURRENCY; i++)
            if (j->calls[i]) {
                emb_cancel(j->calls[i]);
                j->calls[i] = NULL;
            }
        job_free(j);
        d->job = NULL;
        d->current = NULL;
    }
    while (d->queries) {
        struct kb_dense_query *q = d->queries;
        kb_dense_query_cb cb = q->cb;
        void *ud = q->ud;
        kb_dense_query_cancel(q);
        cb(ud, NULL);
    }
    emb_client_destroy(d->emb);
    d->emb = NULL;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_closed);
}
