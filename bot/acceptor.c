/* The listening socket and its limits; see acceptor.h. */
#include "bot/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bot/conn_limits.h"
#include "bot/trusted_proxies.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

struct acceptor_conn {
    struct acceptor *a;
    struct acceptor_conn *prev, *next;
    bool reserved;
    bool via_proxy;               /* from a trusted proxy: not counted per address */
    char peer[CONN_PEER_KEY_LEN]; /* conn_peer_key ("" for a unix socket) */
};

struct acceptor {
    uv_loop_t *loop;
    acceptor_adopt_fn adopt;
    void *ud;
    uint32_t max_per_address;
    const struct trusted_proxies *trusted_proxies;
    struct conn_cap cap;
    int fd;
    uv_poll_t poll;
    uv_timer_t pause; /* after running out of descriptors or memory */
    bool watching;
    bool paused;
    bool stopped;
    struct acceptor_conn *conns; /* open connections, newest first */
    struct conn_counts per_peer;
    struct acceptor_stats stats;
    struct conn_throttle log_errors, log_cap, log_per_address;
};

/* ---- watching the listening socket ---- */

/* " (N more since the last such line)" when a throttled warning was held back. */
static const char *missed_note(uint64_t missed, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (missed)
        snprintf(buf, cap, " (%llu more since the last such line)", (unsigned long long)missed);
    return buf;
}

static void on_readable(uv_poll_t *h, int status, int events);

/* Watch the listening socket exactly when a connection may be accepted now. */
static void update_watch(struct acceptor *a)
{
    bool want = !a->stopped && !a->paused && a->stats.open < a->cap.cap + CONN_HEALTH_RESERVE;
    if (want == a->watching)
        return;
    a->watching = want;
    if (want) {
        uv_poll_start(&a->poll, UV_READABLE, on_readable);
        return;
    }
    uv_poll_stop(&a->poll);
    if (a->stopped || a->paused)
        return;
    a->stats.paused_at_cap++;
    uint64_t missed;
    char note[64];
    if (conn_throttle_due(&a->log_cap, uv_now(a->loop), &missed))
        PL_LOG(PL_LOG_WARN, "accept",
               "connection cap reached (%u served, %u more kept for health checks): not "
               "accepting until one closes%s",
               a->cap.cap, CONN_HEALTH_RESERVE, missed_note(missed, note, sizeof(note)));
}

static void on_pause_end(uv_timer_t *t)
{
    struct acceptor *a = t->data;
    a->paused = false;
    update_watch(a);
}

/* accept() failed with `err`: give the process a moment (descriptors or memory may be freed as
 * connections close) instead of being woken at once for the same waiting connection. */
static void pause_after_error(struct acceptor *a, int err)
{
    a->stats.accept_errors++;
    a->paused = true;
    update_watch(a);
    uv_timer_start(&a->pause, on_pause_end, ACCEPTOR_PAUSE_MS, 0);
    uint64_t missed;
    char note[64];
    if (conn_throttle_due(&a->log_errors, uv_now(a->loop), &missed))
        PL_LOG(PL_LOG_WARN, "accept",
               "accept: %s (errno %d) with %u connections open; pausing accepts for %d ms "
               "(raise ulimit -n or lower --max-connections)%s",
               strerror(err), err, a->stats.open, ACCEPTOR_PAUSE_MS,
               missed_note(missed, note, sizeof(note)));
}

static void take(struct acceptor *a, int fd, const struct sockaddr *sa, socklen_t salen)
{
    char peer[CONN_PEER_KEY_LEN];
    conn_peer_key(sa, salen, peer);
    bool via_proxy = trusted_proxies_has(a->trusted_proxies, sa, salen);
    if (peer[0] && !via_proxy && !conn_counts_take(&a->per_peer, peer, a->max_per_address)) {
        close(fd);
        a->stats.refused_per_address++;
        uint64_t missed;
        char note[64];
        if (conn_throttle_due(&a->log_per_address, uv_now(a->loop), &missed))
            PL_LOG(PL_LOG_WARN, "accept",
                   "%s has %u connections open (--max-connections-per-address): closing its "
                   "new ones%s",
                   peer, a->max_per_address, missed_note(missed, note, sizeof(note)));
        return;
    }
    struct acceptor_conn *c = pl_calloc(1, sizeof(*c));
    c->a = a;
    c->reserved = a->stats.open >= a->cap.cap;
    c->via_proxy = via_proxy;
    memcpy(c->peer, peer, sizeof(peer));
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->stats.open++;
    a->stats.accepted++;
    if (a->adopt(a->ud, fd, c) != 0)
        acceptor_conn_closed(c);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct acceptor *a = h->data;
    if (status < 0) {
        pause_after_error(a, -status);
        return;
    }
    for (int i = 0; i < ACCEPTOR_BATCH && a->watching; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(a->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            take(a, fd, (struct sockaddr *)&ss, sl);
            update_watch(a); /* stops at the cap */
            continue;
        }
        switch (errno) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return;
        case EINTR:
        case ECONNABORTED: /* the client gave up while waiting: nothing to do */
        case EPROTO:
        case EPERM: /* refused by a firewall rule */
            continue;
        default: /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse */
            pause_after_error(a, errno);
            return;
        }
    }
}

/* ---- the connections ---- */

bool acceptor_conn_reserved(const struct acceptor_conn *c)
{
    return c && c->reserved;
}

const char *acceptor_conn_peer(const struct acceptor_conn *c)
{
    return c ? c->peer : "";
}

bool acceptor_conn_via_proxy(const struct acceptor_conn *c)
{
    return c && c->via_proxy;
}

