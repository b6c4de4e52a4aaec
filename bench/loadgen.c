/* loadgen: N concurrent web callers against parleyd, on one libuv loop (C, so that the harness
 * is not the bottleneck). Each caller connects, says hello, then sends M messages one after the
 * other, each with a marker that makes the upstream double answer with T tokens at its pace.
 * Reports ack latency, time to first token, per-token relay delay, server CPU per delta and
 * server memory, read from /proc/PID of parleyd. The relay delay is measured two ways: from the
 * double's send time stamped into each token ([[stamp]], tests/fakes/README.md) to receipt,
 * which is the delay parleyd adds alone, and as the gap between deltas minus the pace, which
 * also holds the double's own timer jitter. With --think-ms, messages start once every caller
 * is ready, so the connection ramp is not measured as message latency.
 * Time to first token is reported raw (send -> first delta): it includes the double's own
 * first-token delay, which bench/run sets to 0. --idle: connect and hello only, hold, then
 * report memory per idle session. Not a test. */
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
#include "common/err.h"
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
    int ramp_ms;       /* or: spread the connections over this many ms */
    int timeout_s;     /* give up and report after this long */
    bool idle;
    int hold_s;
    int pid;
    double pace_ms;
    int think_ms; /* mean pause before each message (uniform 0..2x), like people typing */
    const char *marker;
    bool json;
};

enum cstate { C_CONNECTING, C_HANDSHAKE, C_HELLO, C_READY, C_DONE };

struct caller {
    uv_tcp_t tcp;
    uv_timer_t think; /* the pause before the next message */
    uv_connect_t connect;
    enum cstate state;
    struct pl_buf hs; /* handshake answer so far */
    char key[WS_FRAME_KEY_LEN + 1];
    struct ws_frame_decoder dec;
    int sent, done;
    uint64_t t_send, t_last_delta, last_stamp;
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
                        .timeout_s = 600,
                        .pace_ms = 50,
                        .marker = "[[tokens:20]]"};
static uv_loop_t *loop;
static struct caller *callers;
static int opened, ready, finished, failed;
static uint64_t deltas;
static struct samples ack_us, ttft_us, relay_us, added_us, double_us;
static uv_timer_t ramp_timer, hold_timer, timeout_timer;
static bool hold_started;
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

/* A cheap unpredictable-enough masking key (xorshift; a load generator needs no CSPRNG). */
static void next_mask(unsigned char mask[4])
{
    static uint32_t x = 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    memcpy(mask, &x, 4);
}

static void send_frame(struct caller *c, int opcode, const char *data, size_t len)
{
    unsigned char mask[4];
    next_mask(mask);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    ws_frame_encode(&b, opcode, true, data, len, mask);
    uv_write_t *req = pl_malloc(sizeof(*req) + b.len);
    memcpy(req + 1, b.data, b.len);
    uv_buf_t buf = uv_buf_init((char *)(req + 1), (unsigned)b.len);
    pl_buf_cleanup(&b);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        pl_free(req);
}

static void report_and_stop(void);

static void on_hold_done(uv_timer_t *t)
{
    (void)t;
    report_and_stop();
}

/* --idle: hold once every caller is ready or has failed. */
static void maybe_hold(void)
{
    if (o.idle && !hold_started && ready + failed >= o.callers) {
        hold_started = true;
        uv_timer_start(&hold_timer, on_hold_done, (uint64_t)o.hold_s * 1000, 0);
    }
}

static void maybe_release(void);

static void caller_failed(struct caller *c, const char *why)
{
    if (c->failed || c->state == C_DONE)
        return;
    if (!why)
        why = "unknown";
    c->failed = true;
    failed++;
    json_object_set_new(errors, why,
                        json_integer(json_integer_value(json_object_get(errors, why)) + 1));
    c->state = C_DONE;
    finished++;
    if (!o.idle && finished == o.callers)
        report_and_stop();
    maybe_hold();
    maybe_release();
}

static void send_message(struct caller *c)
{
    struct pl_buf b;
    pl_buf_init(&b, 65536);
    pl_buf_printf(&b, "{\"type\":\"message\",\"id\":\"m%d\",\"text\":\"How do I file a claim? ",
                  c->sent);
    pl_buf_append_json_escaped(&b, o.marker, strlen(o.marker));
    pl_buf_append_str(&b, "\"}");
    c->sent++;
    c->got_first = false;
    c->last_stamp = 0;
    c->t_send = now_us();
    send_frame(c, WS_TEXT, b.data, b.len);
    pl_buf_cleanup(&b);
}

