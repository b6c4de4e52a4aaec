/* parleyd's listening socket (--listen: HOST:PORT or unix:/path), watched with a uv_poll_t on
 * the one loop. Each accepted connection is handed to a callback (ws_server_adopt: lws takes it
 * from there) and counted until it closes, so that:
 *  - at most `cap` connections are served (conn_limits.h derives it from RLIMIT_NOFILE); past
 *    it, CONN_HEALTH_RESERVE more are accepted for health checks only (the adopter refuses
 *    anything else on them); with those taken the listening socket is not watched at all until a
 *    connection closes, and waiting clients stay in the kernel's backlog;
 *  - a client address (IPv6: its /64) has at most `max_per_address` open; one more is closed at
 *    once (a trusted proxy's connections are not counted: they carry many clients);
 *  - running out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting for
 *    ACCEPTOR_PAUSE_MS instead of retrying at once (a busy loop), and is logged once per
 *    ACCEPTOR_LOG_INTERVAL_MS with a count.
 * Loop thread only. */
#ifndef PARLEY_BOT_ACCEPTOR_H
#define PARLEY_BOT_ACCEPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define ACCEPTOR_PAUSE_MS        250
#define ACCEPTOR_LOG_INTERVAL_MS 10000
#define ACCEPTOR_BATCH           64 /* accepts per wake-up, so that other work runs between */

struct acceptor;
struct trusted_proxies;
/* One accepted connection, from the adopter's callback until acceptor_conn_closed. */
struct acceptor_conn;

/** Take over accepted socket `fd` (non-blocking, close-on-exec) for `conn`. 0: taken; the
 *  adopter calls acceptor_conn_closed(conn) once the socket is closed. -1: refused, `fd` closed,
 *  and acceptor_conn_closed must not be called. */
typedef int (*acceptor_adopt_fn)(void *ud, int fd, struct acceptor_conn *conn);

struct acceptor_opts {
    uv_loop_t *loop;
    const char *listen;       /* HOST:PORT ("[v6]:PORT", "0.0.0.0:PORT") or unix:/path */
    uint32_t max_connections; /* 0: derived from the descriptor limit */
    uint32_t max_per_address; /* 0: no limit */
    /* Load balancers and proxies (bot/trusted_proxies.h; NULL: none): their connections carry
     * many clients, so they are not counted per address. Borrowed for the acceptor's life. */
    const struct trusted_proxies *trusted_proxies;
    acceptor_adopt_fn adopt;
    void *ud;
};

struct acceptor_stats {
    uint32_t open;             /* accepted connections not yet closed */
    uint32_t cap;              /* connections served before the health reserve */
    uint64_t accepted;         /* connections accepted */
    uint64_t refused_capacity; /* accepted into the reserve and refused (acceptor_conn_refused) */
    uint64_t refused_per_address; /* closed at once: their address had max_per_address open */
    uint64_t paused_at_cap;       /* times the listening socket stopped being watched at the cap */
    uint64_t accept_errors;       /* accept() failures other than "no one waiting" */
};

/**
 * Raise the soft descriptor limit to the hard one, derive the cap, open and watch the listening
 * socket. Call it before lws_create_context (lws sizes its descriptor table from the limit).
 * PL_EINVAL (bad address, descriptor limit too low) or PL_EIO (cannot listen) with `err`.
 */
int acceptor_start(const struct acceptor_opts *opts, struct acceptor **out, char *err,
                   size_t errlen);
/** Stop accepting: close the listening socket and the acceptor's handles (they finish closing as
 *  the loop runs). Connections stay counted until they close. Idempotent; accepts NULL. */
void acceptor_stop(struct acceptor *a);
/** Free after acceptor_stop, once the loop has run its handles' close callbacks and nothing
 *  will call acceptor_conn_closed any more (lws is freed). Accepts NULL. */
void acceptor_free(struct acceptor *a);

/** The connection was accepted past the cap: only health, readiness and metrics requests are
 *  answered on it. False for NULL. */
bool acceptor_conn_reserved(const struct acceptor_conn *c);
/** The key the connection is counted under per client address (conn_peer_key: "192.0.2.7",
 *  "2001:db8:1:2::/64"; "" for a unix socket), for other per-address limits to count by; ""
 *  for NULL. Valid until acceptor_conn_closed. */
const char *acceptor_conn_peer(const struct acceptor_conn *c);
/** The connection comes from a trusted proxy: its requests name their client in
 *  X-Forwarded-For. False for NULL. */
bool acceptor_conn_via_proxy(const struct acceptor_conn *c);
/** Count a request refused on a reserved connection (the adopter answers 503 and closes). */
void acceptor_conn_refused(struct acceptor_conn *c);
/** The connection's socket is closed: it no longer counts, and accepting resumes if it was
 *  paused at the cap. */
void acceptor_conn_closed(struct acceptor_conn *c);

void acceptor_stats(const struct acceptor *a, struct acceptor_stats *out);

#endif
