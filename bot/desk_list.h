/* Live updates of the agent desk's session list (docs/protocol.md "Agent WebSocket": after a
 * `list`, `session_update`s with the session's whole row), across instances through Redis
 * (sessions/desk_channel.h). Two halves:
 *  - publisher: a session changes here when a caller message of it is stored, an answer ends,
 *    it is escalated or an agent acts on it (desk_list_changed; messages and answers are
 *    followed through the engine's turn_starting hook). Changes are gathered for
 *    DESK_LIST_BATCH_MS, then their session ids are published in one message, only if an
 *    agent somewhere has the list open (the mark is read then, at most once per batch, and
 *    believed for DESK_LIST_MARK_TRUST_MS when it is there): nothing is published while nobody
 *    lists.
 *  - receiver: while agents are connected here (desk_list_follow, from their hello), the
 *    instance subscribes to the channel and keeps the mark alive; each session id received is
 *    read back from Redis (one HMGET, batched) and its row given to the followers.
 * Rows are read, not sent, so that every instance tells the same row as `list` does. Loop thread
 * only. */
#ifndef PARLEY_BOT_DESK_LIST_H
#define PARLEY_BOT_DESK_LIST_H

#include <stddef.h>

#include "bot/server.h"
#include "sessions/session_list.h"
#include "sessions/session_store.h"

#define DESK_LIST_BATCH_MS      250
#define DESK_LIST_MARK_TRUST_MS 1000
#define DESK_LIST_MARK_TTL_MS   15000
#define DESK_LIST_REFRESH_MS    5000
#define DESK_LIST_IDLE_MS       30000 /* a session with no event this long is followed no more */
#define DESK_LIST_PENDING_MAX   256   /* session ids per published message and per read */

struct desk_list;

/* An agent connection that wants the list's rows; embed it and set `rows`. */
struct desk_list_follower {
    /** Rows of sessions that changed (ordered as the desk shows them); borrowed for the call. */
    void (*rows)(struct desk_list_follower *fl, const struct sess_list_row *rows, size_t n);
    struct desk_list *_dl;
    struct desk_list_follower *_prev, *_next;
};

/** Start both halves for `srv` (its loop, store and engine); the subscriber connection follows
 *  `so` (kept: its strings must outlive `dl`) and opens at the first follower. */
int desk_list_create(struct bot_server *srv, const struct sess_store_opts *so,
                     struct desk_list **out, char *err, size_t len);
/** Stop: no callback runs after this; followers are detached (unfollow stays safe). Accepts
 *  NULL. */
void desk_list_destroy(struct desk_list *dl);

/** The turn engine's turn_starting hook (ud: the desk_list): the session is followed (its
 *  stored messages and ended answers are changes) until it has been idle DESK_LIST_IDLE_MS. */
void desk_list_turn_starting(void *ud, const char *sid, long turn);
/** Session `sid` changed here (its state, its newest line). `dl` NULL: nothing. */
void desk_list_changed(struct desk_list *dl, const char *sid);

/** `fl` gets the rows of sessions that change, wherever they change. `dl` NULL: nothing. */
void desk_list_follow(struct desk_list *dl, struct desk_list_follower *fl);
/** Detach `fl`. Idempotent; safe after desk_list_destroy. */
void desk_list_unfollow(struct desk_list_follower *fl);

#endif
