/* One asynchronous Redis connection on the libuv loop: hiredis async with its libuv adapter,
 * plus what hiredis 0.14.1 lacks: connect and command deadlines on loop timers, and reconnection
 * with backoff. A connection is either a command connection or a subscriber connection (pub/sub:
 * Redis allows nothing but (UN)SUBSCRIBE on a connection once it subscribes). Internal to
 * sessions/: nothing outside this folder builds a Redis command. */
#ifndef PARLEY_SESSIONS_REDIS_CONN_H
#define PARLEY_SESSIONS_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

struct rconn;

/** A message published on a channel of a subscriber connection: `sub` is the value the channel
 *  was subscribed with; `data` is borrowed for the call. */
typedef void (*rconn_message_cb)(void *ud, void *sub, const char *data, size_t len);

struct rconn_opts {
    const char *url;             /* redis://[user:pass@]host:port/db or unix:///path[?db=N] */
    uint32_t connect_timeout_ms; /* default 2000 */
    uint32_t command_timeout_ms; /* default 3000: a reply later than this drops the connection */
    uint32_t reconnect_min_ms;   /* default 100 */
    uint32_t reconnect_max_ms;   /* default 5000 */
    /* Set: a subscriber connection. It sends only rconn_subscribe's and rconn_unsubscribe's
     * commands, and every message on a subscribed channel comes here. */
    rconn_message_cb on_message;
    void *message_ud;
};

/** Reply callback. `status` is PL_OK with a reply (which may be a Redis error reply, see
 *  rconn_reply_ok), or PL_EIO (connection lost), PL_ETIMEDOUT (no reply in time) or
 *  PL_ECANCELED (rconn destroyed) with `reply` NULL. `reply` is borrowed for the call. */
typedef void (*rconn_reply_cb)(void *ud, int status, redisReply *reply);

/** Called on every change between usable (up) and not. */
typedef void (*rconn_state_cb)(void *ud, bool up);

/** Parse the URL and start connecting in the background. PL_EINVAL with a message in `err`
 *  for a bad URL. Loop thread only. */
int rconn_create(uv_loop_t *loop, const struct rconn_opts *opts, rconn_state_cb on_state,
                 void *state_ud, struct rconn **out, char *err, size_t errlen);

/** Close the connection: pending commands complete with PL_ECANCELED (a command connection
 *  first writes what is queued and awaits its replies, for up to 2 s), no message is delivered
 *  any more; memory is released once the loop has closed the handles. A subscriber connection
 *  may be destroyed inside its message callback. Accepts NULL. */
void rconn_destroy(struct rconn *c);

/** True while connected (commands may be sent). */
bool rconn_is_up(const struct rconn *c);

/** Send a command given as an argument vector (binary safe). On success `cb` runs exactly once.
 *  Returns PL_EIO (and never calls `cb`) when the connection is down, PL_EINVAL on a subscriber
 *  connection. */
int rconn_command_argv(struct rconn *c, rconn_reply_cb cb, void *ud, int argc, const char **argv,
                       const size_t *argvlen);

/* A Lua script run by its SHA1 (EVALSHA): its text goes to Redis only when Redis has no cached
 * copy (after a restart or SCRIPT FLUSH), instead of with every call. */
struct rconn_script {
    const char *text; /* borrowed: outlives every call that uses it */
    char sha1[41];    /* lower-case hex */
};

/** Prepare `s` for `text`. */
void rconn_script_init(struct rconn_script *s, const char *text);

/** WAIT `replicas` `timeout_ms` on this connection: `cb` gets an integer reply, how many replicas
 *  confirmed every write sent on this connection so far, once that many did or after timeout_ms
 *  (> 0: WAIT 0 would block for ever). Redis holds the commands sent after it until it answers,
 *  so its deadline is timeout_ms longer than a command's, and theirs are no earlier. Otherwise as
 *  rconn_command_argv. */
int rconn_wait_replicas(struct rconn *c, unsigned replicas, uint32_t timeout_ms, rconn_reply_cb cb,
                        void *ud);

/** Run `script` with `argv` (numkeys, the keys, then the arguments, as after the script in
 *  EVAL; binary safe). The arguments are kept (copied) until the reply: a NOSCRIPT answer is
 *  handled here by sending them again as EVAL with the script's text, and `cb` sees only the
 *  final reply. Otherwise as rconn_command_argv. */
int rconn_eval(struct rconn *c, const struct rconn_script *script, rconn_reply_cb cb, void *ud,
               int argc, const char **argv, const size_t *argvlen);

/** Subscriber connections: deliver the messages of `channel` (a C string, copied) with `sub`
 *  (not NULL). Kept across reconnects: subscribed now if the connection is up, and again each
 *  time it comes up. The confirmation is awaited under the command deadline (a late one drops
 *  the connection, and the next subscribes again); waiting for messages has no deadline.
 *  PL_EINVAL if not a subscriber connection or `channel` is subscribed already. */
int rconn_subscribe(struct rconn *c, const char *channel, void *sub);

/** Stop delivering `channel`: on_message never sees it again once this returns (the UNSUBSCRIBE
 *  goes out if the connection is up). Returns its `sub`, or NULL if it was not subscribed. */
void *rconn_unsubscribe(struct rconn *c, const char *channel);

/** How many channels are subscribed. */
size_t rconn_subscriptions(const struct rconn *c);

/** True if `reply` is a successful (non-error) reply; logs the Redis error text otherwise. */
bool rconn_reply_ok(const redisReply *reply, const char *what);

#endif