static void on_think_done(uv_timer_t *t)
{
    send_message(t->data);
}

/* The next message: at once, or after a think pause. */
static void next_message(struct caller *c)
{
    if (o.think_ms <= 0) {
        send_message(c);
        return;
    }
    if (!c->think.data) {
        uv_timer_init(loop, &c->think);
        c->think.data = c;
    }
    uv_timer_start(&c->think, on_think_done, (uint64_t)(rand() % (2 * o.think_ms + 1)), 0);
}

/* The double's send time stamped into a delta's text ("wN@" and 16 digits), or 0. */
static uint64_t stamp_of(const char *data, size_t len)
{
    const char *at = memchr(data, '@', len);
    if (!at || (size_t)(data + len - at) < 17)
        return 0;
    uint64_t v = 0;
    for (int i = 1; i <= 16; i++) {
        if (at[i] < '0' || at[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(at[i] - '0');
    }
    return v;
}

static void start_streaming(void)
{
    t_stream_start = now_us();
    cpu_start_s = server_cpu_s();
}

/* --think-ms: the first messages wait until every caller is ready or has failed (the ramp is
 * set-up, not the steady state being measured). */
static void maybe_release(void)
{
    if (o.idle || o.think_ms <= 0 || t_stream_start || ready + failed < o.callers)
        return;
    start_streaming();
    for (int i = 0; i < o.callers; i++)
        if (callers[i].state == C_READY)
            next_message(&callers[i]);
}

/* Without --think-ms each caller starts the moment it is ready (a burst). */
static void on_ready(struct caller *c)
{
    if (o.think_ms > 0) {
        maybe_release();
        return;
    }
    if (!t_stream_start)
        start_streaming();
    next_message(c);
}

/* The "type" of a server frame: parleyd writes it first, so no JSON parse is needed on this
 * hot path (the harness shares a core with the double and must stay cheap). */
static bool frame_type(const char *data, size_t len, char *type, size_t cap)
{
    static const char prefix[] = "{\"type\":\"";
    size_t pl = sizeof(prefix) - 1;
    if (len <= pl || memcmp(data, prefix, pl) != 0)
        return false;
    const char *end = memchr(data + pl, '"', len - pl);
    if (!end || (size_t)(end - data - pl) >= cap)
        return false;
    memcpy(type, data + pl, (size_t)(end - data - pl));
    type[end - data - pl] = '\0';
    return true;
}

static void on_message(struct caller *c, const char *data, size_t len)
{
    char type[32];
    uint64_t t = now_us();
    if (!frame_type(data, len, type, sizeof(type))) {
        caller_failed(c, "bad_frame");
    } else if (!strcmp(type, "history")) {
        c->state = C_READY;
        ready++;
        if (!o.idle)
            on_ready(c);
        else
            maybe_hold();
    } else if (!strcmp(type, "ack")) {
        add(&ack_us, (double)(t - c->t_send));
    } else if (!strcmp(type, "delta")) {
        deltas++;
        uint64_t stamp = stamp_of(data, len);
        if (stamp) {
            add(&added_us, (double)t - (double)stamp);
            if (c->got_first && c->last_stamp)
                add(&double_us, (double)(stamp - c->last_stamp) - o.pace_ms * 1000.0);
            c->last_stamp = stamp;
        }
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
            next_message(c);
        } else {
            c->state = C_DONE;
            finished++;
            if (finished == o.callers)
                report_and_stop();
        }
    } else if (!strcmp(type, "error")) {
        json_t *j = json_loadb(data, len, 0, NULL);
        caller_failed(c, json_string_value(json_object_get(j, "code")));
        json_decref(j);
    }
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
    if (c->state == C_DONE)
        return;
    if (c->state == C_HANDSHAKE) {
        if (pl_buf_append(&c->hs, buf->base, (size_t)n) != PL_OK) {
            caller_failed(c, "handshake");
            return;
        }
        int head =
            ws_frame_check_response(c->hs.data, c->hs.len, c->key, "parley.chat.v1", NULL, 0);
        if (head == 0)
            return;
        if (head < 0) {
            caller_failed(c, "handshake");
            return;
        }
        ws_frame_decoder_feed(&c->dec, c->hs.data + head, c->hs.len - (size_t)head);
        pl_buf_cleanup(&c->hs);
        c->state = C_HELLO;
        static const char hello[] = "{\"type\":\"hello\"}";
        send_frame(c, WS_TEXT, hello, sizeof(hello) - 1);
    } else if (ws_frame_decoder_feed(&c->dec, buf->base, (size_t)n) != PL_OK) {
        caller_failed(c, "frame_too_large");
        return;
    }
    int op, rc;
    const char *msg;
    size_t len;
    while (c->state != C_DONE && (rc = ws_frame_decoder_next(&c->dec, &op, &msg, &len)) == 1) {
        if (op == WS_TEXT) {
            on_message(c, msg, len);
        } else if (op == WS_PING) {
            char copy[125];
            memcpy(copy, msg, len);
            send_frame(c, WS_PONG, copy, len);
        } else if (op == WS_CLOSE) {
            caller_failed(c, "server_close");
        }
    }
    if (c->state != C_DONE && rc < 0)
        caller_failed(c, "bad_frame");
}

static void on_connect(uv_connect_t *req, int status)
{
    struct caller *c = req->data;
    if (status < 0) {
        caller_failed(c, "connect");
        return;
    }
    c->state = C_HANDSHAKE;
    char host[96];
    snprintf(host, sizeof(host), "%s:%d", o.host, o.port);
    struct pl_buf hs;
    pl_buf_init(&hs, 4096);
    if (ws_frame_client_handshake(&hs, host, o.path, "parley.chat.v1", c->key) != PL_OK) {
        pl_buf_cleanup(&hs);
        caller_failed(c, "handshake");
        return;
    }
    uv_write_t *w = pl_malloc(sizeof(*w) + hs.len);
    memcpy(w + 1, hs.data, hs.len);
    uv_buf_t buf = uv_buf_init((char *)(w + 1), (unsigned)hs.len);
    pl_buf_cleanup(&hs);
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
        pl_buf_init(&c->hs, WS_FRAME_RESPONSE_MAX + 4096);
        ws_frame_decoder_init(&c->dec, 1 << 24);
        uv_tcp_nodelay(&c->tcp, 1);
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect);
    }
    if (opened == o.callers)
        uv_timer_stop(t);
}

