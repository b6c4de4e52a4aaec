/* The arithmetic of parleyd's connection limits, free of I/O so that it is unit-tested: the
 * connection cap derived from the descriptor limit (RLIMIT_NOFILE), the key under which a
 * client's connections are counted, counts of open connections per key (client address, session
 * id), and a throttle that keeps a repeated warning to one log line per interval. Used by the
 * acceptor (bot/acceptor.h) and the caller WebSocket (bot/chat.c). Loop thread only. */
#ifndef PARLEY_BOT_CONN_LIMITS_H
#define PARLEY_BOT_CONN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/map.h"

/* Descriptors kept for everything that is not a client connection: stdio, the loop's own
 * (epoll, signal pipe, async wakeups), lws's event pipe, the two Redis connections, curl's
 * internals and resolver, files read at start (prompts, later the knowledge base). */
#define CONN_FD_HEADROOM 64
/* Connections accepted past the cap to answer health, readiness and metrics requests (anything
 * else on them gets a 503 and the connection closes), so that a full server still tells its
 * load balancer it is alive. */
#define CONN_HEALTH_RESERVE 8
/* The smallest descriptor limit parleyd starts with: the headroom, the reserve and two
 * connections. */
#define CONN_FD_MIN (CONN_FD_HEADROOM + CONN_HEALTH_RESERVE + 2)

struct conn_cap {
    uint32_t cap;     /* connections served before the listening socket is paused */
    uint32_t ceiling; /* the most the descriptor limit allows */
    bool lowered;     /* a requested cap above the ceiling was lowered to it */
};

/**
 * The connection cap for descriptor limit `nofile` and --max-connections `requested` (0:
 * derived). Every connection may have one upstream request running (its session's answer), so
 * the derived cap is half of what the headroom and the reserve leave:
 * (nofile - CONN_FD_HEADROOM - CONN_HEALTH_RESERVE) / 2. A requested cap may use all of it (the
 * ceiling; an operator whose answers come from few upstream connections may), never more.
 * PL_EINVAL when `nofile` is below CONN_FD_MIN.
 */
int conn_cap_derive(uint64_t nofile, uint32_t requested, struct conn_cap *out);

#define CONN_PEER_KEY_LEN 64

/** The key under which connections from `sa` are counted, in `out` (CONN_PEER_KEY_LEN bytes):
 *  an IPv4 address as is ("192.0.2.7", also for an IPv4-mapped IPv6 address), an IPv6 address
 *  as its /64 prefix ("2001:db8:1:2::/64": one host or one network usually holds a whole /64),
 *  and "" for anything else (a unix socket: not counted). */
void conn_peer_key(const struct sockaddr *sa, socklen_t len, char *out);

/* Open connections per key. */
struct conn_counts {
    struct pl_map map; /* key -> count, stored in the pointer */
};

void conn_counts_init(struct conn_counts *c);
void conn_counts_cleanup(struct conn_counts *c);
/** Count one more connection for `key` unless it has `limit` already (0: no limit). True when
 *  counted. */
bool conn_counts_take(struct conn_counts *c, const char *key, uint32_t limit);
/** One connection of `key` (counted by conn_counts_take) closed. */
void conn_counts_put(struct conn_counts *c, const char *key);
/** Connections counted for `key`. */
uint32_t conn_counts_get(const struct conn_counts *c, const char *key);
/** Keys with at least one connection. */
size_t conn_counts_keys(const struct conn_counts *c);

/* One log line per interval for a warning that may repeat many times a second (an attacker
 * decides how often): the first occurrence is logged, the next ones within `interval_ms` are
 * counted and reported with the next line. */
struct conn_throttle {
    uint64_t interval_ms;
    uint64_t last_ms;
    bool logged_once;
    uint64_t missed; /* occurrences since the last line */
};

/** An occurrence at `now_ms`: true when it should be logged, with `*missed` the occurrences
 *  not logged since the last line. */
bool conn_throttle_due(struct conn_throttle *t, uint64_t now_ms, uint64_t *missed);

#endif
