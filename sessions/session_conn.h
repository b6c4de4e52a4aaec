/* The session store's command connection, for the other stores of sessions/ that share it
 * (policy_store.c): one connection, one command deadline, one reconnect policy. Internal to
 * sessions/. */
#ifndef PARLEY_SESSIONS_SESSION_CONN_H
#define PARLEY_SESSIONS_SESSION_CONN_H

#include "sessions/redis_conn.h"
#include "sessions/session_store.h"

/** The store's command connection (never NULL for a created store). */
struct rconn *sess_store_rconn(struct sess_store *s);

#endif
