/* Chunk vectors of knowledge-base documents in Redis (docs/redis-keys.md "Knowledge base",
 * docs/knowledge.md "Dense retrieval"), so that a document is embedded once and every instance
 * loads its vectors instead of embedding it again. One hash per document, keyed by name under
 * the {kb} hash tag: `sig` (what the vectors are of: model, dimensions and every chunk text,
 * hashed by the caller), `model`, `dims`, `n` and `v`, the n x dims little-endian float32s. A
 * short lock key per document lets one instance embed it while the others wait for the hash.
 * Over the session store's command connection. Loop thread only; a call that returns an error
 * never runs its callback, one that returns PL_OK runs it exactly once. */
#ifndef PARLEY_SESSIONS_KB_VECTOR_STORE_H
#define PARLEY_SESSIONS_KB_VECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessions/session_store.h"

/** PL_OK with the stored `sig`, `dims`, `n` and the `len` bytes at `blob` (all borrowed for
 *  the call), PL_ENOTFOUND when the document has no vectors, or a storage error. */
typedef void (*kb_vec_get_cb)(void *ud, int status, const char *sig, unsigned dims, uint32_t n,
                              const void *blob, size_t len);
int kb_vec_store_get(struct sess_store *s, const char *name, kb_vec_get_cb cb, void *ud);

typedef void (*kb_vec_done_cb)(void *ud, int status);
/** Store the vectors of `name` (replacing any) and release the lock `owner` holds on it. */
int kb_vec_store_put(struct sess_store *s, const char *name, const char *owner, const char *sig,
                     const char *model, unsigned dims, uint32_t n, const void *blob, size_t len,
                     kb_vec_done_cb cb, void *ud);

/** status PL_OK with `taken` true when `owner` now holds the embedding lock of `name` for
 *  `ttl_ms` (SET NX PX; a lock it already held is extended), false when another does. */
typedef void (*kb_vec_lock_cb)(void *ud, int status, bool taken);
int kb_vec_store_lock(struct sess_store *s, const char *name, const char *owner, uint32_t ttl_ms,
                      kb_vec_lock_cb cb, void *ud);
/** Release the lock if `owner` holds it (after a failed embedding). `cb` may be NULL. */
int kb_vec_store_unlock(struct sess_store *s, const char *name, const char *owner,
                        kb_vec_done_cb cb, void *ud);

/** Delete the vectors of `name` if they are still those of `sig` (a newer version stored by
 *  another instance stays). `cb` may be NULL. */
int kb_vec_store_delete(struct sess_store *s, const char *name, const char *sig, kb_vec_done_cb cb,
                        void *ud);

#endif
