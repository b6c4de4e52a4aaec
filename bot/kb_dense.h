/* Dense retrieval for one parleyd (docs/knowledge.md "Dense retrieval"): the vectors of every
 * document in the BM25 index (srv->kb) kept in an in-memory matrix (knowledge/kb_vectors.h),
 * and questions embedded for a hybrid search (knowledge/kb_fusion.h). A document's vectors are
 * read from Redis (sessions/kb_vector_store.h) when some instance stored them for the same
 * model, dimensions and chunk texts; otherwise the instance that takes the document's short
 * lock embeds its chunks (a few calls at a time) and stores them, and the others read them on
 * a later pass (every KB_DENSE_RETRY_MS). A document without vectors yet is still found by
 * BM25. Loop thread only. */
#ifndef PARLEY_BOT_KB_DENSE_H
#define PARLEY_BOT_KB_DENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct bot_server;
struct emb_client;
struct kb_dense;
struct kb_dense_query;
struct kb_vectors;
struct turn_kb_dense;

#define KB_DENSE_RETRY_MS    500   /* a document locked elsewhere is looked for again */
#define KB_DENSE_FAIL_MS     5000  /* after a failed embedding, first wait (doubling to 60 s) */
#define KB_DENSE_LOCK_MS     60000 /* the embedding lock's lease */
#define KB_DENSE_CONCURRENCY 4     /* embeddings calls in flight for documents */

struct kb_dense_stats {
    uint64_t docs_ready;      /* documents whose vectors are in memory (gauge) */
    uint64_t docs_waiting;    /* indexed documents without vectors yet (gauge) */
    uint64_t chunks_embedded; /* chunks this instance embedded */
    uint64_t vectors_loaded;  /* documents whose vectors were read from Redis */
    uint64_t embed_failures;  /* document embeddings that failed (retried later) */
    uint64_t queries_ok;      /* questions embedded in time */
    uint64_t queries_timeout; /* questions whose embedding missed its deadline: BM25 alone */
    uint64_t queries_error;   /* questions whose embedding failed: BM25 alone */
};

/** Parse --embeddings and friends of srv->cfg and start (NULL in `*out`, PL_OK, when
 *  --embeddings is unset). PL_EINVAL with a message in `err` for a bad setting. Needs srv's
 *  loop, HTTP client, store and (for bedrock) AWS set-up. */
int kb_dense_start(struct bot_server *srv, struct kb_dense **out, char *err, size_t errlen);

/** Document `name` was added to, replaced in or removed from srv->kb: its vectors follow. */
void kb_dense_changed(struct kb_dense *d, const char *name);
/** Every document of srv->kb (after --kb DIR was read). */
void kb_dense_changed_all(struct kb_dense *d);

/** The vectors to search, or NULL before any document has them. */
const struct kb_vectors *kb_dense_vectors(const struct kb_dense *d);

/** The question's embedding (kb_vectors_dims floats), or NULL when it failed or missed the
 *  deadline (--embeddings-timeout-ms): then BM25 alone. */
typedef void (*kb_dense_query_cb)(void *ud, const float *vec);
/** Embed a question. `cb` runs exactly once, never inside this call, unless cancelled; NULL
 *  (no callback) when there is nothing to search with vectors (none in memory, or an empty
 *  question). */
struct kb_dense_query *kb_dense_query(struct kb_dense *d, const char *text, size_t len,
                                      kb_dense_query_cb cb, void *ud);
/** The callback never runs. */
void kb_dense_query_cancel(struct kb_dense_query *q);

/** The turn engine's view of `d` (turn_engine_opts.kb_dense); NULL for NULL. */
const struct turn_kb_dense *kb_dense_for_turns(struct kb_dense *d);

void kb_dense_stats(const struct kb_dense *d, struct kb_dense_stats *out);
/** Prometheus lines of the stats (parley_kb_dense_*). Accepts NULL (nothing written). */
void kb_dense_metrics(const struct kb_dense *d, struct pl_buf *b);

/** Stop: document work is dropped, questions in flight are told NULL. Accepts NULL. */
void kb_dense_stop(struct kb_dense *d);

#endif
