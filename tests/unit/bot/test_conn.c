/* The connection's state machine (bot/conn.c) over a fake transport: whatever way the bytes are
 * split, pipelined requests are answered in order on one connection, a smuggling attempt gets
 * exactly one 400 and the connection ends, frames sent behind a WebSocket handshake are read,
 * and a client's close is answered. No sockets: the fake transport records what is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bot/conn.h"
#include "bot/http_server.h"
#include "bot/origin.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"

static struct {
    struct pl_buf out;
    bool want_writable;
    bool shut;
    bool closed;
    struct conn *c;
} fake;

static int t_write(void *h, const unsigned char *d, size_t n)
{
    (void)h;
    pl_buf_append(&fake.out, d, n);
    return 0;
}

static bool t_pending(void *h)
{
    (void)h;
    return false;
}

static void t_want_writable(void *h)
{
    (void)h;
    fake.want_writable = true;
}

static void t_pause_rx(void *h, bool pause)
{
    (void)h;
    (void)pause;
}

static void t_shutdown_write(void *h)
{
    (void)h;
    fake.shut = true;
}

static void t_close(void *h)
{
    (void)h;
    fake.closed = true;
    conn_on_closed(fake.c);
    fake.c = NULL;
}

static const struct conn_transport transport = {t_write,    t_pending,        t_want_writable,
                                                t_pause_rx, t_shutdown_write, t_close};

static uv_loop_t loop;
static struct bot_config cfg;
static struct bot_server srv;

/* Answers "METHOD PATH BODY". */
static void echo_dispatch(struct http_server_req *r)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "%s %s %.*s", r->method, r->path, (int)r->body.len,
                     r->body.data ? r->body.data : "");
    http_server_reply(r, 200, "text/plain", body, (size_t)n);
}

/* A WebSocket protocol that takes every message and sends nothing: the connection's own frames
 * (pong, close) are what these tests look at. */
static int app_state;
static void *app_open(struct bot_server *s, struct conn *c)
{
    (void)s;
    (void)c;
    return &app_state;
}
static int app_receive(void *app, const void *data, size_t len, bool first, bool final, bool binary)
{
    (void)app, (void)data, (void)len, (void)first, (void) final, (void)binary;
    return 0;
}
static int app_writeable(void *app)
{
    (void)app;
    return 0;
}
static void app_closed(void *app)
{
    (void)app;
}
static const struct ws_endpoint app_endpoint = {"/v1/chat",  "parley.chat.v1", app_open,
                                                app_receive, app_writeable,    app_closed};
static const struct ws_endpoint *const endpoints[] = {&app_endpoint};

