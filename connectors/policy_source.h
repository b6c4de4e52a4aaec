/* Where a caller's policy record comes from (docs/security.md "Policy records" and "Policy
 * records from DynamoDB"): one interface, `policy_source_get`, over two implementations. The
 * turn engine and GET /v1/policies/{n} read through it and never know which one serves them.
 *   - redis (the default): the records admins PUT into Redis (sessions/policy_store.h); the
 *     adapter lives with the server's set-up (bot/policy_setup.c), since connectors/ does not
 *     reach into sessions/. Read on every lookup, as before: no cache.
 *   - dynamodb: GetItem on a DynamoDB table (PROTOCOLS.md 6F), signed with the server's one AWS
 *     credentials source, over the non-blocking HTTP client; retried on throttling and server
 *     errors with backoff on loop timers, within a deadline; the item converted to plain JSON
 *     (connectors/dynamodb_item.h). Read-only: records are changed in the table.
 *
 * In front of either, an in-memory cache: a record found is kept `ttl_ms`, a record found
 * missing `negative_ttl_ms` (shorter: a record created in the table shows soon), failures are
 * not kept. At most `max_entries` records; the least recently used goes first. Lookups of one
 * number while its read is in flight share that read. ttl_ms 0 keeps nothing (lookups still
 * share a read in flight).
 *
 * Callbacks: status PL_OK with the record (a JSON object, borrowed for the call), PL_ENOTFOUND
 * (no record: not an error, the turn answers without one), or a failure (PL_EUPSTREAM: the
 * source refused, PL_ETIMEDOUT, PL_EIO, PL_EPROTO, PL_ECANCELED at stop). Loop thread only. A
 * get that returns an error never runs its callback; one that returns PL_OK runs it exactly
 * once, possibly before it returns (a cached record). */
#ifndef PARLEY_CONNECTORS_POLICY_SOURCE_H
#define PARLEY_CONNECTORS_POLICY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"

struct policy_source;
struct http_client;
struct aws_credentials;

typedef void (*policy_source_cb)(void *ud, int status, const char *record, size_t len);

/* An implementation. `impl` is its own state. */
struct policy_source_ops {
    const char *kind; /* "redis", "dynamodb": the metrics' source label */
    /** As policy_source_get, without the cache. */
    int (*get)(void *impl, const char *number, policy_source_cb cb, void *ud);
    /** Optional: end every read in flight now (their callbacks run with PL_ECANCELED). */
    void (*stop)(void *impl);
    /** Release `impl` (after stop; its handles may close on the loop's next run). */
    void (*destroy)(void *impl);
    /** Optional: append Prometheus lines of its own. */
    void (*metrics)(void *impl, struct pl_buf *out);
};

struct policy_cache_opts {
    uint32_t ttl_ms;          /* 0: nothing is kept */
    uint32_t negative_ttl_ms; /* a record found missing; at most ttl_ms */
    uint32_t max_entries;     /* 0: as ttl_ms 0 */
};

/* The cache's counters, for tests and /metrics. */
struct policy_source_stats {
    uint64_t hits;     /* answered from the cache */
    uint64_t misses;   /* read from the source */
    uint64_t shared;   /* joined a read of the same number in flight */
    uint64_t failures; /* reads that ended in an error (not PL_ENOTFOUND) */
    uint64_t evicted;  /* records dropped to make room */
    size_t entries;    /* records (and reads in flight) held now */
};

/** A source over `ops`/`impl` (taken over: destroyed with the source) with a cache. `description`
 *  names it for people ("DynamoDB table Policies"; copied). */
struct policy_source *policy_source_new(uv_loop_t *loop, const struct policy_source_ops *ops,
                                        void *impl, const struct policy_cache_opts *cache,
                                        const char *description, bool writable);

/** Policy `number`'s record (see above). PL_EINVAL for an empty or over-long number,
 *  PL_ECLOSED after stop, or the implementation's refusal. */
int policy_source_get(struct policy_source *src, const char *number, policy_source_cb cb, void *ud);
/** Forget a cached record (after a write through this instance). */
void policy_source_forget(struct policy_source *src, const char *number);

/** Whether records are written here (PUT /v1/policies): true for redis. */
bool policy_source_writable(const struct policy_source *src);
/** "redis", "dynamodb". */
const char *policy_source_kind(const struct policy_source *src);
/** For people: "Redis", "DynamoDB table Policies". */
const char *policy_source_description(const struct policy_source *src);

void policy_source_stats(const struct policy_source *src, struct policy_source_stats *out);
/** Append the Prometheus lines of the cache and the implementation. */
void policy_source_metrics(const struct policy_source *src, struct pl_buf *out);

/** End reads in flight (callbacks with PL_ECANCELED); later gets answer PL_ECLOSED. Call before
 *  the HTTP client goes. Accepts NULL. */
void policy_source_stop(struct policy_source *src);
/** Release (after stop, or with nothing in flight). Accepts NULL. */
void policy_source_free(struct policy_source *src);

/* ---- DynamoDB ---- */

struct policy_dynamodb_opts {
    uv_loop_t *loop;
    struct http_client *http;
    struct aws_credentials *creds; /* the server's one source (bot/aws_setup.h); borrowed */
    const char *region;
    const char *endpoint;        /* NULL: https://dynamodb.REGION.amazonaws.com */
    const char *table;           /* name or ARN (ddb_table_name_valid) */
    const char *key_attribute;   /* the table's partition key, a string attribute */
    uint32_t attempt_timeout_ms; /* one request; 0: 2000 */
    uint32_t deadline_ms;        /* a lookup with its retries; 0: 5000 */
    uint32_t max_attempts;       /* 0: 3 */
    uint32_t backoff_base_ms;    /* first retry wait (doubling, jittered); 0: 50 */
    struct policy_cache_opts cache;
};

/** The DynamoDB source. PL_EINVAL with a message for the operator in `err` for a bad table,
 *  attribute, region or endpoint. */
int policy_source_dynamodb_new(const struct policy_dynamodb_opts *opts, struct policy_source **out,
                               char *err, size_t errlen);

#endif
