/* The agent desk's session list across instances (docs/protocol.md "Agent WebSocket", live
 * `session_update`s; docs/redis-keys.md): an instance whose agents have the list open keeps the
 * mark parley:desk:listing alive (a key with a time to live) and subscribes to the channel
 * parley:desk:sessions; an instance where a session changes publishes its id there only while
 * the mark is there, so nothing is published while nobody lists. A message is one or more
 * session ids, one per line. Delivery is at most once, as for every pub/sub channel. Loop thread
 * only. */
#ifndef PARLEY_SESSIONS_DESK_CHANNEL_H
#define PARLEY_SESSIONS_DESK_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sessions/session_store.h"

#define SESS_DESK_CHANNEL "parley:desk:sessions"
#define SESS_DESK_MARK    "parley:desk:listing"

/** Someone lists here: the mark lives `ttl_ms` from now. `cb` may be NULL. Otherwise as the
 *  store's calls. */
int sess_desk_mark(struct sess_store *s, uint32_t ttl_ms, sess_done_cb cb, void *ud);

/** `listed`: the mark is there (someone, on some instance, has the list open). */
typedef void (*sess_desk_read_cb)(void *ud, int status, bool listed);
/** Read the mark. `cb` runs exactly once, later, when PL_OK is returned. */
int sess_desk_read(struct sess_store *s, sess_desk_read_cb cb, void *ud);

/** Publish `len` bytes of `data` (session ids, one per line) on the desk channel, on the store's
 *  command connection. `cb` may be NULL. */
int sess_desk_publish(struct sess_store *s, const char *data, size_t len, sess_done_cb cb,
                      void *ud);

/** A message of a channel; `data` borrowed for the call. */
typedef void (*sess_channel_message_cb)(void *ud, const char *data, size_t len);

struct sess_channel_sub; /* a dedicated subscriber connection to one fixed channel */

/** Connect (in the background, reconnecting with backoff) to opts->redis_url and subscribe to
 *  `channel` (copied): the desk channel, an instance's control channel (bot/instance_control.h).
 *  PL_EINVAL with `err` for a bad URL. */
int sess_channel_sub_create(uv_loop_t *loop, const struct sess_store_opts *opts,
                            const char *channel, sess_channel_message_cb cb, void *ud,
                            struct sess_channel_sub **out, char *err, size_t errlen);
/** Unsubscribe and close: `cb` never runs after this returns. Accepts NULL. */
void sess_channel_sub_destroy(struct sess_channel_sub *d);
/** True while its connection is up (subscribed, or subscribing). */
bool sess_channel_sub_ready(const struct sess_channel_sub *d);

/** Publish `len` bytes of `data` on `channel`, on the store's command connection. `cb` may be
 *  NULL. */
int sess_channel_publish(struct sess_store *s, const char *channel, const char *data, size_t len,
                         sess_done_cb cb, void *ud);

/** Parse a desk message: call `each` with every valid session id in it (lines that are not one
 *  are skipped), at most `max` of them. Returns how many were given. */
size_t sess_desk_parse(const char *data, size_t len, size_t max,
                       void (*each)(void *ud, const char *sid), void *ud);

#endif
