/* The AWS credentials endpoints' double (fake_aws_metadata.h). */
#include "tests/fakes/fake_aws_metadata.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"

#define TOKEN_PATH "/latest/api/token"
#define ROLE_PATH  "/latest/meta-data/iam/security-credentials/"

struct peer {
    struct fake_aws_metadata *f;
    struct peer *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t delay;
    uv_write_t wr;
    struct pl_buf in, out;
    bool answered, closing;
    int closes; /* handles still open */
};

static struct peer *peers; /* of every double; tests run one at a time */

static void on_peer_handle_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    if (--p->closes > 0)
        return;
    p->f->_open_peers--;
    pl_buf_cleanup(&p->in);
    pl_buf_cleanup(&p->out);
    pl_free(p);
}

static void peer_close(struct peer *p)
{
    if (p->closing)
        return;
    p->closing = true;
    if (p->prev)
        p->prev->next = p->next;
    else
        peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    uv_close((uv_handle_t *)&p->tcp, on_peer_handle_closed);
    uv_close((uv_handle_t *)&p->delay, on_peer_handle_closed);
}

/* The value of header `name` in the request head, copied into out; false if absent. */
static bool header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r';
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

static void rfc3339_ms(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}

static void answer(struct peer *p, int status, const char *body)
{
    const char *reason = status == 200 ? "OK" : "Error";
    pl_buf_printf(&p->out,
                  "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n%s",
                  status, reason, strlen(body), body);
}

/* A GET of instance metadata: with a valid token, or none at all when PUTs are refused. */
static bool imds_authorized(struct peer *p, const char *head)
{
    struct fake_aws_metadata *f = p->f;
    char tok[128];
    if (!header(head, "X-aws-ec2-metadata-token", tok, sizeof tok)) {
        f->v1_gets++;
        return f->put_status != 0; /* IMDSv1 is open only where v2 is refused */
    }
    if (f->unauthorized_once) {
        f->unauthorized_once = false;
        f->_tokens_valid_from = f->_tokens_issued;
        return false;
    }
    unsigned n;
    return sscanf(tok, "imds-token-%u", &n) == 1 && n > f->_tokens_valid_from &&
           n <= f->_tokens_issued;
}

static void credentials_body(struct fake_aws_metadata *f, bool imds, struct pl_buf *b)
{
    char n[16] = "";
    f->issued++;
    if (!f->fixed_keys)
        snprintf(n, sizeof n, "%u", f->issued);
    pl_buf_printf(b, "{%s\"AccessKeyId\":\"%s%s\",\"SecretAccessKey\":\"%s%s\",\"Token\":\"%s%s\"",
                  imds ? "\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"," : "", f->key_prefix, n,
                  f->secret_prefix, n, f->token_prefix, n);
    if (f->expires_in_ms >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        char when[48];
        rfc3339_ms(now + f->expires_in_ms, when, sizeof when);
        pl_buf_printf(b, ",\"Expiration\":\"%s\"", when);
    }
    if (f->pad_bytes) {
        pl_buf_append_str(b, ",\"Padding\":\"");
        for (size_t i = 0; i < f->pad_bytes; i++)
            pl_buf_append(b, "x", 1);
        pl_buf_append_str(b, "\"");
    }
    pl_buf_append_str(b, "}");
}

