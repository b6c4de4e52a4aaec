/* A caller that stops reading: once its send queue passes --send-queue-bytes it is closed (1008),
 * the answer goes on and is stored, and the caller finds it whole when it reconnects; an HTTP
 * event stream nobody reads is cut the same way. Nothing on the server grows without bound
 * meanwhile. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define TOKENS 120000 /* about 7 MB of frames, more than loopback buffers hold; 0.94 MB of text */

static struct ts_stack st;
static const char *const upstream_args[] = {"--pace-ms", "0", NULL};
static const char *const parleyd_args[] = {"--send-queue-bytes", "4096", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "slow_client", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

/* Poll Redis until the session's first answer is stored (30 s at most). */
static void wait_answered(const char *sid)
{
    char *answered = NULL;
    for (int i = 0; i < 300; i++) {
        pl_free(answered);
        answered = ts_redis_query(&st.redis, "HGET parley:{%s}:session answered", sid);
        if (answered && !strcmp(answered, "1"))
            break;
        poll(NULL, 0, 100);
    }
    assert_string_equal(answered, "1");
    pl_free(answered);
}

static void test_reader_that_stalls_is_closed_and_answer_kept(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    char *token = pl_strdup(c.token);
    char sid[65];
    snprintf(sid, sizeof(sid), "%s", c.session_id);
    char text[64];
    snprintf(text, sizeof(text), "everything please [[tokens:%d]]", TOKENS);
    assert_int_equal(ts_caller_message(&c, "s1", text), 0);

    /* Do not read until the answer is stored. */
    wait_answered(sid);

    /* What was in flight arrives, then the close, not a normal end of the turn. */
    char *msg;
    size_t len;
    int op, rc;
    bool saw_turn_end = false;
    while ((rc = wsc_recv(c.ws, 10000, &msg, &len, &op)) == PL_OK) {
        if (strstr(msg, "\"type\":\"turn_end\""))
            saw_turn_end = true;
        pl_free(msg);
    }
    assert_int_equal(rc, PL_ECLOSED);
    /* Closed at once (not by the idle timeout: wsc_recv would have timed out first), with 1008:
     * the close frame is written when the socket has room again, behind the queued data. */
    assert_int_equal(wsc_close_code(c.ws), 1008);
    assert_false(saw_turn_end);
    ts_caller_close(&c);

    /* The whole answer was stored and comes back with the history. */
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(json_array_size(c.history), 2);
    const char *answer = json_string_value(json_object_get(json_array_get(c.history, 1), "text"));
    assert_non_null(answer);
    assert_int_equal(strncmp(answer, "w1 w2 w3 ", 9), 0);
    char last[16];
    snprintf(last, sizeof(last), " w%d", TOKENS);
    size_t n = strlen(answer);
    assert_true(n > strlen(last));
    assert_string_equal(answer + n - strlen(last), last);
    ts_caller_close(&c);
    pl_free(token);
}

/* The same over the HTTP message API: an event stream nobody reads is cut once its queue passes
 * --send-queue-bytes; the turn goes on and is stored, and parleyd serves everyone else. */
static void test_event_stream_reader_that_stalls_is_cut(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)st.parleyd.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char body[96], req[4096];
    int blen = snprintf(body, sizeof(body), "{\"text\":\"all of it [[tokens:%d]]\"}", TOKENS);
    int rlen = snprintf(req, sizeof(req),
                        "POST /v1/sessions/%s/messages HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                        sid, token, blen, body);
    assert_int_equal(write(fd, req, (size_t)rlen), rlen);
    wait_answered(sid); /* without reading a byte */
    char health[128];
    snprintf(health, sizeof(health), "%s/healthz", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", health, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
    assert_true(ts_log_contains(&st.parleyd.proc, "/messages: client too slow"));
    /* What was in flight arrives, then the end of the connection without the turn's end. */
    struct pl_buf got;
    pl_buf_init(&got, SIZE_MAX);
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        pl_buf_append(&got, chunk, (size_t)n);
    assert_int_equal(n, 0); /* closed by parleyd */
    assert_non_null(strstr(got.data, "event: ack"));
    assert_null(strstr(got.data, "event: turn_end"));
    pl_buf_cleanup(&got);
    close(fd);
    pl_free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_that_stalls_is_closed_and_answer_kept),
        cmocka_unit_test(test_event_stream_reader_that_stalls_is_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
