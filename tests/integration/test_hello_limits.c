/* What a caller WebSocket may do before and at hello: a socket that never says hello is closed
 * at --hello-timeout-ms (1008) even while it answers pings; a connection that keeps failing hello
 * is closed after --max-hello-attempts; a session has at most --max-connections-per-session
 * sockets on an instance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/wsc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define HELLO_TIMEOUT_MS 6500 /* past the first ping (--ping-interval 5) */

static struct ts_stack st;
static const char *const parleyd_args[] = {"--hello-timeout-ms",
                                           "6500",
                                           "--ping-interval",
                                           "5",
                                           "--max-connections-per-session",
                                           "2",
                                           NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "hello_limits", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long metric(const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    char want[128];
    snprintf(want, sizeof(want), "\n%s ", name);
    const char *p = strstr(r.body, want);
    assert_non_null(p);
    long long v = strtoll(p + strlen(want), NULL, 10);
    ts_http_reply_free(&r);
    return v;
}

/* Read exactly n bytes within the deadline. */
static int read_exact(int fd, unsigned char *buf, size_t n, long long deadline)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* A silent caller on a raw socket: the server's frames are read byte for byte and each ping is
 * answered with a (masked) pong, until the server closes. */
static void test_silent_socket_closed_at_the_deadline_despite_pings(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)st.parleyd.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    long long opened = now_ms();
    static const char upgrade[] = "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "Sec-WebSocket-Protocol: parley.chat.v1\r\n\r\n";
    assert_int_equal(send(fd, upgrade, sizeof(upgrade) - 1, MSG_NOSIGNAL), sizeof(upgrade) - 1);
    char head[1024];
    size_t hlen = 0;
    while (hlen < 4 || memcmp(head + hlen - 4, "\r\n\r\n", 4) != 0) {
        assert_int_equal(read_exact(fd, (unsigned char *)head + hlen, 1, opened + 5000), 0);
        hlen++;
        assert_true(hlen < sizeof(head));
    }
    assert_int_equal(strncmp(head, "HTTP/1.1 101 ", 13), 0);

    int pings = 0;
    long long deadline = opened + HELLO_TIMEOUT_MS + 3000;
    for (;;) {
        unsigned char h[2], payload[126];
        assert_int_equal(read_exact(fd, h, 2, deadline), 0); /* before the fix: no close */
        size_t len = h[1] & 0x7f;
        assert_true(len < 126 && !(h[1] & 0x80)); /* small, unmasked server frames */
        assert_int_equal(read_exact(fd, payload, len, deadline), 0);
        if (h[0] == 0x89) { /* ping: answer it */
            pings++;
            unsigned char pong[2 + 4 + 125] = {0x8a, (unsigned char)(0x80 | len), 1, 2, 3, 4};
            for (size_t i = 0; i < len; i++)
                pong[6 + i] = payload[i] ^ pong[2 + i % 4];
            assert_int_equal(send(fd, pong, 6 + len, MSG_NOSIGNAL), (ssize_t)(6 + len));
            continue;
        }
        /* The close frame: 1008 and what to do. */
        static const char why[] = "no hello within 6500 ms: send hello first after connecting";
        assert_int_equal(h[0], 0x88);
        assert_int_equal(len, 2 + sizeof(why) - 1);
        assert_int_equal(payload[0] << 8 | payload[1], 1008);
        assert_memory_equal(payload + 2, why, sizeof(why) - 1);
        break;
    }
    long long elapsed = now_ms() - opened;
    fprintf(stderr, "closed after %lld ms, %d ping(s) answered\n", elapsed, pings);
    assert_true(pings >= 1);
    assert_true(elapsed >= HELLO_TIMEOUT_MS - 100 && elapsed < HELLO_TIMEOUT_MS + 2000);
    close(fd);
    assert_int_equal(metric("parley_hello_timeouts_total"), 1);
}

static void send_hello(struct ts_caller *c, const char *token)
{
    char f[2048];
    snprintf(f, sizeof(f), "{\"type\":\"hello\",\"token\":\"%s\"}", token);
    assert_int_equal(wsc_send_text(c->ws, f, strlen(f)), 0);
}

