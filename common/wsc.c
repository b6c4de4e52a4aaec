/* Blocking WebSocket client over ws_frame.h; see wsc.h. Deadlines use poll() on a monotonic
 * clock; the socket is blocking once connected (a tool may wait on a slow reader). */
#include "common/wsc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ws_frame.h"

#define WSC_MESSAGE_MAX (64 * 1024 * 1024)

struct wsc {
    int fd;
    struct ws_frame_decoder dec;
    int close_code;
    bool closed;     /* no more frames will be read */
    bool close_sent; /* our close frame is out */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(long long deadline)
{
    long long left = deadline - now_ms();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Wait until `fd` is readable or `deadline`; then read once into buf. Bytes read (> 0),
 * PL_ETIMEDOUT, PL_ECLOSED (EOF) or PL_EIO. */
static ssize_t read_some(int fd, char *buf, size_t cap, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, ms_left(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return PL_EIO;
        if (r == 0)
            return PL_ETIMEDOUT;
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n == 0)
            return PL_ECLOSED;
        return n < 0 ? PL_EIO : n;
    }
}

/* ws://host[:port][/path]; host may be [v6]. 0 or -1. */
static int parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     const char **path)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5;
    const char *slash = strchr(h, '/');
    size_t hp_len = slash ? (size_t)(slash - h) : strlen(h);
    const char *host_start = h, *host_end, *after;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', hp_len);
        if (!rb)
            return -1;
        host_start = h + 1;
        host_end = rb;
        after = rb + 1;
    } else {
        const char *colon = memchr(h, ':', hp_len);
        host_end = colon ? colon : h + hp_len;
        after = host_end;
    }
    size_t hl = (size_t)(host_end - host_start);
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, host_start, hl);
    host[hl] = '\0';
    size_t rest = (size_t)(h + hp_len - after);
    if (rest == 0) {
        snprintf(port, portlen, "80");
    } else {
        if (after[0] != ':' || rest < 2 || rest - 1 >= portlen)
            return -1;
        for (size_t i = 1; i < rest; i++)
            if (after[i] < '0' || after[i] > '9')
                return -1;
        memcpy(port, after + 1, rest - 1);
        port[rest - 1] = '\0';
    }
    *path = slash ? slash : "/";
    return 0;
}

/* A connected TCP socket to host:port by `deadline`, or -1 with `err` set. */
static int tcp_connect(const char *host, const char *port, long long deadline, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, last = ECONNREFUSED;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r;
            while ((r = poll(&pfd, 1, ms_left(deadline))) < 0 && errno == EINTR)
                ;
            int soerr = ETIMEDOUT;
            socklen_t sl = sizeof(soerr);
            if (r > 0)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc != 0) {
            last = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(last));
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

