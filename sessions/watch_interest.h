/* Watch interest of a session's live events, shared through Redis (docs/redis-keys.md
 * parley:{SID}:watchers): an instance with an agent watching the session or a caller of it
 * connected marks it under its own instance id, and keeps its mark alive while they are there;
 * the instance answering the session's turns reads the marks and publishes the turns' events on
 * parley:{SID}:live only while another instance than itself has one (its own listeners get the
 * events from its turn engine: a session whose every watcher and caller is on the instance
 * answering it costs no PUBLISH). A counter in the same hash is raised by every new watch or
 * caller, so a publisher that sees it change knows someone joined and tells the turn so far
 * again (receivers drop what they have seen by seq). The instances' marks expire by their own
 * times, kept in the hash, so a stopped instance's mark goes even while others keep theirs
 * alive. Loop thread only. */
#ifndef PARLEY_SESSIONS_WATCH_INTEREST_H
#define PARLEY_SESSIONS_WATCH_INTEREST_H

#include <stdbool.h>

#include "sessions/session_store.h"

/** Instance `instance` has interest in `sid` for `ttl_ms` more; `join` (a new watch or caller)
 *  also raises the counter. `cb` may be NULL. Otherwise as the store's calls. */
int sess_watch_mark(struct sess_store *s, const char *sid, const char *instance, uint32_t ttl_ms,
                    bool join, sess_done_cb cb, void *ud);
/** Instance `instance` has no more interest in `sid` (its mark goes at once). `cb` may be NULL. */
int sess_watch_clear(struct sess_store *s, const char *sid, const char *instance, sess_done_cb cb,
                     void *ud);

/** `value` is the counter when an instance other than the reader has a live mark, else -1;
 *  status PL_OK or a storage error. */
typedef void (*sess_watch_cb)(void *ud, int status, long long value);
/** Read the marks of `sid` as instance `self` (whose own mark does not count). `cb` runs
 *  exactly once, later, when PL_OK is returned. */
int sess_watch_read(struct sess_store *s, const char *sid, const char *self, sess_watch_cb cb,
                    void *ud);

#endif
