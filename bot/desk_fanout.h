/* Cross-instance live fan-out of a session's turns, for agents' watches and callers alike
 * (docs/protocol.md "Reconnecting", "Agent WebSocket", "Across instances"). Two halves:
 *  - publisher: every session with a message submitted or a turn answered here is followed (the
 *    engine's turn_starting hook) until its next turn_end and, only while its channel
 *    parley:{SID}:live has a subscriber besides this instance (sessions/watch_interest.h, read
 *    when the turn starts and every second while it runs), its events are published there,
 *    deltas batched to at most one PUBLISH per session per DESK_BATCH_MS. A session whose
 *    watchers and callers are all on the instance answering it publishes nothing: they have
 *    the turn from its engine. When the join counter changes (someone joined), the turn so far
 *    is told again from its turn_start.
 *  - receiver: a session with a watch or a caller connection here is subscribed to
 *    (sessions/session_live.h), and each new watch or caller raises the join counter; events
 *    published by other instances are handed to this instance's turn engine
 *    (turn_tell_remote), which tells its listeners of the session. Following a session costs
 *    no periodic Redis call; every DESK_CHECK_MS the engine reads back a turn answered
 *    elsewhere that went quiet.
 * Why through the engine rather than to each connection: the engine already tells every local
 *  listener (caller connections, agents' watches, the HTTP message API's streams) the same
 *  events in the same order, keeps a turn for those who join or resume mid-turn (turn_listen's
 *  replay), and guarantees one turn_end per acknowledged turn; a turn this instance
 *  acknowledged but another answers would otherwise end twice (the other's turn_end and this
 *  one's read of the stored answer), and each connection kind would need its own copy of the
 *  de-duplication, the replay and the resume. Through the engine there is one of each, and a
 *  publish missed (pub/sub is at most once) falls back on the engine's own read of the stored
 *  answer (its turn_end then carries the whole text).
 * Message format: the publishing instance's id, then one frame per line: a caller's message
 * (agent protocol), or a caller-protocol frame, the error with its "turn" and a streamed
 * turn_end with its count of "deltas" added. Loop thread only. */
#ifndef PARLEY_BOT_DESK_FANOUT_H
#define PARLEY_BOT_DESK_FANOUT_H

#include <stddef.h>

#include "bot/server.h"
#include "bot/turn/turn_engine.h"
#include "sessions/session_store.h"

#define DESK_BATCH_MS     50
#define DESK_POLL_MS      1000
#define DESK_JOINS_TTL_MS (24 * 3600 * 1000)
#define DESK_CHECK_MS     5000

struct desk_fanout;
struct desk_sub;

/* A watch of a session's events from other instances: it subscribes to the session (a join); the
 * events reach the watch's turn listener through the engine. Embed it; its fields are the
 * desk's. */
struct desk_remote_watch {
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

/** Follow, for `w`, the events other instances publish for `sid` (subscribed; a join).
 *  `f` NULL: nothing (single-instance). */
void desk_fanout_watch(struct desk_fanout *f, const char *sid, struct desk_remote_watch *w);
/** Detach `w`. Idempotent; safe after desk_fanout_destroy. */
void desk_fanout_unwatch(struct desk_remote_watch *w);

/* A caller connection here follows its session as a watch does (subscribed, and a join, so a
 * caller resuming here mid-turn gets the rest of the turn answered elsewhere), and turns
 * answered on other instances reach it through the engine.
 * Agents' actions across instances (docs/protocol.md "Takeover") reach it too: the instance that
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
