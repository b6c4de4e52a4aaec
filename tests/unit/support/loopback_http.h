/* A one-answer HTTP server on a loopback port of a unit test's own libuv loop, for the tests of
 * connectors/ that need a peer (http_client.h, llm_http_call.h). Each connection gets `answer`
 * once its request holds `until`, and is then closed; with `answer` NULL it gets nothing and is
 * closed when the client leaves. */
#ifndef PARLEY_TESTS_UNIT_SUPPORT_LOOPBACK_HTTP_H
#define PARLEY_TESTS_UNIT_SUPPORT_LOOPBACK_HTTP_H

#include <uv.h>

struct loopback_http {
    uv_tcp_t server;
    int port;
    const char *answer; /* sent whole; NULL: never */
    const char *until;  /* what the request must hold first, e.g. "\r\n\r\n" */
};

/** Listen on 127.0.0.1, a port of the system's choice (then in `port`). 0, or -1. */
int loopback_http_start(struct loopback_http *s, uv_loop_t *loop);
/** Stop listening (the loop closes the handle). */
void loopback_http_close(struct loopback_http *s);

#endif
