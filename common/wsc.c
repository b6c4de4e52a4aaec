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
#include <openssl/sha.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"

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

static void accept_key(const char *key, char out[64])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[128];
    snprintf(cat, sizeof(cat), "%s%s", key, guid);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
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
    char key[32], want[64];
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    accept_key(key, want);
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
    unsigned char *f = pl_malloc(len + 14);
    size_t h = 0;
    f[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char mask[4];
    RAND_bytes(mask, 4);
    memcpy(f + h, mask, 4);
    h += 4;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        f[h + i] = p[i] ^ mask[i & 3];
    int rc = write_all(w->fd, f, h + len);
    pl_free(f);
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

/* Parse one frame from w->in if complete: 1 = a frame (fields set), 0 = need more bytes. */
static int next_frame(struct wsc *w, int *opcode, bool *fin, char **payload, size_t *plen,
                      size_t *total)
{
    const unsigned char *b = (const unsigned char *)w->in.data;
    size_t have = w->in.len;
    if (have < 2)
        return 0;
    size_t h = 2;
    uint64_t len = b[1] & 0x7f;
    bool masked = b[1] & 0x80;
    if (len == 126) {
        if (have < 4)
            return 0;
        len = (uint64_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (have < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        h = 10;
    }
    if (masked)
        h += 4;
    if (have < h + len)
        return 0;
    *opcode = b[0] & 0x0f;
    *fin = b[0] & 0x80;
    *payload = w->in.data + h;
    *plen = (size_t)len;
    *total = h + (size_t)len;
    return 1;
}

int wsc_recv(struct wsc *w, int timeout_ms, char **msg, size_t *len, int *opcode)
{
    long long deadline = now_ms() + timeout_ms;
    *msg = NULL;
    *len = 0;
    for (;;) {
        int op;
        bool fin;
        char *payload;
        size_t plen, total;
        while (next_frame(w, &op, &fin, &payload, &plen, &total)) {
            if (op == 0x8) {
                w->close_code =
                    plen >= 2 ? ((unsigned char)payload[0] << 8 | (unsigned char)payload[1]) : 1005;
                pl_buf_consume(&w->in, total);
                if (!w->closed) {
                    wsc_send_frame(w, 0x8, true, NULL, 0);
                    w->closed = true;
                }
                return PL_ECLOSED;
            }
            if (op == 0x9) {
                char *copy = pl_malloc(plen + 1);
                memcpy(copy, payload, plen);
                pl_buf_consume(&w->in, total);
                wsc_send_frame(w, 0xA, true, copy, plen);
                pl_free(copy);
                continue;
            }
            if (op == 0xA) {
                pl_buf_consume(&w->in, total);
                continue;
            }
            if (op != 0x0)
                w->msg_opcode = op;
            if (pl_buf_append(&w->msg, payload, plen) != PL_OK)
                return PL_EPROTO;
            pl_buf_consume(&w->in, total);
            if (fin) {
                if (!w->msg.data)
                    pl_buf_append(&w->msg, "", 0);
                *len = w->msg.len;
                *opcode = w->msg_opcode;
                *msg = w->msg.data ? pl_buf_take(&w->msg) : pl_strdup("");
                return PL_OK;
            }
        }
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