void acceptor_conn_refused(struct acceptor_conn *c)
{
    c->a->stats.refused_capacity++;
}

void acceptor_conn_closed(struct acceptor_conn *c)
{
    struct acceptor *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->peer[0] && !c->via_proxy)
        conn_counts_put(&a->per_peer, c->peer);
    a->stats.open--;
    pl_free(c);
    update_watch(a);
}

void acceptor_stats(const struct acceptor *a, struct acceptor_stats *out)
{
    *out = a->stats;
    out->cap = a->cap.cap;
}

/* ---- start and stop ---- */

/* The descriptor limit, raised to the hard limit first: lws and this cap are sized from it. */
static uint64_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t before = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { /* an unlimited hard limit is not settable */
            rl.rlim_cur = before;
            PL_LOG(PL_LOG_WARN, "accept", "cannot raise the descriptor limit from %llu: %s",
                   (unsigned long long)before, strerror(errno));
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* The listening socket, or PL_EINVAL / PL_EIO (negative) with `err`. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(sun.sun_path)) {
        pl_errf(err, errlen, "invalid --listen \"unix:%s\" (empty or longer than %zu bytes)", path,
                sizeof(sun.sun_path) - 1);
        return PL_EINVAL;
    }
    memcpy(sun.sun_path, path, n);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* the abstract namespace, as lws had it */
    else
        unlink(path); /* a socket left by an earlier run */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        bind(fd, (struct sockaddr *)&sun,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) ||
        listen(fd, SOMAXCONN)) {
        pl_errf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return PL_EIO;
    }
    return fd;
}

static int listen_tcp(const char *listen_addr, char *err, size_t errlen)
{
    const char *colon = strrchr(listen_addr, ':');
    char host[256], port[8];
    if (!colon || (size_t)(colon - listen_addr) >= sizeof(host) || !colon[1] ||
        strlen(colon + 1) >= sizeof(port) || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strtoul(colon + 1, NULL, 10) > 65535) {
        pl_errf(err, errlen, "invalid --listen \"%s\" (expected HOST:PORT or unix:/path)",
                listen_addr);
        return PL_EINVAL;
    }
    const char *h = listen_addr;
    size_t hlen = (size_t)(colon - listen_addr);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') { /* [::1]:8080 */
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    /* An empty host is every IPv4 interface, as "0.0.0.0" (IPv6 only when asked: "[::]"). */
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (gai != 0) {
        pl_errf(err, errlen, "invalid --listen \"%s\": %s", listen_addr, gai_strerror(gai));
        return PL_EINVAL;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        pl_errf(err, errlen, "cannot listen on %s: %s", listen_addr, strerror(saved));
        return PL_EIO;
    }
    return fd;
}

int acceptor_start(const struct acceptor_opts *opts, struct acceptor **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    uint64_t nofile = raise_fd_limit();
    struct conn_cap cap;
    if (conn_cap_derive(nofile, opts->max_connections, &cap) != PL_OK) {
        pl_errf(err, errlen,
                "the descriptor limit (ulimit -n) is %llu; parleyd needs at least %d: raise it",
                (unsigned long long)nofile, CONN_FD_MIN);
        return PL_EINVAL;
    }
    if (cap.lowered)
        PL_LOG(PL_LOG_WARN, "accept",
               "--max-connections %u is more than the descriptor limit %llu allows; using %u "
               "(raise ulimit -n for more)",
               opts->max_connections, (unsigned long long)nofile, cap.cap);
    int fd = strncmp(opts->listen, "unix:", 5) == 0 ? listen_unix(opts->listen + 5, err, errlen)
                                                    : listen_tcp(opts->listen, err, errlen);
    if (fd < 0)
        return fd; /* PL_EINVAL or PL_EIO */
    struct acceptor *a = pl_calloc(1, sizeof(*a));
    a->loop = opts->loop;
    a->adopt = opts->adopt;
    a->ud = opts->ud;
    a->max_per_address = opts->max_per_address;
    a->trusted_proxies = opts->trusted_proxies;
    a->cap = cap;
    a->fd = fd;
    a->log_errors.interval_ms = a->log_cap.interval_ms = a->log_per_address.interval_ms =
        ACCEPTOR_LOG_INTERVAL_MS;
    conn_counts_init(&a->per_peer);
    uv_poll_init_socket(a->loop, &a->poll, fd);
    a->poll.data = a;
    uv_timer_init(a->loop, &a->pause);
    a->pause.data = a;
    update_watch(a);
    char per_address[48] = "no limit per address";
    if (a->max_per_address)
        snprintf(per_address, sizeof(per_address), "%u per address", a->max_per_address);
    PL_LOG(PL_LOG_INFO, "accept",
           "descriptor limit %llu: serving up to %u connections (+%d for health checks), %s",
           (unsigned long long)nofile, cap.cap, CONN_HEALTH_RESERVE, per_address);
    *out = a;
    return PL_OK;
}

void acceptor_stop(struct acceptor *a)
{
    if (!a || a->stopped)
        return;
    a->stopped = true;
    update_watch(a);
    uv_timer_stop(&a->pause);
    uv_close((uv_handle_t *)&a->poll, NULL);
    uv_close((uv_handle_t *)&a->pause, NULL);
    close(a->fd);
    a->fd = -1;
}

void acceptor_free(struct acceptor *a)
{
    if (!a)
        return;
    while (a->conns) {
        struct acceptor_conn *c = a->conns;
        a->conns = c->next;
        pl_free(c);
    }
    conn_counts_cleanup(&a->per_peer);
    pl_free(a);
}
