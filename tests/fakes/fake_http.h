/* A very small HTTP/1.1 server on a test's own libuv loop (loopback, one request per connection,
 * Content-Length bodies) for doubles whose answers a test decides as requests arrive: the
 * handler gets each whole request and answers it at once, later (a long poll), or after a
 * delay. Test code only. Used by fake_lambda_runtime.c and by tests that stand in for Parley. */
#ifndef PARLEY_TESTS_FAKES_FAKE_HTTP_H
#define PARLEY_TESTS_FAKES_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct fake_http;
struct fake_http_req;

/** Called once per whole request. The request stays valid until it is answered with
 *  fake_http_reply (at once or later) or the server stops. */
typedef void (*fake_http_handler_cb)(void *ud, struct fake_http_req *req);

struct fake_http_req {
    char method[16];
    char path[1024];
    const char *head; /* the request line and headers, NUL-terminated */
    const char *body; /* NUL-terminated; body_len bytes */
    size_t body_len;
    int64_t t_ms;     /* CLOCK_MONOTONIC ms when it was whole */
    bool client_gone; /* the client closed its connection before the answer */
    void *_peer;
};

struct fake_http {
    int port; /* on 127.0.0.1 */
    fake_http_handler_cb _cb;
    void *_ud;
    uv_loop_t *_loop;
    uv_tcp_t _server;
    void *_peers;
};

/** Listen on 127.0.0.1, a free port; 0 or a libuv error. */
int fake_http_start(struct fake_http *s, uv_loop_t *loop, fake_http_handler_cb cb, void *ud);
/** Stop listening and close every connection (answered or not); run the loop afterwards until
 *  they are closed. */
void fake_http_stop(struct fake_http *s);

/** The value of header `name` (any case) copied into `out`; false when absent. */
bool fake_http_header(const struct fake_http_req *req, const char *name, char *out, size_t outlen);

/** Answer `req` with `status`, extra header lines (each ending in CRLF, may be NULL) and `len`
 *  bytes of body, `delay_ms` from now (0: now); then the connection closes. */
void fake_http_reply(struct fake_http_req *req, int status, const char *headers, const char *body,
                     size_t len, uint32_t delay_ms);

/** CLOCK_MONOTONIC in ms, the clock of `t_ms`. */
int64_t fake_http_now_ms(void);

#endif
