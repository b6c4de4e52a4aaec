/* Commands to one parleyd instance (docs/protocol.md "Takeover"): every instance subscribes at
 * start to its own control channel (sessions/instance_channel.h). An agent's takeover stops the
 * bot's answer in flight wherever it runs: the instance that took the session over reads who
 * holds the session's turn lock and, when it is another instance, sends it
 * "cancel takeover SID", which stops that turn (stop reason takeover, what was said stored) even
 * when no caller of the session is connected there (a turn of the HTTP message API, a Lex or
 * Connect webhook). Loop thread only. */
#ifndef PARLEY_BOT_INSTANCE_CONTROL_H
#define PARLEY_BOT_INSTANCE_CONTROL_H

#include <stddef.h>

#include "bot/server.h"
#include "sessions/session_store.h"

struct instance_control;

/** The control of this instance (srv->instance_id); its channel is subscribed to on a
 *  connection of its own to `so`'s Redis (kept: its strings must outlive `ic`), opened once the
 *  store's connection first comes up (instance_control_redis_up), so a Redis that refuses us is
 *  not asked twice as often. PL_OK. */
int instance_control_start(struct bot_server *srv, const struct sess_store_opts *so,
                           struct instance_control **out, char *err, size_t errlen);
/** The store's connection is up: subscribe, the first time. Accepts NULL. */
void instance_control_redis_up(struct instance_control *ic);
/** Unsubscribe and close; no command runs after this. Accepts NULL. */
void instance_control_stop(struct instance_control *ic);

/** An agent took `sid` over here: when another instance answers its turn, tell it to stop. The
 *  outcome is logged. `ic` NULL: nothing. */
void instance_control_takeover(struct instance_control *ic, const char *sid);

/** Read a command: PL_OK with the session id when `data` is exactly "cancel takeover SID" (SID a
 *  valid session id), PL_EINVAL otherwise. */
int instance_command_parse(const char *data, size_t len, char sid[SESS_ID_LEN + 1]);

#endif
