/* The small HTTP server of the test doubles; see fake_http.h. */
#include "tests/fakes/fake_http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"

#define REQUEST_MAX (8 * 1024 * 1024)

struct peer {
    struct fake_http *s;
    struct peer *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t delay;
    uv_write_t wr;
    struct pl_buf in, out;
    struct fake_http_req req;
    bool whole, answered, closing, tcp_closed;
    int closes; /* handles still open */
};

int64_t fake_http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    if (--p->closes > 0)
        return;
    pl_buf_cleanup(&p->in);
    pl_buf_cleanup(&p->out);
    pl_free(p);
}

/* Close both handles; a request still waiting for its answer keeps the peer until answered
 * (its handler may hold it), unless the server stops. */
static void peer_close(struct peer *p, bool stopping)
{
    if (!p->tcp_closed) {
        p->tcp_closed = true;
        p->req.client_gone = true;
        uv_close((uv_handle_t *)&p->tcp, on_handle_closed);
    }
    if (p->closing || (p->whole && !p->answered && !stopping))
        return;
    p->closing = true;
    if (p->prev)
        p->prev->next = p->next;
    else
        p->s->_peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    uv_close((uv_handle_t *)&p->delay, on_handle_closed);
}

bool fake_http_header(const struct fake_http_req *req, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(req->head, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
            const char *v = l + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r");
            snprintf(out, outlen, "%.*s", (int)vlen, v);
            return true;
        }
    }
    return false;
}

static void on_written(uv_write_t *wr, int status)
{
    (void)status;
    peer_close(wr->data, false);
}

static void send_out(struct peer *p)
{
    if (p->tcp_closed) {
        peer_close(p, false);
        return;
    }
    uv_buf_t out = uv_buf_init(p->out.data, (unsigned)p->out.len);
    p->wr.data = p;
    if (uv_write(&p->wr, (uv_stream_t *)&p->tcp, &out, 1, on_written) != 0)
        peer_close(p, false);
}

static void on_delay(uv_timer_t *t)
{
    send_out(t->data);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

void fake_http_reply(struct fake_http_req *req, int status, const char *headers, const char *body,
                     size_t len, uint32_t delay_ms)
{
    struct peer *p = req->_peer;
    if (p->answered)
        return;
    p->answered = true;
    pl_buf_printf(&p->out, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                  status, reason(status), headers ? headers : "", len);
    if (len)
        pl_buf_append(&p->out, body, len);
    if (delay_ms && !p->tcp_closed)
        uv_timer_start(&p->delay, on_delay, delay_ms, 0);
    else
        send_out(p);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    buf->base = pl_malloc(hint);
    buf->len = hint;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = st->data;
    if (p->whole) { /* the request is held: nothing more is read into it, only its end seen */
        pl_free(buf->base);
        if (n < 0)
            peer_close(p, false);
        return;
    }
    if (n > 0 && pl_buf_append(&p->in, buf->base, (size_t)n))
        n = UV_ENOBUFS;
    pl_free(buf->base);
    if (n < 0) {
        peer_close(p, false);
        return;
    }
    const char *end = p->in.data ? strstr(p->in.data, "\r\n\r\n") : NULL;
    if (!end)
        return;
    size_t head_len = (size_t)(end + 4 - p->in.data);
    p->req.head = p->in.data;
    char cl[32];
    size_t want = head_len;
    if (fake_http_header(&p->req, "Content-Length", cl, sizeof cl))
        want += strtoul(cl, NULL, 10);
    if (p->in.len < want)
        return;
    p->whole = true;
    /* The head and body are cut apart in place: the head's last CRLF keeps its CR. */
    p->in.data[head_len - 2] = '\0';
    p->req.body = p->in.data + head_len;
    p->req.body_len = want - head_len;
    p->in.data[want] = '\0';
    sscanf(p->in.data, "%15s %1023s", p->req.method, p->req.path);
    p->req.t_ms = fake_http_now_ms();
    p->s->_cb(p->s->_ud, &p->req);
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct fake_http *s = srv->data;
    if (status < 0)
        return;
    struct peer *p = pl_calloc(1, sizeof(*p));
    p->s = s;
    p->req._peer = p;
    pl_buf_init(&p->in, REQUEST_MAX);
    pl_buf_init(&p->out, REQUEST_MAX);
    uv_tcp_init(s->_loop, &p->tcp);
    uv_timer_init(s->_loop, &p->delay);
    p->tcp.data = p->delay.data = p;
    p->closes = 2;
    p->next = s->_peers;
    if (p->next)
        p->next->prev = p;
    s->_peers = p;
    if (uv_accept(srv, (uv_stream_t *)&p->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
        peer_close(p, true);
}

int fake_http_start(struct fake_http *s, uv_loop_t *loop, fake_http_handler_cb cb, void *ud)
{
    memset(s, 0, sizeof(*s));
    s->_cb = cb;
    s->_ud = ud;
    s->_loop = loop;
    uv_tcp_init(loop, &s->_server);
    s->_server.data = s;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    int rc = uv_tcp_bind(&s->_server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->_server, 64, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)&s->_server, NULL);
        return rc;
    }
    struct sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&s->_server, (struct sockaddr *)&name, &len);
    s->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return 0;
}

void fake_http_stop(struct fake_http *s)
{
    uv_close((uv_handle_t *)&s->_server, NULL);
    while (s->_peers)
        peer_close(s->_peers, true);
}
