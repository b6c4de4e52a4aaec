/* Blocking WebSocket client; see wsc.h. */
#include "common/wsc.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ws_frame.h"

#define MESSAGE_MAX (64 * 1024 * 1024)

struct wsc {
    int fd;
    struct pl_buf in;  /* bytes received, not yet parsed */
    struct pl_buf msg; /* a fragmented message being assembled */
    int msg_opcode;
    int close_code;
    bool closed;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Read more bytes into w->in, waiting until `deadline`. PL_OK, PL_ETIMEDOUT or PL_ECLOSED. */
static int read_more(struct wsc *w, long long deadline)
{
    long long left = deadline - now_ms();
    if (left < 0)
        left = 0;
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)left);
    if (r == 0)
        return PL_ETIMEDOUT;
    if (r < 0)
        return errno == EINTR ? PL_OK : PL_EIO;
    char buf[65536];
    ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        w->closed = true;
        return PL_ECLOSED;
    }
    pl_buf_append(&w->in, buf, (size_t)n);
    return PL_OK;
}

static int parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     char *path, size_t pathlen)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5;
    const char *slash = strchr(h, '/');
    size_t hp_len = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hp_len);
    size_t hl = colon ? (size_t)(colon - h) : hp_len;
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (colon)
        snprintf(port, portlen, "%.*s", (int)(hp_len - hl - 1), colon + 1);
    else
        snprintf(port, portlen, "80");
    snprintf(path, pathlen, "%s", slash ? slash : "/");
    return 0;
}

struct wsc *wsc_connect(const char *url, const char *subprotocol, int timeout_ms, char *err,
                        size_t errlen)
{
    char host[256], port[16], path[1024];
    if (parse_url(url, host, sizeof(host), port, sizeof(port), path, sizeof(path))) {
        snprintf(err, errlen, "not a ws:// URL: %s", url);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(gai));
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    unsigned char raw[16];
    RAND_bytes(raw, sizeof(raw));
    char key[32], want[29];
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    ws_frame_accept_key(key, want);
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, host, port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    struct wsc *w = pl_calloc(1, sizeof(*w));
    w->fd = fd;
    pl_buf_init(&w->in, MESSAGE_MAX + 16);
    pl_buf_init(&w->msg, MESSAGE_MAX);
    if (write_all(fd, req, (size_t)n)) {
        snprintf(err, errlen, "cannot send the handshake");
        goto fail;
    }
    long long deadline = now_ms() + timeout_ms;
    char *end;
    while (!(w->in.data && (end = strstr(w->in.data, "\r\n\r\n")))) {
        if (read_more(w, deadline) != PL_OK) {
            snprintf(err, errlen, "no handshake answer from %s", url);
            goto fail;
        }
    }
    size_t head_len = (size_t)(end - w->in.data) + 4;
    char *head = pl_strndup(w->in.data, head_len);
    pl_buf_consume(&w->in, head_len);
    bool ok = strncmp(head, "HTTP/1.1 101", 12) == 0;
    char *acc = strcasestr(head, "\r\nSec-WebSocket-Accept:");
    if (ok) {
        acc += 23;
        while (*acc == ' ')
            acc++;
        ok = strncmp(acc, want, strlen(want)) == 0;
    }
    if (ok && subprotocol) {
        char *proto = strcasestr(head, "\r\nSec-WebSocket-Protocol:");
        ok = proto && strstr(proto, subprotocol) != NULL;
    }
    if (!ok) {
        char *line_end = strstr(head, "\r\n");
        snprintf(err, errlen, "handshake refused: %.*s", line_end ? (int)(line_end - head) : 40,
                 head);
        pl_free(head);
        goto fail;
    }
    pl_free(head);
    return w;
fail:
    close(fd);
    pl_buf_cleanup(&w->in);
    pl_buf_cleanup(&w->msg);
    pl_free(w);
    return NULL;
}

int wsc_send_frame(struct wsc *w, int opcode, bool fin, const void *data, size_t len)
{
    unsigned char mask[4];
    RAND_bytes(mask, sizeof(mask));
    struct pl_buf f;
    pl_buf_init(&f, SIZE_MAX);
    ws_frame_encode(&f, opcode, fin, data, len, mask);
    int rc = write_all(w->fd, f.data, f.len);
    pl_buf_cleanup(&f);
    return rc;
}

int wsc_send_text(struct wsc *w, const void *data, size_t len)
{
    return wsc_send_frame(w, 0x1, true, data, len);
}

int wsc_send_raw(struct wsc *w, const void *data, size_t len)
{
    return write_all(w->fd, data, len);
}

int wsc_close_code(const struct wsc *w)
{
    return w->close_code;
}

int wsc_recv(struct wsc *w, int timeout_ms, char **msg, size_t *len, int *opcode)
{
    long long deadline = now_ms() + timeout_ms;
    *msg = NULL;
    *len = 0;
    for (;;) {
        struct ws_frame f;
        int got;
        while ((got = ws_frame_decode(w->in.data, w->in.len, MESSAGE_MAX, &f)) == 1) {
            if (f.opcode == WS_CLOSE) {
                w->close_code =
                    f.len >= 2 ? ((unsigned char)f.payload[0] << 8 | (unsigned char)f.payload[1])
                               : 1005;
                pl_buf_consume(&w->in, f.total);
                if (!w->closed) {
                    wsc_send_frame(w, WS_CLOSE, true, NULL, 0);
                    w->closed = true;
                }
                return PL_ECLOSED;
            }
            if (f.opcode == WS_PING || f.opcode == WS_PONG) {
                size_t n = f.len;
                char *copy = pl_malloc(n + 1);
                memcpy(copy, f.payload, n);
                int op = f.opcode;
                pl_buf_consume(&w->in, f.total);
                if (op == WS_PING)
                    wsc_send_frame(w, WS_PONG, true, copy, n);
                pl_free(copy);
                continue;
            }
            if (f.opcode != WS_CONT)
                w->msg_opcode = f.opcode;
            if (pl_buf_append(&w->msg, f.payload, f.len) != PL_OK)
                return PL_EPROTO;
            bool fin = f.fin;
            pl_buf_consume(&w->in, f.total);
            if (fin) {
                *len = w->msg.len;
                *opcode = w->msg_opcode;
                *msg = w->msg.data ? pl_buf_take(&w->msg) : pl_strdup("");
                return PL_OK;
            }
        }
        if (got < 0)
            return PL_EPROTO;
        if (w->closed)
            return PL_ECLOSED;
        int rc = read_more(w, deadline);
        if (rc != PL_OK)
            return rc;
    }
}

void wsc_close(struct wsc *w)
{
    if (!w)
        return;
    if (!w->closed) {
        static const unsigned char normal[2] = {0x03, 0xe8};
        wsc_send_frame(w, 0x8, true, normal, sizeof(normal));
    }
    close(w->fd);
    pl_buf_cleanup(&w->in);
    pl_buf_cleanup(&w->msg);
    pl_free(w);
}