/* Every frame until the server closes: their count, with the close code. */
static int frames_until_close(struct ts_caller *c, const char *code)
{
    int n = 0;
    json_t *f;
    while ((f = ts_caller_recv(c, 5000))) {
        assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
        assert_string_equal(json_string_value(json_object_get(f, "code")), code);
        json_decref(f);
        n++;
    }
    return n;
}

/* The finding: one connection could retry hello 2,000 times. */
static void test_five_failed_hellos_close_the_connection(void **state)
{
    (void)state;
    char *forged = ts_token("caller", "mallory", "0123456789abcdef0123456789abcdef", 600);
    forged[strlen(forged) - 2] ^= 1;
    struct ts_caller c;
    assert_int_equal(ts_caller_connect(&c, st.parleyd.ws_url), 0);
    char f[2048];
    snprintf(f, sizeof(f), "{\"type\":\"hello\",\"token\":\"%s\"}", forged);
    for (int i = 0; i < 6; i++)
        wsc_send_text(c.ws, f, strlen(f)); /* the last ones may meet the close */
    assert_int_equal(frames_until_close(&c, "unauthorized"), 5); /* the sixth is not answered */
    assert_int_equal(wsc_close_code(c.ws), 1008);
    ts_caller_close(&c);
    assert_int_equal(metric("parley_hello_attempts_exceeded_total"), 1);

    /* Four failures leave the connection usable: the fifth hello succeeds. */
    assert_int_equal(ts_caller_connect(&c, st.parleyd.ws_url), 0);
    for (int i = 0; i < 4; i++) {
        send_hello(&c, forged);
        json_t *e = ts_caller_expect(&c, "error", 5000);
        assert_non_null(e);
        json_decref(e);
    }
    assert_int_equal(wsc_send_text(c.ws, "{\"type\":\"hello\"}", 16), 0);
    json_t *ready = ts_caller_expect(&c, "ready", 5000);
    assert_non_null(ready);
    json_decref(ready);
    ts_caller_close(&c);
    pl_free(forged);
}

static void test_cap_per_session(void **state)
{
    (void)state;
    struct ts_caller first, second, third;
    assert_int_equal(ts_caller_open(&first, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_open(&second, st.parleyd.ws_url, first.token, 0, 0), 0);
    assert_string_equal(second.session_id, first.session_id);
    /* A third socket of the session: busy (retryable), then closed. */
    assert_int_equal(ts_caller_connect(&third, st.parleyd.ws_url), 0);
    send_hello(&third, first.token);
    json_t *e = ts_caller_recv(&third, 5000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "busy");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "this conversation is open on too many connections; close one (another "
                        "tab or window) and reconnect");
    assert_true(json_is_true(json_object_get(e, "retryable")));
    json_decref(e);
    assert_null(ts_caller_recv(&third, 5000));
    assert_int_equal(wsc_close_code(third.ws), 1008);
    ts_caller_close(&third);
    assert_int_equal(metric("parley_connections_refused_total{reason=\"per_session\"}"), 1);
    /* Other sessions are not affected. */
    struct ts_caller other;
    assert_int_equal(ts_caller_open(&other, st.parleyd.ws_url, NULL, 0, 0), 0);
    ts_caller_close(&other);
    /* One of the two leaves: the session may connect again. */
    ts_caller_close(&first);
    long long open = -1;
    for (long long end = now_ms() + 5000; now_ms() < end && open != 1; poll(NULL, 0, 20))
        open = metric("parley_connections_open");
    assert_int_equal(open, 1);
    assert_int_equal(ts_caller_open(&third, st.parleyd.ws_url, second.token, 0, 0), 0);
    /* It works: a question gets its answer. */
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&third, "m1", "hello again [[text:welcome back]]", 10000, &t),
                     0);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
    ts_caller_close(&third);
    ts_caller_close(&second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_failed_hellos_close_the_connection),
        cmocka_unit_test(test_cap_per_session),
        cmocka_unit_test(test_silent_socket_closed_at_the_deadline_despite_pings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