static int setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_header_bytes = 16384;
    cfg.request_timeout_ms = 20000;
    cfg.ping_interval_s = 30;
    cfg.max_control_frames = 20;
    cfg.send_queue_bytes = 1 << 20;
    cfg.max_frame_bytes = 65536;
    memset(&srv, 0, sizeof(srv));
    srv.loop = &loop;
    srv.cfg = &cfg;
    srv.http_dispatch = echo_dispatch;
    srv.ws_endpoints = endpoints;
    srv.ws_endpoint_count = 1;
    char err[128];
    return origin_list_parse("https://ok.example", &srv.origins, err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    origin_list_free(srv.origins);
    uv_run(&loop, UV_RUN_NOWAIT);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

static void open_conn(void)
{
    pl_buf_init(&fake.out, 1 << 20);
    fake.want_writable = fake.shut = fake.closed = false;
    fake.c = conn_open(&srv, &transport, &fake, "10.0.0.1");
    assert_string_equal(conn_peer(fake.c), "10.0.0.1");
}

/* What the transport would do: writable calls while they are asked for. */
static void drive(void)
{
    while (fake.c && fake.want_writable) {
        fake.want_writable = false;
        assert_int_equal(conn_on_writable(fake.c), 0);
    }
}

static void feed(const char *data, size_t len)
{
    char *copy = pl_malloc(len + 1);
    memcpy(copy, data, len);
    assert_int_equal(conn_on_data(fake.c, copy, len), 0);
    pl_free(copy);
    drive();
}

/* The peer went: the connection is freed (its timer closes as the loop runs). */
static char *close_conn(void)
{
    if (fake.c)
        conn_on_closed(fake.c);
    fake.c = NULL;
    uv_run(&loop, UV_RUN_NOWAIT);
    return pl_buf_take(&fake.out);
}

/* Feed `in` split at `cut`; returns everything written. */
static char *run_split(const char *in, size_t len, size_t cut, bool *shut)
{
    open_conn();
    feed(in, cut);
    if (cut < len)
        feed(in + cut, len - cut);
    *shut = fake.shut;
    return close_conn();
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_pipelined_requests_at_every_split(void **state)
{
    (void)state;
    const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                      "\r\nGET /c?q=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    bool shut;
    char *whole = run_split(in, sizeof(in) - 1, sizeof(in) - 1, &shut);
    assert_false(shut);
    assert_int_equal(count(whole, "HTTP/1.1 200 OK\r\n"), 3);
    const char *a = strstr(whole, "GET /a ");
    const char *b = strstr(whole, "POST /b xyz");
    const char *c = strstr(whole, "GET /c ");
    assert_true(a && b && c && a < b && b < c);
    for (size_t cut = 0; cut < sizeof(in) - 1; cut++) {
        char *got = run_split(in, sizeof(in) - 1, cut, &shut);
        assert_string_equal(got, whole);
        assert_false(shut);
        pl_free(got);
    }
    pl_free(whole);
}

static void test_smuggling_gets_one_400_at_every_split(void **state)
{
    (void)state;
    const char in[] = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 39\r\n"
                      "\r\nxyzGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    for (size_t cut = 0; cut <= sizeof(in) - 1; cut++) {
        bool shut;
        char *got = run_split(in, sizeof(in) - 1, cut, &shut);
        assert_int_equal(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
        assert_int_equal(count(got, "HTTP/1.1 "), 1);
        assert_null(strstr(got, "smuggled"));
        assert_non_null(strstr(got, "\r\nconnection: close\r\n"));
        assert_true(shut); /* FIN after the answer */
        pl_free(got);
    }
}

static void test_foreign_origin_is_403_and_allowed_gets_cors(void **state)
{
    (void)state;
    const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\r\n"
                      "GET /b HTTP/1.1\r\nHost: h\r\nOrigin: https://ok.example\r\n\r\n";
    bool shut;
    char *got = run_split(in, sizeof(in) - 1, sizeof(in) - 1, &shut);
    assert_int_equal(strncmp(got, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
    const char *second = strstr(got + 1, "HTTP/1.1 200 OK\r\n");
    assert_non_null(second);
    assert_non_null(strstr(second, "access-control-allow-origin: https://ok.example\r\n"));
    assert_null(strstr(got, "access-control-allow-origin: https://evil.example"));
    pl_free(got);
}

static void test_frames_behind_the_handshake_and_close(void **state)
{
    (void)state;
    const char hs[] = "GET /v1/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n\r\n";
    struct pl_buf in;
    pl_buf_init(&in, 4096);
    pl_buf_append(&in, hs, sizeof(hs) - 1);
    static const unsigned char mask[4] = {9, 8, 7, 6};
    ws_frame_encode(&in, WS_PING, true, "hi", 2, mask);
    ws_frame_encode(&in, WS_CLOSE, true, "\x03\xe8", 2, mask);
    for (size_t cut = 0; cut <= in.len; cut++) {
        bool shut;
        char *got = run_split(in.data, in.len, cut, &shut);
        const char *end = strstr(got, "\r\n\r\n");
        assert_int_equal(strncmp(got, "HTTP/1.1 101 Switching Protocols\r\n", 34), 0);
        assert_non_null(strstr(got, "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        /* a pong with the ping's payload, then the close answered with its code */
        assert_memory_equal(end + 4, "\x8a\x02hi\x88\x02\x03\xe8", 8);
        assert_true(shut);
        pl_free(got);
    }
    pl_buf_cleanup(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_requests_at_every_split),
        cmocka_unit_test(test_smuggling_gets_one_400_at_every_split),
        cmocka_unit_test(test_foreign_origin_is_403_and_allowed_gets_cors),
        cmocka_unit_test(test_frames_behind_the_handshake_and_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
