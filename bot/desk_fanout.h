/* Cross-instance live fan-out of the agent desk (docs/protocol.md "Agent WebSocket", "Across
 * instances"). Two halves:
 *  - publisher: every session with a message submitted or a turn answered here is followed (the
 *    engine's turn_starting hook) until its next turn_end and, only while the session's watch mark
 * is in Redis (sessions/watch_interest.h, read when the turn starts and every second while it
 * runs), its events are published on parley:{SID}:live, deltas batched to at most one PUBLISH per
 * session per DESK_BATCH_MS. When the mark's counter changes (a watcher joined), the turn so far is
 * told again from its turn_start.
 *  - receiver: a session watched here is subscribed to (sessions/session_live.h) and marked
 *    (refreshed while watched); events published by other instances reach every remote watch
 *    of the session in order, each delta once (by turn and seq); a watch that joins mid-turn
 *    first gets the turn so far.
 * Message format: the publishing instance's id, then one caller-protocol frame per line. Loop
 * thread only. */
#ifndef PARLEY_BOT_DESK_FANOUT_H
#define PARLEY_BOT_DESK_FANOUT_H

#include <stddef.h>

#include "bot/server.h"
#include "bot/turn/turn_engine.h"
#include "sessions/session_store.h"

#define DESK_BATCH_MS    50
#define DESK_POLL_MS     1000
#define DESK_MARK_TTL_MS 15000
#define DESK_REFRESH_MS  5000

struct desk_fanout;
struct desk_sub;

/* A watch of a session's events from other instances; embed it and set `frame`. */
struct desk_remote_watch {
    /** One caller-protocol frame (a JSON object) of the session; borrowed for the call. */
    void (*frame)(struct desk_remote_watch *w, const char *sid, const char *data, size_t len);
    struct desk_sub *_sub;
    struct desk_remote_watch *_next;
};

/** Start both halves for `srv` (its loop, store, engine and instance id); the subscriber
 *  connection follows `so` (kept: its pointers must outlive `f`) and opens at the first
 *  watch or caller connection on this instance. PL_OK (`err` is for future refusals). */
int desk_fanout_create(struct bot_server *srv, const struct sess_store_opts *so,
                       struct desk_fanout **out, char *err, size_t len);
/** Stop: no callback runs after this; remote watches are detached (unwatch stays safe). Its
 *  handles close on the loop. Accepts NULL. */
void desk_fanout_destroy(struct desk_fanout *f);

/** The turn engine's turn_starting hook (ud: the desk_fanout). */
void desk_fanout_turn_starting(void *ud, const char *sid, long turn);

/** Attach `w` to the events other instances publish for `sid` (marking the session watched).
 *  `f` NULL: nothing (single-instance). */
void desk_fanout_watch(struct desk_fanout *f, const char *sid, struct desk_remote_watch *w);
/** Detach `w`. Idempotent; safe after desk_fanout_destroy. */
void desk_fanout_unwatch(struct desk_remote_watch *w);

/* Agents' actions across instances (docs/protocol.md "Takeover"): a caller connection here
 * follows its session's channel (subscribed, not marked watched: turns are not published for
 * it), so an agent's takeover, say or release on another instance reaches it; the instance that
 * does the action publishes it ({"type":"agent","kind":K,"agent":A,"turn":N,"ts":MS,"text":S?}
 * after the instance id), and each instance that follows the session cancels its turn in flight
 * (a takeover) and tells its listeners (turn_tell_agent). */

/** A caller connection here is on `sid` (counted; `f` NULL: nothing). */
void desk_fanout_follow(struct desk_fanout *f, const char *sid);
/** That connection is gone. */
void desk_fanout_unfollow(struct desk_fanout *f, const char *sid);
/** Publish an agent's action done here for the other instances. */
void desk_fanout_tell_agent(struct desk_fanout *f, const char *sid,
                            const struct turn_agent_event *ev);

#endif