static void handle(struct peer *p, const char *head)
{
    struct fake_aws_metadata *f = p->f;
    char method[16] = "", path[1024] = "";
    sscanf(head, "%15s %1023s", method, path);
    struct pl_buf body;
    pl_buf_init(&body, 1024 * 1024);
    int status = 200;
    if (strcmp(method, "PUT") == 0 && strcmp(path, TOKEN_PATH) == 0) {
        char ttl[32];
        f->puts++;
        if (!header(head, "X-aws-ec2-metadata-token-ttl-seconds", ttl, sizeof ttl) ||
            strcmp(ttl, "21600") != 0) {
            status = 400;
            f->rejected++;
        } else if (f->put_status) {
            status = f->put_status;
        } else {
            pl_buf_printf(&body, "imds-token-%u", ++f->_tokens_issued);
        }
    } else if (strcmp(method, "GET") == 0 && strncmp(path, ROLE_PATH, strlen(ROLE_PATH)) == 0) {
        bool role_list = path[strlen(ROLE_PATH)] == '\0';
        if (role_list)
            f->role_gets++;
        else
            f->creds_gets++;
        if (!imds_authorized(p, head)) {
            status = 401;
            f->rejected++;
        } else if (role_list) {
            pl_buf_append_str(&body, FAKE_AWS_ROLE "\n");
        } else if (strcmp(path + strlen(ROLE_PATH), FAKE_AWS_ROLE) != 0) {
            status = 404;
        } else if (f->creds_status) {
            status = f->creds_status;
        } else {
            credentials_body(f, true, &body);
        }
    } else if (strcmp(method, "GET") == 0 && strncmp(path, "/container", 10) == 0) {
        char auth[512] = "";
        bool has = header(head, "Authorization", auth, sizeof auth);
        f->container_gets++;
        snprintf(f->last_authorization, sizeof f->last_authorization, "%s", auth);
        if (f->container_auth && (!has || strcmp(auth, f->container_auth) != 0)) {
            status = 401;
            f->rejected++;
        } else if (f->creds_status) {
            status = f->creds_status;
        } else {
            credentials_body(f, false, &body);
        }
    } else {
        status = 404;
    }
    answer(p, status, body.data ? body.data : "");
    pl_buf_cleanup(&body);
}

static void on_written(uv_write_t *wr, int status)
{
    (void)status;
    peer_close(wr->data);
}

static void send_answer(struct peer *p)
{
    uv_buf_t out = uv_buf_init(p->out.data, (unsigned)p->out.len);
    p->wr.data = p;
    if (uv_write(&p->wr, (uv_stream_t *)&p->tcp, &out, 1, on_written) != 0)
        peer_close(p);
}

static void on_delay(uv_timer_t *t)
{
    send_answer(t->data);
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
    if (n > 0 && pl_buf_append(&p->in, buf->base, (size_t)n))
        n = UV_ENOBUFS;
    pl_free(buf->base);
    if (n < 0) {
        peer_close(p);
        return;
    }
    const char *end = p->in.data ? strstr(p->in.data, "\r\n\r\n") : NULL;
    if (p->answered || !end)
        return;
    char cl[32];
    size_t want = (size_t)(end + 4 - p->in.data);
    if (header(p->in.data, "Content-Length", cl, sizeof cl))
        want += strtoul(cl, NULL, 10);
    if (p->in.len < want)
        return;
    p->answered = true;
    uv_read_stop(s);
    handle(p, p->in.data);
    if (p->f->delay_ms)
        uv_timer_start(&p->delay, on_delay, p->f->delay_ms, 0);
    else
        send_answer(p);
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct fake_aws_metadata *f = srv->data;
    if (status < 0)
        return;
    struct peer *p = pl_calloc(1, sizeof(*p));
    p->f = f;
    pl_buf_init(&p->in, 64 * 1024);
    pl_buf_init(&p->out, 1024 * 1024 + 4096);
    uv_tcp_init(f->_loop, &p->tcp);
    uv_timer_init(f->_loop, &p->delay);
    p->tcp.data = p->delay.data = p;
    p->closes = 2;
    f->_open_peers++;
    p->next = peers;
    if (peers)
        peers->prev = p;
    peers = p;
    if (uv_accept(srv, (uv_stream_t *)&p->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
        peer_close(p);
}

int fake_aws_metadata_start(struct fake_aws_metadata *f, uv_loop_t *loop)
{
    return fake_aws_metadata_start_on(f, loop, 0);
}

int fake_aws_metadata_start_on(struct fake_aws_metadata *f, uv_loop_t *loop, int port)
{
    memset(f, 0, sizeof(*f));
    f->key_prefix = "AKID";
    f->secret_prefix = "SECRET";
    f->token_prefix = "TOKEN";
    f->expires_in_ms = 3600 * 1000;
    f->_loop = loop;
    uv_tcp_init(loop, &f->_server);
    f->_server.data = f;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    int rc = uv_tcp_bind(&f->_server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&f->_server, 64, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)&f->_server, NULL);
        return rc;
    }
    struct sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&f->_server, (struct sockaddr *)&name, &len);
    f->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return 0;
}

void fake_aws_metadata_stop(struct fake_aws_metadata *f)
{
    f->_stopping = true;
    uv_close((uv_handle_t *)&f->_server, NULL);
    while (peers)
        peer_close(peers);
}
