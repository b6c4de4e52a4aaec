/* loadgen: N concurrent web callers against parleyd, on one libuv loop (C, so that the harness
 * is not the bottleneck). Each caller connects, says hello, then sends M messages one after the
 * other, each with a marker that makes the upstream double answer with T tokens at its pace.
 * Reports ack latency, time to first token, per-token relay delay (inter-delta gap minus the
 * double's pace), server CPU per delta and server memory, read from /proc/PID of parleyd.
 * --idle: connect and hello only, then report memory per idle session. Not a test. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/ws_frame.h"

struct samples {
    double *v;
    size_t n, cap;
};

struct opts {
    char host[64];
    int port;
    char path[256];
    int callers;
    int messages;
    int ramp_per_tick; /* connections opened per 1 ms tick */
    bool idle;
    int hold_s;
    int pid;
    double pace_ms;
    const char *marker;
    bool json;
};

enum cstate { C_CONNECTING, C_HANDSHAKE, C_HELLO, C_READY, C_DONE };

struct caller {
    uv_tcp_t tcp;
    uv_connect_t connect;
    enum cstate state;
    struct pl_buf in;
    int sent, done;
    uint64_t t_send, t_last_delta;
    bool got_first;
    bool failed;
};

static struct opts o = {.host = "127.0.0.1",
                        .port = 8080,
                        .path = "/v1/chat",
                        .callers = 100,
                        .messages = 1,
                        .ramp_per_tick = 20,
                        .hold_s = 5,
                        .pace_ms = 50,
                        .marker = "[[tokens:20]]"};
static uv_loop_t *loop;
static struct caller *callers;
static int opened, ready, finished, failed;
static uint64_t deltas;
static struct samples ack_us, ttft_us, relay_us;
static uv_timer_t ramp_timer, hold_timer;
static uint64_t t_start, t_stream_start;
static double cpu_start_s;
static long rss_before_kb;
static json_t *errors;

