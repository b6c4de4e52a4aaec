/* The outbound HTTP client (connectors/http_client.h) against a one-answer HTTP server on a
 * loopback port of the test's own loop: a transfer's callbacks in order, a response header, and
 * a start that curl refuses (from inside a callback) failing whole, with no callback, no handle
 * and no memory left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/http_client.h"
#include "loopback_http.h"

#define ANSWER                                                                                     \
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: yes please\r\nConnection: close\r\n\r\nok"

static uv_loop_t loop;
static struct loopback_http server = {.answer = ANSWER, .until = "\r\n\r\n"};
static int port;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&loop);
    if (loopback_http_start(&server, &loop) != 0)
        return -1;
    port = server.port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    loopback_http_close(&server);
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
