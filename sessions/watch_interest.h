/* Interest of other instances in a session's live events (docs/redis-keys.md
 * parley:{SID}:watched, parley:{SID}:live): an instance with an agent watching the session or a
 * caller of it connected subscribes to the session's channel (sessions/session_live.h); the
 * instance answering the session's turns asks Redis how many subscribe (PUBSUB NUMSUB) and
 * publishes the turns' events only while someone besides itself does: its own watchers and
 * callers get the events from its turn engine, so a session followed only on the instance
 * answering it costs no PUBLISH, and following a session costs no periodic write. A counter
 * raised by every new watch or caller (a join) tells the publisher someone joined, so it tells
 * the turn so far again (receivers drop what they have seen by seq). Loop thread only. */
#ifndef PARLEY_SESSIONS_WATCH_INTEREST_H
#define PARLEY_SESSIONS_WATCH_INTEREST_H

#include <stdbool.h>

#include "sessions/session_store.h"

/** Someone began following `sid` (after subscribing to its channel): raise the counter, which
 *  lives `ttl_ms` from now. `cb` may be NULL. Otherwise as the store's calls. */
int sess_watch_join(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                    void *ud);

/** `value` is the join counter (0 when there is none) when the session's channel has more
 *  subscribers than the reader's own, else -1; status PL_OK or a storage error. */
typedef void (*sess_watch_cb)(void *ud, int status, long long value);
/** Read the interest in `sid` as an instance that subscribes to its channel itself (`self`
 *  subscribed) or not. `cb` runs exactly once, later, when PL_OK is returned. */
int sess_watch_read(struct sess_store *s, const char *sid, bool self_subscribed, sess_watch_cb cb,
                    void *ud);

#endif
