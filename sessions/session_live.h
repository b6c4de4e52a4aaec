/* Live events of a session across instances: Redis pub/sub on the session's channel
 * parley:{SID}:live (docs/redis-keys.md). A publisher sends on the store's command connection;
 * a subscriber holds one dedicated connection, since Redis allows nothing but (UN)SUBSCRIBE on a
 * connection once it subscribes. Delivery is at most once: a message published while the
 * subscriber is disconnected (or before its SUBSCRIBE reached Redis) is not delivered. Loop
 * thread only. */
#ifndef PARLEY_SESSIONS_SESSION_LIVE_H
#define PARLEY_SESSIONS_SESSION_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "sessions/session_store.h"

struct sess_live; /* a dedicated subscriber connection (Redis forbids other commands on it) */

/** A message published for session `sid`; `sid` and `data` are borrowed for the call. The
 *  callback may unsubscribe (any session) or destroy the subscriber. */
typedef void (*sess_live_cb)(void *ud, const char *sid, const char *data, size_t len);

/** Start a subscriber connection to opts->redis_url (connects in the background, reconnects
 *  with backoff; opts->command_timeout_ms bounds each (UN)SUBSCRIBE's confirmation, never the
 *  wait for messages; opts->live_max_subscriptions bounds the subscriptions). PL_EINVAL with
 *  `err` for a bad URL. */
int sess_live_create(uv_loop_t *loop, const struct sess_store_opts *opts, struct sess_live **out,
                     char *err, size_t errlen);
/** Drop every subscription (no callback runs after this returns) and close. Accepts NULL. */
void sess_live_destroy(struct sess_live *l);
/** True while the subscriber connection is up. */
bool sess_live_ready(const struct sess_live *l);

/** Deliver the messages of session `sid` to `cb`. Kept across reconnects (subscribed again each
 *  time the connection comes up); made even while Redis is down. PL_EINVAL for a malformed sid,
 *  a NULL cb or a sid already subscribed; PL_EBUSY past live_max_subscriptions. */
int sess_live_subscribe(struct sess_live *l, const char *sid, sess_live_cb cb, void *ud);
/** Stop: `cb` never runs again after this returns, even for a message already on its way.
 *  PL_ENOTFOUND if `sid` was not subscribed, PL_EINVAL for a malformed sid. */
int sess_live_unsubscribe(struct sess_live *l, const char *sid);

/** Publish `data` (binary safe) to the subscribers of session `sid`, on the store's command
 *  connection. `cb` (may be NULL) gets PL_OK once Redis took it, whoever listened. Otherwise as
 *  the store's calls (session_store.h). */
int sess_live_publish(struct sess_store *s, const char *sid, const char *data, size_t len,
                      sess_done_cb cb, void *ud);

#endif
