/* One-answer HTTP server for unit tests; see loopback_http.h. */
#include "loopback_http.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

struct peer {
    uv_tcp_t tcp;
    struct loopback_http *server;
    struct pl_buf in;
    bool answered;
    uv_write_t wr;
};

static void on_peer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    pl_buf_cleanup(&p->in);
    pl_free(p);
}

static void on_written(uv_write_t *wr, int status)
{
    (void)status;
    uv_close((uv_handle_t *)wr->handle, on_peer_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    buf->base = pl_malloc(hint);
    buf->len = hint;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = s->data;
    if (n > 0)
        pl_buf_append(&p->in, buf->base, (size_t)n);
    pl_free(buf->base);
    if (n < 0) {
        if (!p->answered)
            uv_close((uv_handle_t *)s, on_peer_closed);
        return;
    }
    const char *answer = p->server->answer;
    if (!p->answered && answer && p->in.data && strstr(p->in.data, p->server->until)) {
        p->answered = true;
        uv_read_stop(s);
        uv_buf_t out = uv_buf_init((char *)answer, strlen(answer));
        uv_write(&p->wr, s, &out, 1, on_written);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status != 0)
        return;
    struct peer *p = pl_calloc(1, sizeof(*p));
    p->server = srv->data;
    pl_buf_init(&p->in, 64 * 1024);
    uv_tcp_init(srv->loop, &p->tcp);
    p->tcp.data = p;
    if (uv_accept(srv, (uv_stream_t *)&p->tcp) != 0) {
        uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

int loopback_http_start(struct loopback_http *s, uv_loop_t *loop)
{
    uv_tcp_init(loop, &s->server);
    s->server.data = s;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&s->server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&s->server, 16, on_connection) != 0)
        return -1;
    struct sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&s->server, (struct sockaddr *)&name, &len);
    s->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return 0;
}

void loopback_http_close(struct loopback_http *s)
{
    uv_close((uv_handle_t *)&s->server, NULL);
}
