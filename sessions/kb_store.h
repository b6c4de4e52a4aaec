/* Knowledge-base documents in Redis (docs/redis-keys.md "Knowledge base", docs/knowledge.md
 * "Storage and sync"), so that every instance serves the same corpus: each document's text,
 * kind and title (and, for a synced copy, its source and etag) in a hash, the names with the
 * version at which each last changed, and one version counter raised by every change (what the
 * instances poll). All keys share the hash tag {kb}, so one script changes them together. Written
 * over the session store's command connection, with its command deadline. Loop thread only; a call
 * that returns an error never runs its callback, one that returns PL_OK runs it exactly once. */
#ifndef PARLEY_SESSIONS_KB_STORE_H
#define PARLEY_SESSIONS_KB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessions/session_store.h"

/* A document name: 1..128 bytes of A-Z a-z 0-9 . - _, not starting with "." (a key part, a URL
 * path segment and a log field: nothing that needs escaping in any of them). */
#define KB_STORE_NAME_MAX 128

/** True if `name` is a document name as above (NULL is not). */
bool kb_store_name_valid(const char *name);

/** status PL_OK with `created` (no document had that name) and the document's new `version`. */
typedef void (*kb_store_put_cb)(void *ud, int status, bool created, uint64_t version);
/** Store a document (text `len` bytes, kind "md" "txt" or "html", its title), replacing any of
 *  that name. PL_EINVAL for a bad name. */
int kb_store_put(struct sess_store *s, const char *name, const char *text, size_t len,
                 const char *kind, const char *title, kb_store_put_cb cb, void *ud);

/* A document's origin, when a sync stored it: where it came from ("s3://bucket/key") and the
 * version it was copied at there (an S3 ETag, quotes kept). One line each, no control byte. */
#define KB_STORE_SOURCE_MAX 2048
#define KB_STORE_ETAG_MAX   256

/** True for no origin (both NULL or "") or a source with an etag within the bounds above. */
bool kb_store_origin_valid(const char *source, const char *etag);

/** kb_store_put recording the document's origin (`source`, `etag`; NULL: none, and any origin
 *  recorded before is forgotten: what is stored by hand is nobody's copy). PL_EINVAL for a bad
 *  name or origin. kb_store_put is this without one. */
int kb_store_put_from(struct sess_store *s, const char *name, const char *text, size_t len,
                      const char *kind, const char *title, const char *source, const char *etag,
                      kb_store_put_cb cb, void *ud);

/** status PL_OK (deleted), PL_ENOTFOUND (none of that name) or a storage error. */
typedef void (*kb_store_del_cb)(void *ud, int status);
int kb_store_delete(struct sess_store *s, const char *name, kb_store_del_cb cb, void *ud);

/** The counter, raised by every put and delete: 0 before the first. */
typedef void (*kb_store_version_cb)(void *ud, int status, uint64_t version);
int kb_store_version(struct sess_store *s, kb_store_version_cb cb, void *ud);

/** Every stored document: the counter, then `n` names with the version of each (borrowed for
 *  the call; in no particular order), read together. */
typedef void (*kb_store_list_cb)(void *ud, int status, uint64_t version, size_t n,
                                 const char *const *names, const uint64_t *versions);
int kb_store_list(struct sess_store *s, kb_store_list_cb cb, void *ud);

/** A stored document as the listing with origins gives it (strings borrowed for the call). */
struct kb_store_entry {
    const char *name;
    uint64_t version;
    const char *source; /* NULL when stored without an origin */
    const char *etag;   /* NULL likewise */
};
/** kb_store_list with each document's origin, read together with the names; sorted by name. */
typedef void (*kb_store_list_sources_cb)(void *ud, int status, uint64_t version, size_t n,
                                         const struct kb_store_entry *entries);
int kb_store_list_sources(struct sess_store *s, kb_store_list_sources_cb cb, void *ud);

/** One document (strings borrowed for the call): PL_ENOTFOUND if it is gone. */
typedef void (*kb_store_get_cb)(void *ud, int status, uint64_t version, const char *text,
                                size_t len, const char *kind, const char *title);
int kb_store_get(struct sess_store *s, const char *name, kb_store_get_cb cb, void *ud);

#endif
