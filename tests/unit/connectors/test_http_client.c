/* The outbound HTTP client (connectors/http_client.h) against a one-answer HTTP server on a
 * loopback port of the test's own loop: a transfer's callbacks in order, a response header, and
 * a start that curl refuses (from inside a callback) failing whole, with no callback, no handle
 * and no memory left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/http_client.h"

#define ANSWER                                                                                     \
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: yes please\r\nConnection: close\r\n\r\nok"

static uv_loop_t loop;
static uv_tcp_t server;
static int port;

struct peer {
    uv_tcp_t tcp;
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
    if (!p->answered && p->in.data && strstr(p->in.data, "\r\n\r\n")) {
        p->answered = true;
        uv_read_stop(s);
        uv_buf_t out = uv_buf_init((char *)ANSWER, sizeof(ANSWER) - 1);
        uv_write(&p->wr, s, &out, 1, on_written);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    assert_int_equal(status, 0);
    struct peer *p = pl_calloc(1, sizeof(*p));
    pl_buf_init(&p->in, 64 * 1024);
    uv_tcp_init(&loop, &p->tcp);
    p->tcp.data = p;
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&p->tcp), 0);
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 16, on_connection) != 0)
        return -1;
    struct sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len);
    port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uv_close((uv_handle_t *)&server, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop); /* every handle of the client and the server is gone */
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* What one transfer saw. */
struct seen {
    struct http_client *hc;
    struct http_client_transfer *t;
    int status;
    char header[32];
    struct pl_buf body;
    int done_status;
    int done_calls;
    bool start_inside; /* try a second start from on_headers */
    bool inner_started;
    int inner_done_calls;
};

static char url[64];

static void inner_done(void *ud, int status, const char *detail)
{
    (void)status;
    (void)detail;
    ((struct seen *)ud)->inner_done_calls++;
}

static int on_headers(void *ud, int status)
{
    struct seen *s = ud;
    s->status = status;
    if (!http_client_response_header(s->t, "x-test", s->header, sizeof(s->header)))
        s->header[0] = '\0';
    if (s->start_inside) {
        const struct http_client_request req = {.method = "GET", .url = url};
        const struct http_client_callbacks cbs = {.on_done = inner_done};
        s->inner_started = http_client_start(s->hc, &req, &cbs, s) != NULL;
    }
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    pl_buf_append(&((struct seen *)ud)->body, data, len);
    return 0;
}

static void on_done(void *ud, int status, const char *detail)
{
    (void)detail;
    struct seen *s = ud;
    s->done_status = status;
    s->done_calls++;
}

static void get(struct seen *s)
{
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/test", port);
    assert_int_equal(http_client_create(&loop, &s->hc), PL_OK);
    pl_buf_init(&s->body, 1024);
    const struct http_client_request req = {.method = "GET", .url = url};
    const struct http_client_callbacks cbs = {
        .on_headers = on_headers, .on_data = on_data, .on_done = on_done};
    s->t = http_client_start(s->hc, &req, &cbs, s);
    assert_non_null(s->t);
    while (s->done_calls == 0 && uv_run(&loop, UV_RUN_ONCE))
        ;
    http_client_destroy(s->hc);
}

static void test_one_transfer(void **state)
{
    (void)state;
    struct seen s = {0};
    get(&s);
    assert_int_equal(s.done_calls, 1);
    assert_int_equal(s.done_status, PL_OK);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.header, "yes please");
    assert_int_equal(s.body.len, 2);
    assert_memory_equal(s.body.data, "ok", 2);
    pl_buf_cleanup(&s.body);
}

static void test_refused_start_leaves_nothing(void **state)
{
    (void)state;
    struct seen s = {.start_inside = true};
    get(&s);
    /* curl refuses a handle added from inside its own callback: the start fails whole */
    assert_false(s.inner_started);
    assert_int_equal(s.inner_done_calls, 0);
    /* and the transfer whose callback tried it goes on undisturbed */
    assert_int_equal(s.done_calls, 1);
    assert_int_equal(s.done_status, PL_OK);
    assert_int_equal(s.body.len, 2);
    pl_buf_cleanup(&s.body);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    struct http_client *hc;
    assert_int_equal(http_client_create(&loop, &hc), PL_OK);
    const struct http_client_request no_url = {.method = "GET"};
    const struct http_client_callbacks cbs = {.on_done = on_done};
    assert_null(http_client_start(hc, &no_url, &cbs, NULL));
    const struct http_client_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};
    const struct http_client_callbacks no_done = {.on_headers = on_headers};
    assert_null(http_client_start(hc, &req, &no_done, NULL));
    http_client_destroy(hc);
    http_client_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_transfer),
        cmocka_unit_test(test_refused_start_leaves_nothing),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
