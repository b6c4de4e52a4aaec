/* Connections of a parleyd on the open internet: a low descriptor limit and more sockets than it
 * allows neither spin the process nor flood its log, health checks keep an answer, connections
 * are accepted again as others close; the cap per client address. Sockets are raw here so that
 * each test says exactly which bytes go out and from which address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "tests/support/fixtures.h"

static struct ts_redis redis;
static char workdir[512];

static int group_setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "%s", ts_workdir("connections"));
    return ts_redis_start(&redis, workdir);
}

static int group_teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis);
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to 127.0.0.1:port from `from` (a loopback address, NULL: any). */
static int raw_connect(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (from) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        inet_pton(AF_INET, from, &src.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until `end` appears, the peer closes, or timeout_ms passes. The bytes read (NUL-ended)
 * in buf; returns their count, -1 when the connection was reset. */
static int read_until(int fd, char *buf, size_t cap, const char *end, int timeout_ms)
{
    size_t got = 0;
    long long deadline = now_ms() + timeout_ms;
    buf[0] = '\0';
    while (got + 1 < cap && (!end || !strstr(buf, end))) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n < 0)
            return errno == ECONNRESET ? -1 : (int)got;
        if (n == 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return (int)got;
}

static const char upgrade_request[] = "GET /v1/chat HTTP/1.1\r\n"
                                      "Host: 127.0.0.1\r\n"
                                      "Upgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n"
                                      "Sec-WebSocket-Protocol: parley.chat.v1\r\n\r\n";

/* A caller WebSocket from `from` that never says hello. The socket, with `*status` the HTTP
 * status of the answer (101 when upgraded; 0 when the server closed without one). */
static int ws_open(int port, const char *from, int *status)
{
    int fd = raw_connect(port, from);
    send_all(fd, upgrade_request);
    char buf[2048];
    int n = read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
    *status = 0;
    if (n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
        *status = (int)strtol(buf + 9, NULL, 10);
    return fd;
}

/* GET `path` from `from` with "Connection: close"; the whole response in buf. Its status. */
static int http_get(int port, const char *from, const char *path, char *buf, size_t cap)
{
    int fd = raw_connect(port, from);
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    send_all(fd, req);
    int n = read_until(fd, buf, cap, NULL, 5000);
    close(fd);
    return n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 ? (int)strtol(buf + 9, NULL, 10) : 0;
}

/* The value of metric line `name` ("parley_x" or "parley_x{reason=\"y\"}") of /metrics. */
static long long metric(int port, const char *from, const char *name)
{
    static char buf[16384];
    assert_int_equal(http_get(port, from, "/metrics", buf, sizeof(buf)), 200);
    char want[128];
    snprintf(want, sizeof(want), "\n%s ", name);
    const char *p = strstr(buf, want);
    if (!p) {
        fprintf(stderr, "metric %s missing from:\n%s\n", name, buf);
        fail();
    }
    return strtoll(p + strlen(want), NULL, 10);
}

/* CPU time (user + system) of process `pid` so far, in ms. */
static long long cpu_ms(int pid)
{
    char path[64], stat[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* Fields after the command name, which ends with the last ')': state is field 3, utime 14,
     * stime 15. */
    const char *p = strrchr(stat, ')');
    assert_non_null(p);
    unsigned long long utime = 0, stime = 0;
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime), 2);
    return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

/* Lines of the log of `p` that contain `needle`. */
static int log_lines(const struct ts_parleyd *p, const char *needle)
{
    FILE *f = fopen(p->proc.log_path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Wait until metric `name` is `want` (the /metrics request itself may be counted in it). */
static void wait_metric(int port, const char *name, long long want)
{
    long long v = -1;
    for (long long end = now_ms() + 5000; now_ms() < end; poll(NULL, 0, 20)) {
        v = metric(port, NULL, name);
        if (v == want)
            return;
    }
    fprintf(stderr, "%s stayed %lld, expected %lld\n", name, v, want);
    fail();
}

#define NOFILE 128
#define CAP    28 /* (128 - 64 kept - 8 for health checks) / 2 */
#define EXTRA  100

/* The finding: with `ulimit -n` low and more sockets than it allows, parleyd went to 100% of a
 * core logging `accept: errno 24` thousands of times a second, and /healthz stopped answering. */
static void test_low_descriptor_limit_does_not_spin(void **state)
{
    (void)state;
    struct ts_parleyd p;
    /* Every socket comes from 127.0.0.1; the callers stay past the test without a hello. */
    static const char *const args[] = {"--max-connections-per-address", "0", "--hello-timeout-ms",
                                       "600000", NULL};
    assert_int_equal(ts_parleyd_start_nofile(&p, workdir, &redis, NULL, args, NOFILE), 0);
    assert_int_equal(metric(p.port, NULL, "parley_connections_limit"), CAP);

    /* CAP callers hold a WebSocket without saying anything... */
    int held[CAP];
    for (int i = 0; i < CAP; i++) {
        int status;
        held[i] = ws_open(p.port, NULL, &status);
        assert_int_equal(status, 101);
    }
    /* ...and EXTRA more connect and stay silent: the health-check reserve takes the first ones,
     * the rest wait in the kernel's backlog. */
    int extra[EXTRA];
    for (int i = 0; i < EXTRA; i++)
        extra[i] = raw_connect(p.port, NULL);
    poll(NULL, 0, 300);
    long long cpu0 = cpu_ms(p.proc.pid);
    poll(NULL, 0, 1000);
    long long cpu = cpu_ms(p.proc.pid) - cpu0;
    fprintf(stderr, "parleyd used %lld ms of CPU in 1 s at the connection cap\n", cpu);
    assert_true(cpu < 100); /* spinning, it used about 1000 */
    /* A few lines, not thousands. */
    assert_int_equal(log_lines(&p, "errno"), 0);
    assert_int_equal(log_lines(&p, "connection cap reached"), 1);
    assert_true(log_lines(&p, "") < 20);

    /* The silent ones leave: health checks are answered again (from the reserve) while the
     * callers still hold the cap. */
    for (int i = 0; i < EXTRA; i++)
        close(extra[i]);
    char buf[4096];
    int status = 0;
    for (long long end = now_ms() + 5000; status != 200 && now_ms() < end; poll(NULL, 0, 20))
        status = http_get(p.port, NULL, "/healthz", buf, sizeof(buf));
    assert_int_equal(status, 200);
    assert_non_null(strstr(buf, "\r\n\r\n{\"status\":\"ok\"}"));
    assert_int_equal(http_get(p.port, NULL, "/readyz", buf, sizeof(buf)), 200);
    wait_metric(p.port, "parley_sockets_open", CAP + 1); /* the stragglers of the backlog go */
    /* Anything else past the cap is refused at once: a 503 that says to retry... */
    assert_int_equal(http_get(p.port, NULL, "/v1/sessions/x/turns/1", buf, sizeof(buf)), 503);
    assert_non_null(strstr(buf, "\r\n\r\n{\"error\":{\"code\":\"busy\",\"message\":\"the server "
                                "has too many connections right now; please retry in a "
                                "moment\",\"retryable\":true}}"));
    /* ...and a WebSocket upgrade is not accepted. */
    int refused = ws_open(p.port, NULL, &status);
    assert_int_not_equal(status, 101);
    close(refused);
    assert_int_equal(metric(p.port, NULL, "parley_connections_refused_total{reason=\"capacity\"}"),
                     2);
    assert_true(metric(p.port, NULL, "parley_accept_paused_total") >= 1);
    assert_int_equal(metric(p.port, NULL, "parley_accept_errors_total"), 0);

    /* Five callers leave: new callers are served again. */
    for (int i = 0; i < 5; i++)
        close(held[i]);
    wait_metric(p.port, "parley_sockets_open", CAP - 5 + 1);
    for (int i = 0; i < 5; i++) {
        held[i] = ws_open(p.port, NULL, &status);
        assert_int_equal(status, 101);
    }
    for (int i = 0; i < CAP; i++)
        close(held[i]);
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

/* A --max-connections larger than the descriptor limit allows is lowered, with one warning. */
static void test_cap_above_the_limit_is_lowered(void **state)
{
    (void)state;
    struct ts_parleyd p;
    static const char *const args[] = {"--max-connections", "100000", NULL};
    assert_int_equal(ts_parleyd_start_nofile(&p, workdir, &redis, NULL, args, NOFILE), 0);
    assert_int_equal(metric(p.port, NULL, "parley_connections_limit"), NOFILE - 64 - 8);
    assert_int_equal(log_lines(&p, "--max-connections 100000 is more than the descriptor limit "
                                   "128 allows; using 56"),
                     1);
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

/* One address may hold --max-connections-per-address connections; another address is not
 * affected, and the address may connect again once one of its connections closed. */
static void test_cap_per_address(void **state)
{
    (void)state;
    struct ts_parleyd p;
    static const char *const args[] = {"--max-connections-per-address", "3", NULL};
    assert_int_equal(ts_parleyd_start(&p, workdir, &redis, NULL, args), 0);
    int held[3], status;
    for (int i = 0; i < 3; i++) {
        held[i] = ws_open(p.port, "127.0.0.2", &status);
        assert_int_equal(status, 101);
    }
    /* The fourth is closed at once, without a byte. */
    int fourth = raw_connect(p.port, "127.0.0.2");
    send_all(fourth, upgrade_request);
    char buf[4096];
    assert_true(read_until(fourth, buf, sizeof(buf), NULL, 3000) <= 0);
    close(fourth);
    /* Another address is served (/metrics from 127.0.0.1 below, and a caller). */
    int other = ws_open(p.port, "127.0.0.3", &status);
    assert_int_equal(status, 101);
    assert_int_equal(
        metric(p.port, NULL, "parley_connections_refused_total{reason=\"per_address\"}"), 1);
    assert_true(log_lines(&p, "127.0.0.2 has 3 connections open") == 1);
    close(held[0]);
    wait_metric(p.port, "parley_sockets_open", 2 + 1 + 1);
    int again = ws_open(p.port, "127.0.0.2", &status);
    assert_int_equal(status, 101);
    close(again);
    close(other);
    close(held[1]);
    close(held[2]);
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

/* POST a caller message to session `sid` from `from` with X-Forwarded-For `xff` (NULL: none).
 * The status. */
static int post_message(int port, const char *from, const char *sid, const char *token,
                        const char *xff)
{
    int fd = raw_connect(port, from);
    char req[2048], forwarded[256] = "";
    if (xff)
        snprintf(forwarded, sizeof(forwarded), "X-Forwarded-For: %s\r\n", xff);
    static const char body[] = "{\"text\":\"hello\"}";
    snprintf(req, sizeof(req),
             "POST /v1/sessions/%s/messages?wait_ms=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             sid, token, forwarded, strlen(body), body);
    send_all(fd, req);
    char buf[4096];
    int n = read_until(fd, buf, sizeof(buf), NULL, 5000);
    close(fd);
    return n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 ? (int)strtol(buf + 9, NULL, 10) : 0;
}

/* A caller WebSocket from `from` through a proxy that says the client is `xff`: says hello
 * without a token (a new anonymous session) and returns the first frame's text (in buf). */
static const char *ws_hello_via(int port, const char *from, const char *xff, char *buf, size_t cap)
{
    int fd = raw_connect(port, from);
    char req[1024];
    snprintf(req, sizeof(req),
             "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n"
             "X-Forwarded-For: %s\r\n\r\n",
             xff);
    send_all(fd, req);
    assert_true(read_until(fd, buf, cap, "\r\n\r\n", 5000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 101 "));
    buf[0] = '\0';
    /* A masked text frame with the all-zero key: the payload goes as it is. */
    static const char hello[] = "{\"type\":\"hello\"}";
    char frame[64] = {(char)0x81, (char)(0x80 | (sizeof(hello) - 1)), 0, 0, 0, 0};
    memcpy(frame + 6, hello, sizeof(hello) - 1);
    assert_int_equal(send(fd, frame, 6 + sizeof(hello) - 1, MSG_NOSIGNAL),
                     (ssize_t)(6 + sizeof(hello) - 1));
    int n = read_until(fd, buf, cap, "}", 5000);
    close(fd);
    /* The payload starts after the frame header (2 or 4 bytes: the length may hold a NUL). */
    const char *payload = n > 4 ? memchr(buf, '{', (size_t)n) : NULL;
    assert_non_null(payload);
    return payload;
}

/* post_message from an address limited to one connection: its previous connection may not be
 * released yet when the client has read the answer (the server closes after writing it), and
 * a connection over the cap is closed without a byte (status 0); retried until admitted. */
static int post_message_admitted(int port, const char *from, const char *sid, const char *token,
                                 const char *xff)
{
    int status = 0;
    for (long long end = now_ms() + 3000; status == 0 && now_ms() < end;) {
        status = post_message(port, from, sid, token, xff);
        if (status == 0)
            poll(NULL, 0, 20);
    }
    return status;
}

static bool redis_has(const char *key)
{
    char *v = ts_redis_query(&redis, "EXISTS %s", key);
    bool yes = v && strcmp(v, "1") == 0;
    pl_free(v);
    return yes;
}

/* Behind a load balancer: its connections are not counted per address (it carries everyone),
 * and each request counts under the client its X-Forwarded-For names, the rightmost entry that
 * is not a trusted proxy; an untrusted peer's X-Forwarded-For is ignored. */
static void test_trusted_proxy_names_the_client(void **state)
{
    (void)state;
    struct ts_parleyd p;
    static const char *const args[] = {"--trusted-proxies",
                                       "127.0.0.2/32, 10.0.0.0/8",
                                       "--max-connections-per-address",
                                       "1",
                                       "--messages-per-minute",
                                       "0",
                                       "--messages-per-minute-per-address",
                                       "1",
                                       "--anon-sessions-per-minute",
                                       "1",
                                       "--local-pace-ms",
                                       "1",
                                       NULL};
    assert_int_equal(ts_parleyd_start(&p, workdir, &redis, NULL, args), 0);
    pl_free(ts_redis_query(&redis, "FLUSHALL"));
    /* New conversations on WebSockets through the proxy: one a minute per client. */
    char frame[4096];
    assert_non_null(strstr(ws_hello_via(p.port, "127.0.0.2", "198.51.100.7", frame, sizeof(frame)),
                           "\"type\":\"ready\""));
    assert_non_null(strstr(ws_hello_via(p.port, "127.0.0.2", "198.51.100.8", frame, sizeof(frame)),
                           "\"type\":\"ready\""));
    assert_non_null(strstr(ws_hello_via(p.port, "127.0.0.2", "198.51.100.7", frame, sizeof(frame)),
                           "\"code\":\"rate_limited\""));
    assert_true(redis_has("parley:addr:{198.51.100.7}:sessions"));
    assert_false(redis_has("parley:addr:{127.0.0.2}:sessions"));
    int status;
    int lb[3];
    for (int i = 0; i < 3; i++) {
        lb[i] = ws_open(p.port, "127.0.0.2", &status);
        assert_int_equal(status, 101);
    }
    int direct = ws_open(p.port, "127.0.0.3", &status);
    assert_int_equal(status, 101);
    int again = raw_connect(p.port, "127.0.0.3");
    send_all(again, upgrade_request);
    char buf[4096];
    assert_true(read_until(again, buf, sizeof(buf), NULL, 3000) <= 0);
    close(again);

    char sid[33];
    char *token = ts_session_create(p.url, sid);
    assert_non_null(token);
    /* Two clients through the proxy: one message a minute each. */
    assert_int_equal(post_message(p.port, "127.0.0.2", sid, token, "198.51.100.1"), 202);
    assert_int_equal(post_message(p.port, "127.0.0.2", sid, token, "198.51.100.2, 10.1.2.3"), 202);
    assert_true(redis_has("parley:addr:{198.51.100.1}:messages"));
    assert_true(redis_has("parley:addr:{198.51.100.2}:messages"));
    assert_false(redis_has("parley:addr:{127.0.0.2}:messages"));
    /* A forged entry on the left changes nothing: the proxy appended the real one. */
    assert_int_equal(post_message(p.port, "127.0.0.2", sid, token, "203.0.113.50, 198.51.100.1"),
                     429);
    assert_false(redis_has("parley:addr:{203.0.113.50}:messages"));
    /* A peer that is not a trusted proxy is its own client, whatever it claims. */
    assert_int_equal(post_message(p.port, "127.0.0.4", sid, token, "198.51.100.3"), 202);
    assert_true(redis_has("parley:addr:{127.0.0.4}:messages"));
    assert_false(redis_has("parley:addr:{198.51.100.3}:messages"));
    assert_int_equal(post_message_admitted(p.port, "127.0.0.4", sid, token, "198.51.100.4"), 429);
    pl_free(token);
    for (int i = 0; i < 3; i++)
        close(lb[i]);
    close(direct);
    assert_int_equal(ts_parleyd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_low_descriptor_limit_does_not_spin),
        cmocka_unit_test(test_cap_above_the_limit_is_lowered),
        cmocka_unit_test(test_cap_per_address),
        cmocka_unit_test(test_trusted_proxy_names_the_client),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