struct wsc *wsc_connect(const char *url, const char *subprotocol, int timeout_ms, char *err,
                        size_t errlen)
{
    char host[256], port[16], hostport[300];
    const char *path;
    struct wsc *w = NULL;
    struct pl_buf req, resp;
    pl_buf_init(&req, 16384);
    pl_buf_init(&resp, WS_FRAME_RESPONSE_MAX + 65536);
    if (parse_url(url, host, sizeof(host), port, sizeof(port), &path)) {
        snprintf(err, errlen, "not a ws://HOST[:PORT][/PATH] URL: %s", url);
        goto out;
    }
    long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    int fd = tcp_connect(host, port, deadline, err, errlen);
    if (fd < 0)
        goto out;
    w = pl_calloc(1, sizeof(*w));
    w->fd = fd;
    ws_frame_decoder_init(&w->dec, WSC_MESSAGE_MAX);
    snprintf(hostport, sizeof(hostport), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    char key[WS_FRAME_KEY_LEN + 1];
    if (ws_frame_client_handshake(&req, hostport, path, subprotocol, key) != PL_OK) {
        snprintf(err, errlen, "cannot build a handshake for %s", url);
        goto fail;
    }
    if (write_all(fd, req.data, req.len)) {
        snprintf(err, errlen, "cannot send the handshake: %s", strerror(errno));
        goto fail;
    }
    for (;;) {
        char buf[4096];
        ssize_t n = read_some(fd, buf, sizeof(buf), deadline);
        if (n < 0) {
            snprintf(err, errlen, "%s waiting for the handshake answer from %s",
                     n == PL_ETIMEDOUT ? "timed out" : "connection lost", url);
            goto fail;
        }
        pl_buf_append(&resp, buf, (size_t)n);
        int rc = ws_frame_check_response(resp.data, resp.len, key, subprotocol, err, errlen);
        if (rc < 0)
            goto fail;
        if (rc > 0) { /* bytes after the header are already frames */
            ws_frame_decoder_feed(&w->dec, resp.data + rc, resp.len - (size_t)rc);
            goto out;
        }
    }
fail:
    close(w->fd);
    ws_frame_decoder_cleanup(&w->dec);
    pl_free(w);
    w = NULL;
out:
    pl_buf_cleanup(&req);
    pl_buf_cleanup(&resp);
    return w;
}

int wsc_send_frame(struct wsc *w, int opcode, bool fin, const void *data, size_t len)
{
    unsigned char mask[4];
    if (RAND_bytes(mask, sizeof(mask)) != 1)
        return -1;
    struct pl_buf f;
    pl_buf_init(&f, SIZE_MAX);
    ws_frame_encode(&f, opcode, fin, data, len, mask);
    int rc = write_all(w->fd, f.data, f.len);
    pl_buf_cleanup(&f);
    if (rc == 0 && opcode == WS_CLOSE)
        w->close_sent = true;
    return rc;
}

int wsc_send_text(struct wsc *w, const void *data, size_t len)
{
    return wsc_send_frame(w, WS_TEXT, true, data, len);
}

int wsc_close_code(const struct wsc *w)
{
    return w->close_code;
}

int wsc_recv(struct wsc *w, int timeout_ms, char **msg, size_t *len, int *opcode)
{
    long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    *msg = NULL;
    *len = 0;
    if (w->closed)
        return PL_ECLOSED;
    for (;;) {
        int op;
        const char *data;
        size_t n;
        int got = ws_frame_decoder_next(&w->dec, &op, &data, &n);
        if (got < 0) {
            w->closed = true;
            return got;
        }
        if (got == 1) {
            if (op == WS_CLOSE) {
                w->close_code =
                    n >= 2 ? ((unsigned char)data[0] << 8 | (unsigned char)data[1]) : 1005;
                w->closed = true;
                if (!w->close_sent) { /* echo the code, as RFC 6455 §5.5.1 suggests */
                    unsigned char echo[2] = {(unsigned char)(w->close_code >> 8),
                                             (unsigned char)w->close_code};
                    wsc_send_frame(w, WS_CLOSE, true, echo, n >= 2 ? 2 : 0);
                }
                return PL_ECLOSED;
            }
            if (op == WS_PING) {
                char copy[125]; /* the next send must not see a moved buffer */
                memcpy(copy, data, n);
                wsc_send_frame(w, WS_PONG, true, copy, n);
                continue;
            }
            if (op == WS_PONG)
                continue;
            *msg = pl_malloc(n + 1);
            memcpy(*msg, data, n);
            (*msg)[n] = '\0';
            *len = n;
            *opcode = op;
            return PL_OK;
        }
        char buf[65536];
        ssize_t r = read_some(w->fd, buf, sizeof(buf), deadline);
        if (r == PL_ETIMEDOUT)
            return PL_ETIMEDOUT;
        if (r < 0) {
            w->closed = true;
            return PL_ECLOSED;
        }
        if (ws_frame_decoder_feed(&w->dec, buf, (size_t)r) != PL_OK) {
            w->closed = true;
            return PL_ETOOBIG;
        }
    }
}

void wsc_close(struct wsc *w)
{
    if (!w)
        return;
    if (!w->close_sent && !w->closed) {
        static const unsigned char normal[2] = {0x03, 0xe8};
        wsc_send_frame(w, WS_CLOSE, true, normal, sizeof(normal));
    }
    close(w->fd);
    ws_frame_decoder_cleanup(&w->dec);
    pl_free(w);
}
