/* The HTTP/1.1 server of the test doubles, on a libuv loop (the test's own, or a double's process
 * loop): Content-Length bodies, one request per connection or, with keep_alive, several in turn
 * (pipelined ones wait their turn). The handler gets each whole request, headers parsed, and
 * answers it at once, later (a long poll) or after a delay, in the usual layout
 * (fake_http_reply) or with bytes of its own (fake_http_send). Test code only. Used by
 * fake_lambda_runtime.c, fake_aws_metadata.c, fake_dynamodb.c, fake_s3.c and by tests that stand
 * in for Parley. */
#ifndef PARLEY_TESTS_FAKES_FAKE_HTTP_H
#define PARLEY_TESTS_FAKES_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define FAKE_HTTP_HEADERS_MAX 96

struct fake_http;
struct fake_http_req;

/** Called once per whole request. The request stays valid until its answer is written (or the
 *  server stops): a handler may keep it and answer later. */
typedef void (*fake_http_handler_cb)(void *ud, struct fake_http_req *req);

struct fake_http_header {
    const char *name;  /* lower case */
    const char *value; /* leading and trailing blanks dropped */
};

struct fake_http_req {
    char method[16];
    const char *target; /* path and query, as sent */
    const char *path;   /* the target before any '?' */
    const char *query;  /* after the '?', or NULL */
    const char *head;   /* the request line and headers, each line ending in CRLF, NUL-terminated */
    struct fake_http_header headers[FAKE_HTTP_HEADERS_MAX]; /* in the order sent */
    size_t n_headers;
    const char *body; /* NUL-terminated; body_len bytes */
    size_t body_len;
    int64_t t_ms;     /* CLOCK_MONOTONIC ms when it was whole */
    bool client_gone; /* the client closed its connection before the answer */
    void *_peer;
};

struct fake_http_options {
    const char *host;   /* NULL: 127.0.0.1 */
    int port;           /* 0: a free one */
    bool keep_alive;    /* several requests per connection; else the answer closes it */
    size_t request_max; /* head and body together; 0: 8 MiB */
};

struct fake_http {
    int port; /* where it listens */
    fake_http_handler_cb _cb;
    void *_ud;
    uv_loop_t *_loop;
    struct fake_http_options _opt;
    uv_tcp_t _server;
    void *_peers;
};

/** Listen on 127.0.0.1, a free port, one request per connection; 0 or a libuv error. */
int fake_http_start(struct fake_http *s, uv_loop_t *loop, fake_http_handler_cb cb, void *ud);
/** Listen as `opt` says (NULL: as fake_http_start); 0 or a libuv error. */
int fake_http_listen(struct fake_http *s, uv_loop_t *loop, const struct fake_http_options *opt,
                     fake_http_handler_cb cb, void *ud);
/** Stop listening and close every connection (answered or not); run the loop afterwards until
 *  they are closed. */
void fake_http_stop(struct fake_http *s);

/** The value of header `name` (any case), or NULL; the first when it was sent more than once. */
const char *fake_http_header_value(const struct fake_http_req *req, const char *name);
/** The same copied into `out`; false when absent. */
bool fake_http_header(const struct fake_http_req *req, const char *name, char *out, size_t outlen);

/** Answer `req` with "HTTP/1.1 STATUS REASON", the extra header lines `headers` (each ending in
 *  CRLF, may be NULL), Content-Length, "Connection: close" unless the server keeps connections
 *  alive, and `len` bytes of body, `delay_ms` from now (0: now). fake_http_reply uses the usual
 *  reason phrase. */
void fake_http_reply(struct fake_http_req *req, int status, const char *headers, const char *body,
                     size_t len, uint32_t delay_ms);
void fake_http_reply_reason(struct fake_http_req *req, int status, const char *reason,
                            const char *headers, const char *body, size_t len, uint32_t delay_ms);
/** Answer `req` with exactly these bytes (status line, headers, blank line, body) `delay_ms` from
 *  now, for a double whose answers have a layout of their own. */
void fake_http_send(struct fake_http_req *req, const char *bytes, size_t len, uint32_t delay_ms);

/** The usual reason phrase of `status` ("Status" for one it does not know). */
const char *fake_http_reason(int status);

/** Write "PORT\n" to `path` whole (a temporary file renamed), for a test that waits for it; 0
 *  or -1. */
int fake_http_write_ready(const char *path, int port);

/** CLOCK_MONOTONIC in ms, the clock of `t_ms`. */
int64_t fake_http_now_ms(void);

#endif
