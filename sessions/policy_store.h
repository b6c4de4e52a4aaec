/* Policy records in Redis (docs/redis-keys.md, docs/protocol.md "Policy records"): one JSON
 * object per policy number at parley:policy:{NUMBER}, written by admins and read when a turn's
 * session is bound to that number. The records go over the session store's command connection,
 * with its command deadline. The store keeps bytes: that they are a JSON object is the HTTP
 * route's check. Loop thread only; a call that returns an error never runs its callback, one
 * that returns PL_OK runs it exactly once. */
#ifndef PARLEY_SESSIONS_POLICY_STORE_H
#define PARLEY_SESSIONS_POLICY_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "sessions/session_store.h"

/* A policy number: 1..64 bytes of A-Z a-z 0-9 - _ (it is a URL path segment, a key's hash tag
 * and a log field, so nothing that needs escaping in any of them). 64 is the session record's
 * policy_number field. */
#define SESS_POLICY_NUMBER_MAX 64
/* A stored record, in bytes. */
#define SESS_POLICY_RECORD_MAX (64 * 1024)

/** True if `number` is a policy number as above (NULL is not). */
bool sess_policy_number_valid(const char *number);

/** status PL_OK with `created` (true: no record had that number before), or a storage error. */
typedef void (*sess_policy_put_cb)(void *ud, int status, bool created);
/** Store `len` bytes of `record` as policy `number`'s record, replacing any. PL_EINVAL for a
 *  bad number, PL_ETOOBIG past SESS_POLICY_RECORD_MAX (or for an empty record); otherwise as
 *  the store's calls. */
int sess_policy_put(struct sess_store *s, const char *number, const char *record, size_t len,
                    sess_policy_put_cb cb, void *ud);

/** status PL_OK with the record (borrowed for the call), PL_ENOTFOUND (none stored), or a
 *  storage error. */
typedef void (*sess_policy_get_cb)(void *ud, int status, const char *record, size_t len);
/** Read policy `number`'s record. PL_EINVAL for a bad number. */
int sess_policy_get(struct sess_store *s, const char *number, sess_policy_get_cb cb, void *ud);

/** Bind session `sid` to policy `number` (a trusted source named it: a caller token's
 *  policy claim). status PL_OK when the session is now bound to `number` (it had no number, or
 *  that one), PL_EFORBIDDEN when it is bound to another number (left as it is), PL_ENOTFOUND for
 *  no such session, or a storage error. PL_EINVAL for a bad sid or number. */
int sess_policy_bind(struct sess_store *s, const char *sid, const char *number,
                     void (*cb)(void *ud, int status), void *ud);

#endif
