/* Commands for one instance through Redis (docs/redis-keys.md parley:instance:{ID}:control):
 * each instance subscribes to its own channel (sessions/desk_channel.h, a fixed channel's
 * subscriber), and another finds which instance answers a session's turn by its turn lock
 * (parley:{SID}:lock holds the owner's instance id). Loop thread only. */
#ifndef PARLEY_SESSIONS_INSTANCE_CHANNEL_H
#define PARLEY_SESSIONS_INSTANCE_CHANNEL_H

#include <stddef.h>

#include "sessions/session_store.h"

#define SESS_INSTANCE_CHANNEL_MAX 128

/** The control channel of instance `id` (a parleyd instance id) into `out`. */
void sess_instance_channel(char out[SESS_INSTANCE_CHANNEL_MAX], const char *id);

/** `owner`: the instance id holding the session's turn lock ("" when none holds it), borrowed
 *  for the call; status PL_OK or a storage error. */
typedef void (*sess_owner_cb)(void *ud, int status, const char *owner);
/** Read who answers `sid`'s turn now. `cb` runs exactly once, later, when PL_OK is returned. */
int sess_turn_owner(struct sess_store *s, const char *sid, sess_owner_cb cb, void *ud);

#endif