static void add(struct samples *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = pl_realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(struct samples *s, double p)
{
    if (!s->n)
        return 0;
    qsort(s->v, s->n, sizeof(*s->v), cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* utime+stime of the server in seconds, from /proc/PID/stat. */
static double server_cpu_s(void)
{
    if (!o.pid)
        return 0;
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", o.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* VmRSS or VmHWM of the server in KiB. */
static long server_mem_kb(const char *field)
{
    if (!o.pid)
        return 0;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", o.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long kb = 0;
    size_t flen = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, flen) && line[flen] == ':')
            kb = strtol(line + flen + 1, NULL, 10);
    fclose(f);
    return kb;
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    pl_free(req);
}

static void send_frame(struct caller *c, const char *text)
{
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    ws_frame_encode(&b, WS_TEXT, true, text, strlen(text), mask);
    uv_write_t *req = pl_malloc(sizeof(*req) + b.len);
    memcpy(req + 1, b.data, b.len);
    uv_buf_t buf = uv_buf_init((char *)(req + 1), (unsigned)b.len);
    pl_buf_cleanup(&b);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        pl_free(req);
}

static void report_and_stop(void);

static void caller_failed(struct caller *c, const char *why)
{
    if (c->failed || c->state == C_DONE)
        return;
    c->failed = true;
    failed++;
    json_object_set_new(errors, why,
                        json_integer(json_integer_value(json_object_get(errors, why)) + 1));
    c->state = C_DONE;
    finished++;
    if (finished == o.callers)
        report_and_stop();
}

static void on_hold_done(uv_timer_t *t)
{
    (void)t;
    report_and_stop();
}

static void send_message(struct caller *c)
{
    char text[256];
    snprintf(text, sizeof(text),
             "{\"type\":\"message\",\"id\":\"m%d\",\"text\":\"How do I file a claim? %s\"}",
             c->sent, o.marker);
    c->sent++;
    c->got_first = false;
    c->t_send = now_us();
    send_frame(c, text);
}

static void on_message(struct caller *c, const char *data, size_t len)
{
    json_t *j = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    uint64_t t = now_us();
    if (!type) {
        caller_failed(c, "bad_frame");
    } else if (!strcmp(type, "history")) {
        c->state = C_READY;
        ready++;
        if (!o.idle) {
            if (!t_stream_start) {
                t_stream_start = t;
                cpu_start_s = server_cpu_s();
            }
            send_message(c);
        } else if (ready == o.callers) {
            uv_timer_start(&hold_timer, on_hold_done, (uint64_t)o.hold_s * 1000, 0);
        }
    } else if (!strcmp(type, "ack")) {
        add(&ack_us, (double)(t - c->t_send));
    } else if (!strcmp(type, "delta")) {
        deltas++;
        if (!c->got_first) {
            c->got_first = true;
            add(&ttft_us, (double)(t - c->t_send));
        } else {
            add(&relay_us, (double)(t - c->t_last_delta) - o.pace_ms * 1000.0);
        }
        c->t_last_delta = t;
    } else if (!strcmp(type, "turn_end")) {
        c->done++;
        if (c->done < o.messages) {
            send_message(c);
        } else {
            c->state = C_DONE;
            finished++;
            if (finished == o.callers)
                report_and_stop();
        }
    } else if (!strcmp(type, "error")) {
        caller_failed(c, json_string_value(json_object_get(j, "code")));
    }
    json_decref(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char slab[65536];
    (void)suggested;
    buf->base = slab;
    buf->len = sizeof(slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct caller *c = s->data;
    if (n < 0) {
        caller_failed(c, "closed");
        uv_read_stop(s);
        return;
    }
    pl_buf_append(&c->in, buf->base, (size_t)n);
    if (c->state == C_HANDSHAKE) {
        char *end = c->in.data ? strstr(c->in.data, "\r\n\r\n") : NULL;
        if (!end)
            return;
        if (strncmp(c->in.data, "HTTP/1.1 101", 12) != 0) {
            caller_failed(c, "handshake");
            return;
        }
        pl_buf_consume(&c->in, (size_t)(end - c->in.data) + 4);
        c->state = C_HELLO;
        send_frame(c, "{\"type\":\"hello\"}");
    }
    struct ws_frame f;
    while (c->in.len && ws_frame_decode(c->in.data, c->in.len, 1 << 24, &f) == 1) {
        if (f.opcode == WS_TEXT)
            on_message(c, f.payload, f.len);
        pl_buf_consume(&c->in, f.total);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct caller *c = req->data;
    if (status < 0) {
        caller_failed(c, "connect");
        return;
    }
    c->state = C_HANDSHAKE;
    char hs[512];
    snprintf(hs, sizeof(hs),
             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: parley.chat.v1\r\n\r\n",
             o.path, o.host, o.port);
    uv_write_t *w = pl_malloc(sizeof(*w) + strlen(hs));
    memcpy(w + 1, hs, strlen(hs));
    uv_buf_t buf = uv_buf_init((char *)(w + 1), (unsigned)strlen(hs));
    if (uv_write(w, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        pl_free(w);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_ramp(uv_timer_t *t)
{
    struct sockaddr_in addr;
    uv_ip4_addr(o.host, o.port, &addr);
    for (int k = 0; k < o.ramp_per_tick && opened < o.callers; k++, opened++) {
        struct caller *c = &callers[opened];
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        pl_buf_init(&c->in, 1 << 24);
        uv_tcp_nodelay(&c->tcp, 1);
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect);
    }
    if (opened == o.callers)
        uv_timer_stop(t);
}

static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void report_and_stop(void)
{
    double secs = (double)(now_us() - (t_stream_start ? t_stream_start : t_start)) / 1e6;
    double cpu = server_cpu_s() - cpu_start_s;
    long rss = server_mem_kb("VmRSS"), hwm = server_mem_kb("VmHWM");
    if (o.idle) {
        double per = o.callers ? (double)(rss - rss_before_kb) * 1024.0 / o.callers : 0;
        printf("idle sessions: %d ready, %d failed\n", ready, failed);
        printf("server RSS before %ld KiB, with sessions %ld KiB: %.0f bytes per idle session "
               "(%.2f KiB)\n",
               rss_before_kb, rss, per, per / 1024.0);
        printf("server peak RSS %ld KiB\n", hwm);
        char *e = json_dumps(errors, JSON_COMPACT);
        printf("errors: %s\n", e);
        free(e);
        if (o.json)
            printf("{\"mode\":\"idle\",\"sessions\":%d,\"failed\":%d,\"rss_before_kb\":%ld,"
                   "\"rss_kb\":%ld,\"bytes_per_session\":%.0f,\"peak_kb\":%ld}\n",
                   ready, failed, rss_before_kb, rss, per, hwm);
    } else {
        printf("callers %d, messages %d each, marker %s, pace %.0f ms: %.1f s\n", o.callers,
               o.messages, o.marker, o.pace_ms, secs);
        printf("completed %d callers, failed %d, deltas %llu (%.0f/s)\n", finished - failed, failed,
               (unsigned long long)deltas, (double)deltas / secs);
        printf("%-30s %10s %10s %10s\n", "(ms)", "p50", "p99", "max");
        printf("%-30s %10.3f %10.3f %10.3f\n", "ack latency", pct(&ack_us, 50) / 1000,
               pct(&ack_us, 99) / 1000, pct(&ack_us, 100) / 1000);
        printf("%-30s %10.3f %10.3f %10.3f\n", "time to first token", pct(&ttft_us, 50) / 1000,
               pct(&ttft_us, 99) / 1000, pct(&ttft_us, 100) / 1000);
        printf("%-30s %10.3f %10.3f %10.3f\n", "per-token relay (gap - pace)",
               pct(&relay_us, 50) / 1000, pct(&relay_us, 99) / 1000, pct(&relay_us, 100) / 1000);
        if (o.pid)
            printf("server CPU %.2f s = %.1f us per delta; RSS %ld KiB, peak %ld KiB\n", cpu,
                   deltas ? cpu * 1e6 / (double)deltas : 0, rss, hwm);
        char *e = json_dumps(errors, JSON_COMPACT);
        printf("errors: %s\n", e);
        if (o.json)
            printf("{\"mode\":\"stream\",\"callers\":%d,\"failed\":%d,\"deltas\":%llu,"
                   "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ttft_p50_ms\":%.3f,"
                   "\"ttft_p99_ms\":%.3f,\"relay_p50_ms\":%.3f,\"relay_p99_ms\":%.3f,"
                   "\"cpu_us_per_delta\":%.2f,\"rss_kb\":%ld,\"peak_kb\":%ld,\"errors\":%s}\n",
                   o.callers, failed, (unsigned long long)deltas, pct(&ack_us, 50) / 1000,
                   pct(&ack_us, 99) / 1000, pct(&ttft_us, 50) / 1000, pct(&ttft_us, 99) / 1000,
                   pct(&relay_us, 50) / 1000, pct(&relay_us, 99) / 1000,
                   deltas ? cpu * 1e6 / (double)deltas : 0, rss, hwm, e);
        free(e);
    }
    fflush(stdout);
    uv_walk(loop, close_all, NULL);
}

static int num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 10000000) {
        fprintf(stderr, "loadgen: \"%s\" is not a count\n", s);
        exit(2);
    }
    return (int)v;
}

static void usage(void)
{
    printf("Usage: loadgen --url ws://HOST:PORT/v1/chat [--callers N] [--messages M]\n"
           "               [--token-pace-ms P] [--text-marker \"[[tokens:20]]\"] [--ramp N]\n"
           "               [--idle [--hold-s S]] [--pid PARLEYD_PID] [--json]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "--idle")) {
            o.idle = true;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (!strcmp(a, "--url")) {
            if (sscanf(v, "ws://%63[^:]:%d%255s", o.host, &o.port, o.path) < 2) {
                fprintf(stderr, "loadgen: --url must be ws://HOST:PORT/PATH\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--callers")) {
            o.callers = num(v), i++;
        } else if (!strcmp(a, "--messages")) {
            o.messages = num(v), i++;
        } else if (!strcmp(a, "--ramp")) {
            o.ramp_per_tick = num(v), i++;
        } else if (!strcmp(a, "--hold-s")) {
            o.hold_s = num(v), i++;
        } else if (!strcmp(a, "--pid")) {
            o.pid = num(v), i++;
        } else if (!strcmp(a, "--token-pace-ms")) {
            o.pace_ms = (double)num(v), i++;
        } else if (!strcmp(a, "--text-marker")) {
            o.marker = v, i++;
        } else {
            fprintf(stderr, "loadgen: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    loop = uv_default_loop();
    errors = json_object();
    callers = pl_calloc((size_t)o.callers, sizeof(*callers));
    rss_before_kb = server_mem_kb("VmRSS");
    t_start = now_us();
    uv_timer_init(loop, &ramp_timer);
    uv_timer_init(loop, &hold_timer);
    uv_timer_start(&ramp_timer, on_ramp, 0, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    return failed ? 1 : 0;
}
