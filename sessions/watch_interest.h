/* Watch interest of the agent desk, shared through Redis (docs/redis-keys.md
 * parley:{SID}:watched): an instance whose agents watch a session marks it, and keeps the mark
 * alive while they watch; the instance answering the session's turns reads it and publishes
 * the turns' events on parley:{SID}:live only while it is there. The value is a counter raised
 * by every new watch, so a publisher that sees it change knows a watcher joined and tells the
 * turn so far again (receivers drop what they have seen by seq). Loop thread only. */
#ifndef PARLEY_SESSIONS_WATCH_INTEREST_H
#define PARLEY_SESSIONS_WATCH_INTEREST_H

#include "sessions/session_store.h"

/** A watch of `sid` begins: raise the counter and give the mark `ttl_ms` to live. `cb` may be
 *  NULL. Otherwise as the store's calls. */
int sess_watch_mark(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                    void *ud);
/** Still watched: the mark lives `ttl_ms` more (it is not raised). `cb` may be NULL. */
int sess_watch_refresh(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                       void *ud);

/** `value` is the counter, or -1 when nobody watches (no mark); status PL_OK or a storage
 *  error. */
typedef void (*sess_watch_cb)(void *ud, int status, long long value);
/** Read the mark of `sid`. `cb` runs exactly once, later, when PL_OK is returned. */
int sess_watch_read(struct sess_store *s, const char *sid, sess_watch_cb cb, void *ud);

#endif
