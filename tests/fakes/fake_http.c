/* The HTTP server of the test doubles; see fake_http.h. */
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
    char *storage; /* the held request: head, body, target, path */
    char *lines;   /* its header lines, cut in place */
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
    pl_free(p->storage);
    pl_free(p->lines);
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

const char *fake_http_header_value(const struct fake_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

bool fake_http_header(const struct fake_http_req *req, const char *name, char *out, size_t outlen)
{
    const char *v = fake_http_header_value(req, name);
    if (v)
        snprintf(out, outlen, "%s", v);
    return v != NULL;
}

static void dispatch(struct peer *p);

static void on_written(uv_write_t *wr, int status)
{
    struct peer *p = wr->data;
    if (!p->s->_opt.keep_alive || status < 0 || p->tcp_closed) {
        peer_close(p, false);
        return;
    }
    /* Kept alive: the request is done; the next one (perhaps already read) may start. */
    pl_buf_reset(&p->out);
    pl_free(p->storage);
    pl_free(p->lines);
    p->storage = p->lines = NULL;
    p->whole = p->answered = false;
    dispatch(p);
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

const char *fake_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

void fake_http_send(struct fake_http_req *req, const char *bytes, size_t len, uint32_t delay_ms)
{
    struct peer *p = req->_peer;
    if (p->answered)
        return;
    p->answered = true;
    if (len)
        pl_buf_append(&p->out, bytes, len);
    if (delay_ms && !p->tcp_closed)
        uv_timer_start(&p->delay, on_delay, delay_ms, 0);
    else
        send_out(p);
}

void fake_http_reply_reason(struct fake_http_req *req, int status, const char *reason,
                            const char *headers, const char *body, size_t len, uint32_t delay_ms)
{
    struct peer *p = req->_peer;
    if (p->answered)
        return;
    struct pl_buf b;
    pl_buf_init(&b, p->out.max);
    pl_buf_printf(&b, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n%s\r\n", status, reason,
                  headers ? headers : "", len,
                  p->s->_opt.keep_alive ? "" : "Connection: close\r\n");
    if (len)
        pl_buf_append(&b, body, len);
    fake_http_send(req, b.data, b.len, delay_ms);
    pl_buf_cleanup(&b);
}

void fake_http_reply(struct fake_http_req *req, int status, const char *headers, const char *body,
                     size_t len, uint32_t delay_ms)
{
    fake_http_reply_reason(req, status, fake_http_reason(status), headers, body, len, delay_ms);
}

/* Header lines of `head` (cut in place) into the request's table: names lower-cased, values
 * without surrounding blanks; a line without a colon is passed over. */
static void parse_headers(struct fake_http_req *req, char *head)
{
    req->n_headers = 0;
    for (char *line = strstr(head, "\r\n"); line && req->n_headers < FAKE_HTTP_HEADERS_MAX;) {
        char *l = line + 2, *eol = strstr(l, "\r\n");
        if (!eol || eol == l)
            break;
        *eol = '\0';
        line = eol;
        char *colon = strchr(l, ':');
        if (!colon)
            continue;
        *colon = '\0';
        for (char *c = l; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        req->headers[req->n_headers++] = (struct fake_http_header){l, v};
    }
}

/* Take the first request of `in` when it is whole. It is copied out (head and body, target and
 * path; the header lines into a second copy cut in place) so that reading on cannot move it. */
static bool take_request(struct peer *p)
{
    const char *in = p->in.data;
    const char *end = in ? memmem(in, p->in.len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return false;
    size_t head_len = (size_t)(end + 4 - in);
    struct fake_http_req *r = &p->req;
    char *lines = pl_strndup(in, head_len);
    parse_headers(r, lines);
    const char *cl = fake_http_header_value(r, "content-length");
    size_t body_len = cl ? strtoul(cl, NULL, 10) : 0;
    if (p->in.len - head_len < body_len) {
        pl_free(lines);
        return false;
    }
    size_t mlen = strcspn(in, " \r");
    const char *t = in + mlen + strspn(in + mlen, " ");
    size_t tlen = strcspn(t, " \r"), plen = strcspn(t, "? \r");
    /* head (less its last CRLF) NUL body NUL target NUL path NUL */
    char *head = pl_malloc(head_len + body_len + tlen + plen + 2);
    char *body = head + head_len - 1, *target = body + body_len + 1, *path = target + tlen + 1;
    memcpy(head, in, head_len - 2);
    head[head_len - 2] = '\0';
    memcpy(body, in + head_len, body_len);
    body[body_len] = '\0';
    memcpy(target, t, tlen);
    target[tlen] = '\0';
    memcpy(path, t, plen);
    path[plen] = '\0';
    snprintf(r->method, sizeof r->method, "%.*s", (int)mlen, in);
    p->storage = head;
    p->lines = lines;
    r->head = head;
    r->body = body;
    r->body_len = body_len;
    r->target = target;
    r->path = path;
    r->query = target[plen] == '?' ? target + plen + 1 : NULL;
    r->t_ms = fake_http_now_ms();
    r->client_gone = false;
    pl_buf_consume(&p->in, head_len + body_len);
    return true;
}

/* Hand the next whole request to the handler, one at a time per connection. */
static void dispatch(struct peer *p)
{
    if (p->whole || p->tcp_closed || !take_request(p))
        return;
    p->whole = true;
    p->s->_cb(p->s->_ud, &p->req);
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
    /* Once a request is held, one-request connections only watch for their end. */
    bool keep = p->s->_opt.keep_alive || !p->whole;
    if (n > 0 && keep && pl_buf_append(&p->in, buf->base, (size_t)n))
        n = UV_ENOBUFS;
    pl_free(buf->base);
    if (n < 0) {
        peer_close(p, false);
        return;
    }
    dispatch(p);
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct fake_http *s = srv->data;
    if (status < 0)
        return;
    struct peer *p = pl_calloc(1, sizeof(*p));
    p->s = s;
    p->req._peer = p;
    pl_buf_init(&p->in, s->_opt.request_max);
    pl_buf_init(&p->out, s->_opt.request_max + 64 * 1024);
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

int fake_http_listen(struct fake_http *s, uv_loop_t *loop, const struct fake_http_options *opt,
                     fake_http_handler_cb cb, void *ud)
{
    memset(s, 0, sizeof(*s));
    if (opt)
        s->_opt = *opt;
    if (!s->_opt.host)
        s->_opt.host = "127.0.0.1";
    if (!s->_opt.request_max)
        s->_opt.request_max = REQUEST_MAX;
    s->_cb = cb;
    s->_ud = ud;
    s->_loop = loop;
    uv_tcp_init(loop, &s->_server);
    s->_server.data = s;
    struct sockaddr_in addr;
    int rc = uv_ip4_addr(s->_opt.host, s->_opt.port, &addr);
    if (!rc)
        rc = uv_tcp_bind(&s->_server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->_server, 128, on_connection);
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

int fake_http_start(struct fake_http *s, uv_loop_t *loop, fake_http_handler_cb cb, void *ud)
{
    return fake_http_listen(s, loop, NULL, cb, ud);
}

void fake_http_stop(struct fake_http *s)
{
    uv_close((uv_handle_t *)&s->_server, NULL);
    while (s->_peers)
        peer_close(s->_peers, true);
}

int fake_http_write_ready(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}