static void on_timeout(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "loadgen: --timeout-s %d reached; reporting what was measured\n", o.timeout_s);
    json_object_set_new(errors, "loadgen_timeout", json_integer(1));
    report_and_stop();
}

static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void report_and_stop(void)
{
    static bool reported;
    if (reported)
        return;
    reported = true;
    double secs = (double)(now_us() - (t_stream_start ? t_stream_start : t_start)) / 1e6;
    double cpu = server_cpu_s() - cpu_start_s;
    long rss = server_mem_kb("VmRSS"), hwm = server_mem_kb("VmHWM");
    if (o.idle) {
        double per = ready ? (double)(rss - rss_before_kb) * 1024.0 / ready : 0;
        printf("idle sessions: %d ready, %d failed\n", ready, failed);
        printf("server RSS before %ld KiB, with sessions %ld KiB: %.0f bytes per idle session "
               "(%.2f KiB)\n",
               rss_before_kb, rss, per, per / 1024.0);
        printf("server peak RSS %ld KiB\n", hwm);
        char *e = json_dumps(errors, JSON_COMPACT);
        printf("errors: %s\n", e);
        if (o.json)
            printf("{\"mode\":\"idle\",\"sessions\":%d,\"failed\":%d,\"rss_before_kb\":%ld,"
                   "\"rss_kb\":%ld,\"bytes_per_session\":%.0f,\"peak_kb\":%ld,\"errors\":%s}\n",
                   ready, failed, rss_before_kb, rss, per, hwm, e);
        free(e);
    } else {
        printf("callers %d, messages %d each, marker %s, pace %.0f ms: %.1f s\n", o.callers,
               o.messages, o.marker, o.pace_ms, secs);
        printf("completed %d callers, failed %d, deltas %llu (%.0f/s)\n", finished - failed, failed,
               (unsigned long long)deltas, (double)deltas / secs);
        printf("%-30s %10s %10s %10s\n", "(ms)", "p50", "p99", "max");
        printf("%-30s %10.3f %10.3f %10.3f\n", "ack latency", pct(&ack_us, 50) / 1000,
               pct(&ack_us, 99) / 1000, pct(&ack_us, 100) / 1000);
        printf("%-30s %10.3f %10.3f %10.3f\n", "time to first token (raw)",
               pct(&ttft_us, 50) / 1000, pct(&ttft_us, 99) / 1000, pct(&ttft_us, 100) / 1000);
        printf("%-30s %10.3f %10.3f %10.3f\n", "per-token relay (gap - pace)",
               pct(&relay_us, 50) / 1000, pct(&relay_us, 99) / 1000, pct(&relay_us, 100) / 1000);
        if (added_us.n)
            printf("%-30s %10.3f %10.3f %10.3f\n", "per-token relay (added)",
                   pct(&added_us, 50) / 1000, pct(&added_us, 99) / 1000,
                   pct(&added_us, 100) / 1000);
        if (double_us.n)
            printf("%-30s %10.3f %10.3f %10.3f\n", "(the double's own gap - pace)",
                   pct(&double_us, 50) / 1000, pct(&double_us, 99) / 1000,
                   pct(&double_us, 100) / 1000);
        printf("(time to first token includes the double's first-token delay, 0 in bench/run;"
               " gap - pace = gap between deltas - %.0f ms pace, which holds the double's timer"
               " jitter too; added = receipt - the double's send time stamped in each delta)\n",
               o.pace_ms);
        if (o.pid)
            printf("server CPU %.2f s = %.1f us per delta; RSS before %ld KiB, after %ld KiB, "
                   "peak %ld KiB\n",
                   cpu, deltas ? cpu * 1e6 / (double)deltas : 0, rss_before_kb, rss, hwm);
        char *e = json_dumps(errors, JSON_COMPACT);
        printf("errors: %s\n", e);
        if (o.json)
            printf("{\"mode\":\"stream\",\"callers\":%d,\"failed\":%d,\"deltas\":%llu,"
                   "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ttft_p50_ms\":%.3f,"
                   "\"ttft_p99_ms\":%.3f,\"relay_p50_ms\":%.3f,\"relay_p99_ms\":%.3f,"
                   "\"added_p50_ms\":%.3f,\"added_p99_ms\":%.3f,"
                   "\"ack_max_ms\":%.3f,\"ttft_max_ms\":%.3f,\"relay_max_ms\":%.3f,"
                   "\"cpu_us_per_delta\":%.2f,\"rss_before_kb\":%ld,\"rss_kb\":%ld,"
                   "\"peak_kb\":%ld,\"errors\":%s}\n",
                   o.callers, failed, (unsigned long long)deltas, pct(&ack_us, 50) / 1000,
                   pct(&ack_us, 99) / 1000, pct(&ttft_us, 50) / 1000, pct(&ttft_us, 99) / 1000,
                   pct(&relay_us, 50) / 1000, pct(&relay_us, 99) / 1000, pct(&added_us, 50) / 1000,
                   pct(&added_us, 99) / 1000, pct(&ack_us, 100) / 1000, pct(&ttft_us, 100) / 1000,
                   pct(&relay_us, 100) / 1000, deltas ? cpu * 1e6 / (double)deltas : 0,
                   rss_before_kb, rss, hwm, e);
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
           "               [--token-pace-ms P] [--text-marker \"[[tokens:20]]\"] [--think-ms MS]\n"
           "               [--ramp N (connections per ms) | --ramp-ms MS (open all over MS)]\n"
           "               [--idle [--hold-s S]] [--pid PARLEYD_PID] [--timeout-s S] [--json]\n");
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
        } else if (!strcmp(a, "--ramp-ms")) {
            o.ramp_ms = num(v), i++;
        } else if (!strcmp(a, "--timeout-s")) {
            o.timeout_s = num(v), i++;
        } else if (!strcmp(a, "--hold-s")) {
            o.hold_s = num(v), i++;
        } else if (!strcmp(a, "--pid")) {
            o.pid = num(v), i++;
        } else if (!strcmp(a, "--token-pace-ms")) {
            o.pace_ms = (double)num(v), i++;
        } else if (!strcmp(a, "--think-ms")) {
            o.think_ms = num(v), i++;
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
    uv_timer_init(loop, &timeout_timer);
    if (o.ramp_ms > 0)
        o.ramp_per_tick = (o.callers + o.ramp_ms - 1) / o.ramp_ms;
    if (o.ramp_per_tick < 1)
        o.ramp_per_tick = 1;
    if (o.callers == 0) {
        fprintf(stderr, "loadgen: --callers must be at least 1\n");
        return 2;
    }
    uv_timer_start(&timeout_timer, on_timeout, (uint64_t)o.timeout_s * 1000, 0);
    uv_timer_start(&ramp_timer, on_ramp, 0, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    return failed ? 1 : 0;
}
