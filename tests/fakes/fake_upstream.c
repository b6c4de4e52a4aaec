/* fake_upstream: a test double of the Anthropic Messages API (POST /v1/messages, "stream":
 * true) that speaks its wire format exactly (docs/upstream-anthropic.md): chunked SSE with
 * message_start, content_block_*, ping, message_delta, message_stop ("Stream"), and the error
 * shapes and statuses of "Errors". It checks every request (auth, anthropic-version, body, role
 * order; "Request") and answers a wrong one with a loud 400. Behaviour is chosen by markers in the
 * last user message (README.md). One libuv loop, no blocking: it serves thousands of concurrent
 * streams for benchmarks. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/fakes/fake_bedrock.h"
#include "tests/fakes/fake_embeddings.h"
#include "tests/fakes/fake_openai.h"
#include "tests/fakes/markers.h"

#define REQUEST_MAX (4 * 1024 * 1024 + 64 * 1024)
#define HEADERS_MAX (64 * 1024)
/* [[stamp]]: each token carries this placeholder, replaced by the send time when it is sent. */
#define STAMP_HOLE "################"
#define STAMP_LEN  (sizeof(STAMP_HOLE) - 1)

struct options {
    const char *host;
    int port;
    unsigned pace_ms;
    unsigned first_token_ms;
    const char *ready_file;
    const char *log_path;
    const char *api_key;
    const char *text;
};

static struct options opt = {
    .host = "127.0.0.1",
    .pace_ms = 20,
    .api_key = "test-key",
    .text = "Thank you for your question. Your policy covers water damage from burst pipes, "
            "subject to the excess in your schedule.",
};

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sig_int, sig_term;
static FILE *log_file;
static unsigned long n_requests, n_active;
static json_t *by_behaviour; /* behaviour -> count */
static json_t *flaky_counts; /* marker -> requests seen */
static json_t *prompt_cache; /* model + cached prefix -> 1: prefixes written to the "cache" */

/* Usage of one answer. cached: the request marked a prefix cacheable, so the usage reports the
 * cache fields (and message_delta repeats every count, as the API does); otherwise the bytes
 * stay those of a request without caching. */
struct usage {
    long input, cache_creation, cache_read;
    bool cached;
};

/* What to do when the events run out. */
enum ending { END_FINISH, END_CUT, END_ERROR_CLOSE, END_STALL };

struct conn {
    uv_tcp_t tcp;
    struct pl_buf in;
    bool streaming; /* a response is being sent: later requests wait */
    bool closing;
    /* the stream being sent */
    uv_timer_t timer;
    bool timer_open;
    json_t *events; /* array of strings: whole SSE events */
    size_t next_event;
    unsigned pace_ms;
    enum ending ending;
    void *mode_stream; /* a stream of another mode (fake_bedrock.c) */
    char *delayed;     /* a whole response sent when the timer fires (embeddings [[embed-slow]]) */
    size_t delayed_len;
    /* Bedrock's Messages endpoint: the request whose SSE stream is being sent, logged if the
     * client closes first (0: not logged, the Anthropic mode's log stays one line a request) */
    unsigned long close_logged_n;
};

static void conn_close(struct conn *c);
static void process_input(struct conn *c);

/* ---- writing ---- */

struct write_req {
    uv_write_t req;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    pl_free(req);
}

static void send_bytes(struct conn *c, const char *data, size_t len)
{
    if (c->closing)
        return;
    struct write_req *w = pl_malloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        pl_free(w);
}

static void send_chunk(struct conn *c, const char *data, size_t len)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "%zx\r\n", len);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append(&b, head, (size_t)n);
    pl_buf_append(&b, data, len);
    pl_buf_append(&b, "\r\n", 2);
    send_bytes(c, b.data, b.len);
    pl_buf_cleanup(&b);
}

/* An SSE event as one chunk, with a [[stamp]] placeholder (if any) replaced by the time of
 * sending: microseconds of CLOCK_MONOTONIC (uv_hrtime), which a load generator on the same
 * machine subtracts from its time of receipt to get the relay delay alone. */
static void send_event(struct conn *c, const char *data, size_t len)
{
    const char *hole = strstr(data, STAMP_HOLE);
    if (!hole) {
        send_chunk(c, data, len);
        return;
    }
    char *copy = pl_strndup(data, len);
    char stamp[32]; /* 16 digits hold 3,000 years of uptime */
    snprintf(stamp, sizeof(stamp), "%0*llu", (int)STAMP_LEN,
             (unsigned long long)(uv_hrtime() / 1000) % 10000000000000000ULL);
    memcpy(copy + (hole - data), stamp, STAMP_LEN);
    send_chunk(c, copy, len);
    pl_free(copy);
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 529:
        return "Overloaded";
    default:
        return "Unknown";
    }
}

static void send_response(struct conn *c, int status, const char *extra_headers,
                          const char *content_type, const char *body)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_printf(&b,
                  "HTTP/1.1 %d %s\r\ncontent-type: %s\r\nrequest-id: req_fake_%lu\r\n%s"
                  "content-length: %zu\r\nconnection: keep-alive\r\n\r\n%s",
                  status, status_text(status), content_type, n_requests,
                  extra_headers ? extra_headers : "", strlen(body), body);
    send_bytes(c, b.data, b.len);
    pl_buf_cleanup(&b);
}

static void send_api_error(struct conn *c, int status, const char *type, const char *message,
                           const char *extra_headers)
{
    char request_id[32];
    snprintf(request_id, sizeof(request_id), "req_fake_%lu", n_requests);
    json_t *j = json_pack("{s:s,s:{s:s,s:s},s:s}", "type", "error", "error", "type", type,
                          "message", message, "request_id", request_id);
    char *body = json_dumps(j, JSON_COMPACT);
    send_response(c, status, extra_headers, "application/json", body);
    free(body);
    json_decref(j);
}

/* A request the real API would refuse, or a sign that the client under test is wrong: say so
 * loudly on stderr too, so a test log shows it. */
static void check_failed(struct conn *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check_failed(struct conn *c, int status, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: %s\n", msg);
    send_api_error(c, status, type, msg, NULL);
}

/* ---- SSE stream ---- */

static void add_event(json_t *events, const char *name, json_t *data)
{
    char *d = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    json_array_append_new(events, json_sprintf("event: %s\ndata: %s\n\n", name, d));
    free(d);
}

/* A content_block_delta, written directly: the same bytes json_pack + json_dumps give for the
 * texts this double sends, at a fraction of the cost (a benchmark asks for thousands of
 * answers of hundreds of tokens at once). */
static void add_text_delta(json_t *events, const char *text)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                          "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"");
    pl_buf_append_json_escaped(&b, text, strlen(text));
    pl_buf_append_str(&b, "\"}}\n\n");
    json_array_append_new(events, json_stringn_nocheck(b.data, b.len));
    pl_buf_cleanup(&b);
}

static void stream_done(struct conn *c)
{
    uv_timer_stop(&c->timer);
    json_decref(c->events);
    c->events = NULL;
    c->streaming = false;
    n_active--;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct conn *c = req->data;
    pl_free(req);
    conn_close(c);
}

/* FIN after what was written: a chunked body never gets its last chunk. */
static void conn_shutdown(struct conn *c)
{
    c->closing = true;
    uv_shutdown_t *req = pl_malloc(sizeof(*req));
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        pl_free(req);
        conn_close(c);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->next_event < json_array_size(c->events)) {
        /* One text delta per tick; events between deltas (a ping) go with the next one, so the
         * deltas themselves keep an exact pace. */
        while (c->next_event < json_array_size(c->events)) {
            json_t *e = json_array_get(c->events, c->next_event++);
            send_event(c, json_string_value(e), json_string_length(e));
            if (strstr(json_string_value(e), "\"text_delta\"") ||
                strstr(json_string_value(e), "\"delta\":{\"content\""))
                break;
        }
        uv_timer_start(&c->timer, on_tick, c->pace_ms, 0);
        return;
    }
    switch (c->ending) {
    case END_FINISH:
        send_bytes(c, "0\r\n\r\n", 5);
        stream_done(c);
        process_input(c); /* a pipelined next request */
        break;
    case END_STALL:
        break; /* say nothing more until the client gives up */
    case END_CUT:
    case END_ERROR_CLOSE:
        stream_done(c);
        conn_shutdown(c);
        break;
    }
}

static json_t *usage_json(const struct usage *u, long output, bool with_input)
{
    json_t *j = json_object();
    if (with_input)
        json_object_set_new(j, "input_tokens", json_integer(u->input));
    if (u->cached) {
        json_object_set_new(j, "cache_creation_input_tokens", json_integer(u->cache_creation));
        json_object_set_new(j, "cache_read_input_tokens", json_integer(u->cache_read));
    }
    json_object_set_new(j, "output_tokens", json_integer(output));
    return j;
}

/* The answer of "[[seq:A|B|...]]" for this request: A for the first request carrying the same
 * marker, B for the second, ..., the last one from then on (new string). */
static char *seq_answer(const char *m)
{
    const char *end = strstr(m, "]]");
    char *all = pl_strndup(m, end ? (size_t)(end - m) : strlen(m));
    char key[300];
    snprintf(key, sizeof(key), "seq:%s", all);
    json_int_t seen = json_integer_value(json_object_get(flaky_counts, key));
    json_object_set_new(flaky_counts, key, json_integer(seen + 1));
    const char *alt = all;
    for (json_int_t i = 0; i < seen && strchr(alt, '|'); i++)
        alt = strchr(alt, '|') + 1;
    char *out = pl_strndup(alt, strcspn(alt, "|"));
    pl_free(all);
    return out;
}

static void start_stream(struct conn *c, const char *model, const struct usage *usage,
                         const char *ask, const char *behaviour)
{
    json_t *tokens;
    const char *tm = strstr(ask, "[[text:");
    const char *sq = strstr(ask, "[[seq:");
    long n_tokens = fake_marker_num(ask, "tokens", -1);
    bool stamp = fake_has_marker(ask, "stamp");
    if (sq) {
        char *t = seq_answer(sq + 6);
        tokens = fake_tokens_of(t);
        pl_free(t);
    } else if (tm) {
        const char *end = strstr(tm + 7, "]]");
        char *t = pl_strndup(tm + 7, end ? (size_t)(end - tm - 7) : strlen(tm + 7));
        tokens = fake_tokens_of(t);
        pl_free(t);
    } else if (n_tokens >= 0) {
        tokens = json_array();
        for (long i = 1; i <= n_tokens; i++)
            json_array_append_new(tokens,
                                  json_sprintf("w%ld%s%s%s", i, stamp ? "@" : "",
                                               stamp ? STAMP_HOLE : "", i < n_tokens ? " " : ""));
    } else {
        tokens = fake_tokens_of(opt.text);
    }
    size_t n = json_array_size(tokens);
    bool error_mid = !strcmp(behaviour, "error-mid"), cut = !strcmp(behaviour, "cut");
    bool malformed = !strcmp(behaviour, "malformed"), stall = !strcmp(behaviour, "stall");

    json_t *ev = json_array();
    char msg_id[32];
    snprintf(msg_id, sizeof(msg_id), "msg_fake_%lu", n_requests);
    add_event(ev, "message_start",
              json_pack("{s:s,s:{s:s,s:s,s:s,s:[],s:s,s:n,s:n,s:o}}", "type", "message_start",
                        "message", "id", msg_id, "type", "message", "role", "assistant", "content",
                        "model", model, "stop_reason", "stop_sequence", "usage",
                        usage_json(usage, 1, true)));
    size_t first_delta = 0;
    if (!stall) {
        add_event(ev, "content_block_start",
                  json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_start", "index", 0,
                            "content_block", "type", "text", "text", ""));
        first_delta = json_array_size(ev);
        for (size_t i = 0; i < n; i++) {
            if ((error_mid || cut) && i == 3)
                break;
            if (malformed && i == 2)
                json_array_append_new(ev, json_string("event: content_block_delta\ndata: "
                                                      "{\"type\":\"content_block_delta\",\n\n"));
            add_text_delta(ev, json_string_value(json_array_get(tokens, i)));
            if (i == 1)
                add_event(ev, "ping", json_pack("{s:s}", "type", "ping"));
        }
        if (error_mid) {
            add_event(ev, "error",
                      json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type",
                                "overloaded_error", "message", "Overloaded"));
        } else if (!cut) {
            add_event(ev, "content_block_stop",
                      json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 0));
            add_event(
                ev, "message_delta",
                json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta", "stop_reason",
                          !strcmp(behaviour, "max-tokens") ? "max_tokens" : "end_turn",
                          "stop_sequence", "usage", usage_json(usage, (long)n, usage->cached)));
            add_event(ev, "message_stop", json_pack("{s:s}", "type", "message_stop"));
        }
    }
    json_decref(tokens);
    if (stall)
        first_delta = json_array_size(ev);

    c->events = ev;
    c->next_event = 0;
    c->pace_ms = (unsigned)fake_marker_num(ask, "pace", opt.pace_ms);
    c->ending = stall ? END_STALL : cut ? END_CUT : error_mid ? END_ERROR_CLOSE : END_FINISH;
    c->streaming = true;
    n_active++;
    char head[256];
    int head_len = snprintf(head, sizeof(head),
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                            "cache-control: no-cache\r\nrequest-id: req_fake_%lu\r\n"
                            "transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n",
                            n_requests);
    send_bytes(c, head, (size_t)head_len);
    /* Everything up to the first delta goes at once; the first delta after the first-token
     * delay; the rest at the pace. */
    for (; c->next_event < first_delta; c->next_event++) {
        json_t *e = json_array_get(ev, c->next_event);
        send_chunk(c, json_string_value(e), json_string_length(e));
    }
    long first =
        fake_marker_num(ask, "first", fake_marker_num(ask, "slow-first", opt.first_token_ms));
    if (stall)
        return;
    uv_timer_start(&c->timer, on_tick, (uint64_t)first, 0);
}

/* ---- requests ---- */

/* The text of a message's content: a string or an array of text blocks. NULL if invalid. */
static char *content_text(json_t *content)
{
    if (json_is_string(content))
        return json_string_length(content) ? pl_strdup(json_string_value(content)) : NULL;
    if (!json_is_array(content) || json_array_size(content) == 0)
        return NULL;
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        json_t *text = json_object_get(blk, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text)) {
            pl_buf_cleanup(&b);
            return NULL;
        }
        pl_buf_append_str(&b, json_string_value(text));
    }
    return pl_buf_take(&b);
}

/* The text blocks of `system` up to its last one with cache_control: the prefix to cache
 * (*bytes, 0 when no block has cache_control). NULL, or what is wrong with a cache_control. */
static const char *cached_prefix(json_t *system, long *bytes)
{
    size_t i;
    json_t *blk;
    long sum = 0;
    *bytes = 0;
    json_array_foreach(system, i, blk)
    {
        sum += (long)json_string_length(json_object_get(blk, "text"));
        json_t *cc = json_object_get(blk, "cache_control");
        if (!cc)
            continue;
        const char *type = json_string_value(json_object_get(cc, "type"));
        json_t *ttl = json_object_get(cc, "ttl");
        if (!json_is_object(cc) || !type || strcmp(type, "ephemeral") != 0)
            return "system: cache_control must be {\"type\":\"ephemeral\"}";
        if (json_object_size(cc) != (ttl ? 2u : 1u) ||
            (ttl && (!json_is_string(ttl) || (strcmp(json_string_value(ttl), "5m") != 0 &&
                                              strcmp(json_string_value(ttl), "1h") != 0))))
            return "system: cache_control takes only type and ttl (5m or 1h)";
        *bytes = sum;
    }
    return NULL;
}

static void log_request(const char *method, const char *path, json_t *headers, json_t *body,
                        const char *behaviour)
{
    const char *b = behaviour;
    json_object_set_new(by_behaviour, b,
                        json_integer(json_integer_value(json_object_get(by_behaviour, b)) + 1));
    if (!log_file)
        return;
    json_t *j = json_pack("{s:I,s:f,s:s,s:s,s:O,s:O,s:s}", "n", (json_int_t)n_requests, "t_ms",
                          (double)uv_hrtime() / 1e6, "method", method, "path", path, "headers",
                          headers, "body", body ? body : json_null(), "behaviour", b);
    char *s = json_dumps(j, JSON_COMPACT);
    fprintf(log_file, "%s\n", s);
    fflush(log_file);
    free(s);
    json_decref(j);
}

static const char *const fault_markers[] = {"429-noretry", "429",       "529", "500",
                                            "400",         "error-mid", "cut", "stall",
                                            "malformed",   "max-tokens"};

static void handle_messages(struct conn *c, const char *path, json_t *headers, const char *body,
                            size_t len, bool bedrock)
{
    const char *key = json_string_value(json_object_get(headers, "x-api-key"));
    const char *auth = json_string_value(json_object_get(headers, "authorization"));
    bool auth_ok = (key && !strcmp(key, opt.api_key)) ||
                   (auth && !strncmp(auth, "Bearer ", 7) && !strcmp(auth + 7, opt.api_key));
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    const char *behaviour = "rejected";
    char *last = NULL;
    if (!auth_ok && !bedrock) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: bad or missing API key\n");
        send_api_error(c, 401, "authentication_error", "invalid x-api-key", NULL);
        goto out;
    }
    const char *version = json_string_value(json_object_get(headers, "anthropic-version"));
    if (bedrock) /* checked by the Bedrock mode: the header or the body's anthropic_version */
        version = "2023-06-01";
    if (!version || (strcmp(version, "2023-06-01") && strcmp(version, "2026-10-21"))) {
        check_failed(c, 400, "invalid_request_error", "anthropic-version header %s",
                     version ? "has an unknown value" : "is missing");
        goto out;
    }
    const char *ctype = json_string_value(json_object_get(headers, "content-type"));
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
        check_failed(c, 400, "invalid_request_error", "content-type must be application/json");
        goto out;
    }
    if (!json_is_object(j)) {
        check_failed(c, 400, "invalid_request_error", "body is not a JSON object: %s", jerr.text);
        goto out;
    }
    json_t *model = json_object_get(j, "model");
    json_t *max_tokens = json_object_get(j, "max_tokens");
    json_t *messages = json_object_get(j, "messages");
    json_t *system = json_object_get(j, "system");
    if (!json_is_string(model) || json_string_length(model) == 0) {
        check_failed(c, 400, "invalid_request_error", "model: field required");
        goto out;
    }
    if (!json_is_integer(max_tokens) || json_integer_value(max_tokens) <= 0) {
        check_failed(c, 400, "invalid_request_error", "max_tokens: a positive integer required");
        goto out;
    }
    if (!json_is_true(json_object_get(j, "stream"))) {
        check_failed(c, 400, "invalid_request_error", "this double only streams: stream: true");
        goto out;
    }
    long bytes = 0, prefix_bytes = 0;
    const char *bad_cache = NULL;
    if (system && !json_is_string(system)) {
        char *st = content_text(system);
        if (!st) {
            check_failed(c, 400, "invalid_request_error", "system: a string or text blocks");
            goto out;
        }
        bytes = (long)strlen(st);
        pl_free(st);
        bad_cache = cached_prefix(system, &prefix_bytes);
        if (bad_cache) {
            check_failed(c, 400, "invalid_request_error", "%s", bad_cache);
            goto out;
        }
    } else if (system) {
        bytes = (long)json_string_length(system);
    }
    if (!strcmp(version, "2026-10-21") &&
        (json_object_get(j, "temperature") || json_object_get(j, "top_p") ||
         json_object_get(j, "top_k"))) {
        check_failed(c, 400, "invalid_request_error",
                     "temperature, top_p and top_k are not accepted under 2026-10-21");
        goto out;
    }
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0) {
        check_failed(c, 400, "invalid_request_error", "messages: at least one message required");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *want = i % 2 ? "assistant" : "user";
        if (!role || strcmp(role, want) != 0) {
            check_failed(c, 400, "invalid_request_error",
                         "messages.%zu.role: roles must alternate user/assistant starting "
                         "with user (got %s)",
                         i, role ? role : "none");
            goto out;
        }
        char *text = content_text(json_object_get(m, "content"));
        if (!text) {
            check_failed(c, 400, "invalid_request_error",
                         "messages.%zu.content: a non-empty string or text blocks", i);
            goto out;
        }
        bytes += (long)strlen(text);
        pl_free(last);
        last = text;
        if (i + 1 < n) {
            pl_free(last);
            last = NULL;
        }
    }
    if (n % 2 == 0) {
        check_failed(c, 400, "invalid_request_error", "the last message must be from the user");
        goto out;
    }

    /* Behaviour from the markers of the last user message. */
    behaviour = "normal";
    for (size_t i = 0; i < sizeof(fault_markers) / sizeof(fault_markers[0]); i++) {
        if (fake_has_marker(last, fault_markers[i])) {
            behaviour = fault_markers[i];
            break;
        }
    }
    long flaky = fake_marker_num(last, "flaky", -1);
    if (flaky >= 0) {
        char name[32];
        snprintf(name, sizeof(name), "flaky:%ld", flaky);
        json_int_t seen = json_integer_value(json_object_get(flaky_counts, name));
        json_object_set_new(flaky_counts, name, json_integer(seen + 1));
        if (seen < flaky)
            behaviour = "529";
    }
    if (!strcmp(behaviour, "429"))
        send_api_error(c, 429, "rate_limit_error",
                       "Number of request tokens has exceeded your "
                       "per-minute rate limit",
                       "retry-after: 1\r\n");
    else if (!strcmp(behaviour, "429-noretry"))
        send_api_error(c, 429, "rate_limit_error", "Your workspace has reached its spend limit",
                       NULL);
    else if (!strcmp(behaviour, "529"))
        send_api_error(c, 529, "overloaded_error", "Overloaded", NULL);
    else if (!strcmp(behaviour, "500"))
        send_api_error(c, 500, "api_error", "Internal server error", NULL);
    else if (!strcmp(behaviour, "400"))
        send_api_error(c, 400, "invalid_request_error", "prompt is too long", NULL);
    else {
        struct usage u = {.input = bytes / 4};
        if (prefix_bytes > 0) {
            /* The first request with this prefix writes it to the cache, later ones read it. */
            char *text = content_text(system);
            struct pl_buf kb;
            pl_buf_init(&kb, SIZE_MAX);
            pl_buf_printf(&kb, "%s\n%.*s", json_string_value(model), (int)prefix_bytes, text);
            char *k = pl_buf_take(&kb);
            bool seen = json_object_get(prompt_cache, k) != NULL;
            if (!seen)
                json_object_set_new(prompt_cache, k, json_true());
            pl_free(k);
            pl_free(text);
            u.cached = true;
            u.input = (bytes - prefix_bytes) / 4;
            *(seen ? &u.cache_read : &u.cache_creation) = prefix_bytes / 4;
        }
        start_stream(c, json_string_value(model), &u, last, behaviour);
        c->close_logged_n = bedrock ? n_requests : 0;
    }
out:
    log_request("POST", path, headers, j, behaviour);
    pl_free(last);
    json_decref(j);
}

/* ---- what the Bedrock mode borrows (fake_bedrock.h) ---- */

static unsigned long host_request_number(void)
{
    return n_requests;
}

static void host_send(void *conn, const void *data, size_t len)
{
    send_bytes(conn, data, len);
}

static void host_stream_begin(void *conn, void *stream)
{
    struct conn *c = conn;
    c->mode_stream = stream;
    c->streaming = true;
    n_active++;
}

static void host_stream_end(void *conn, bool close)
{
    struct conn *c = conn;
    c->mode_stream = NULL;
    stream_done(c);
    if (close)
        conn_shutdown(c);
    else
        process_input(c); /* a pipelined next request */
}

static void host_log_event(json_t *event)
{
    if (!log_file)
        return;
    json_object_set_new(event, "t_ms", json_real((double)uv_hrtime() / 1e6));
    char *s = json_dumps(event, JSON_COMPACT);
    fprintf(log_file, "%s\n", s);
    fflush(log_file);
    free(s);
}

static void host_anthropic_messages(void *conn, const char *path, json_t *headers, const char *body,
                                    size_t len)
{
    handle_messages(conn, path, headers, body, len, true);
}

static struct fake_host bedrock_host = {
    .request_number = host_request_number,
    .send = host_send,
    .stream_begin = host_stream_begin,
    .stream_end = host_stream_end,
    .log_request = log_request,
    .log_event = host_log_event,
    .anthropic_messages = host_anthropic_messages,
};

/* The OpenAI-compatible mode (fake_openai.h) decides the answer; this file sends it. */
static void handle_openai(struct conn *c, json_t *headers, const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    struct fake_openai_reply r;
    fake_openai_handle(headers, j, n_requests, flaky_counts, opt.text, &r);
    if (r.status != 200) {
        send_response(c, r.status, r.extra_headers, "application/json", r.body);
    } else {
        c->events = r.events; /* taken */
        r.events = NULL;
        c->next_event = 0;
        c->pace_ms = r.pace_ms >= 0 ? (unsigned)r.pace_ms : opt.pace_ms;
        c->ending = (enum ending)r.ending;
        c->streaming = true;
        n_active++;
        static const char head[] = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                   "transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n";
        send_bytes(c, head, sizeof(head) - 1);
        for (; c->next_event < r.first_delta; c->next_event++) {
            json_t *e = json_array_get(c->events, c->next_event);
            send_chunk(c, json_string_value(e), json_string_length(e));
        }
        if (c->ending != END_STALL)
            uv_timer_start(&c->timer, on_tick,
                           (uint64_t)(r.first_ms >= 0 ? r.first_ms : opt.first_token_ms), 0);
    }
    log_request("POST", "/v1/chat/completions", headers, j, r.behaviour);
    fake_openai_reply_cleanup(&r);
    json_decref(j);
}

static void on_delayed(uv_timer_t *t)
{
    struct conn *c = t->data;
    send_bytes(c, c->delayed, c->delayed_len);
    pl_free(c->delayed);
    c->delayed = NULL;
    stream_done(c);
    process_input(c); /* a pipelined next request */
}

/* The embeddings mode (fake_embeddings.h) decides the answer; this file sends it, late when a
 * marker says so (the connection is busy meanwhile, as while streaming). */
static void handle_embeddings(struct conn *c, const char *path, json_t *headers, const char *body,
                              size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    struct fake_emb_reply r;
    fake_embeddings_handle(path, headers, body, len, &r);
    log_request("POST", path, headers, j, r.behaviour);
    json_decref(j);
    if (r.delay_ms <= 0) {
        send_response(c, r.status, r.extra_headers, "application/json", r.body);
    } else {
        struct pl_buf b;
        pl_buf_init(&b, SIZE_MAX);
        pl_buf_printf(&b,
                      "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%scontent-length: "
                      "%zu\r\nconnection: keep-alive\r\n\r\n%s",
                      r.status, r.status == 200 ? "OK" : "Error", r.extra_headers, strlen(r.body),
                      r.body);
        c->delayed_len = b.len;
        c->delayed = pl_buf_take(&b);
        c->streaming = true;
        n_active++;
        uv_timer_start(&c->timer, on_delayed, (uint64_t)r.delay_ms, 0);
    }
    free(r.body);
}

static void send_stats(struct conn *c)
{
    json_t *j = json_pack("{s:I,s:I,s:O}", "requests", (json_int_t)n_requests, "active_streams",
                          (json_int_t)n_active, "by_behaviour", by_behaviour);
    char *s = json_dumps(j, JSON_COMPACT);
    send_response(c, 200, NULL, "application/json", s);
    free(s);
    json_decref(j);
}

/* Parse and answer whole requests waiting in c->in, unless a response is streaming. */
static void process_input(struct conn *c)
{
    while (!c->streaming && !c->closing && c->in.len) {
        char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!end) {
            if (c->in.len > HEADERS_MAX)
                conn_close(c);
            return;
        }
        size_t head_len = (size_t)(end - c->in.data) + 4;
        char *head = pl_strndup(c->in.data, head_len);
        char method[16] = "", path[512] = "";
        if (sscanf(head, "%15s %511s", method, path) != 2) {
            pl_free(head);
            conn_close(c);
            return;
        }
        json_t *headers = json_object();
        long content_length = 0;
        bool chunked = false;
        for (char *line = strstr(head, "\r\n") + 2; line < head + head_len - 2;) {
            char *eol = strstr(line, "\r\n");
            char *colon = memchr(line, ':', (size_t)(eol - line));
            if (colon) {
                char *name = pl_strndup(line, (size_t)(colon - line));
                for (char *p = name; *p; p++)
                    *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                const char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                json_object_set_new(headers, name, json_stringn(v, (size_t)(eol - v)));
                if (!strcmp(name, "content-length"))
                    content_length = strtol(v, NULL, 10);
                if (!strcmp(name, "transfer-encoding") && strncasecmp(v, "chunked", 7) == 0)
                    chunked = true;
                pl_free(name);
            }
            line = eol + 2;
        }
        pl_free(head);
        if (chunked) {
            json_decref(headers);
            send_response(c, 411, NULL, "text/plain", "send a content-length\n");
            pl_buf_reset(&c->in);
            return;
        }
        if (c->in.len < head_len + (size_t)content_length) {
            json_decref(headers);
            return; /* body still coming */
        }
        n_requests++;
        const char *body = c->in.data + head_len;
        if (!strcmp(method, "POST") && !strcmp(path, "/v1/messages")) {
            handle_messages(c, path, headers, body, (size_t)content_length, false);
        } else if (fake_embeddings_route(method, path)) {
            handle_embeddings(c, path, headers, body, (size_t)content_length);
        } else if (fake_bedrock_route(method, path)) {
            fake_bedrock_handle(&bedrock_host, c, path, headers, body, (size_t)content_length);
        } else if (!strcmp(method, "POST") && !strcmp(path, "/v1/chat/completions")) {
            handle_openai(c, headers, body, (size_t)content_length);
        } else if (!strcmp(method, "GET") && !strcmp(path, "/healthz")) {
            send_response(c, 200, NULL, "text/plain", "ok");
        } else if (!strcmp(method, "GET") && !strcmp(path, "/stats")) {
            send_stats(c);
        } else {
            log_request(method, path, headers, NULL, "not_found");
            send_api_error(c, 404, "not_found_error", "Not found", NULL);
        }
        json_decref(headers);
        pl_buf_consume(&c->in, head_len + (size_t)content_length);
    }
}

/* ---- connections ---- */

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (c->timer_open) {
        c->timer_open = false;
        uv_close((uv_handle_t *)&c->timer, on_closed);
        return;
    }
    pl_buf_cleanup(&c->in);
    pl_free(c->delayed);
    pl_free(c);
}

static void conn_close(struct conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (c->mode_stream) {
        fake_bedrock_conn_closed(c->mode_stream);
        c->mode_stream = NULL;
    } else if (c->streaming && c->events && c->close_logged_n) {
        json_t *e =
            json_pack("{s:s,s:I,s:I}", "event", "client_closed", "n", (json_int_t)c->close_logged_n,
                      "events_unsent", (json_int_t)(json_array_size(c->events) - c->next_event));
        host_log_event(e);
        json_decref(e);
    }
    if (c->streaming)
        stream_done(c);
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = pl_malloc(suggested);
    buf->len = suggested;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
    } else if (n > 0) {
        if (pl_buf_append(&c->in, buf->base, (size_t)n) != 0) {
            send_api_error(c, 413, "request_too_large", "Request exceeds the maximum size", NULL);
            conn_close(c);
        } else {
            process_input(c);
        }
    }
    pl_free(buf->base);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = pl_calloc(1, sizeof(*c));
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->timer_open = true;
    pl_buf_init(&c->in, REQUEST_MAX);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&server) {
        conn_close(h->data);
        return;
    }
    if (h->type == UV_TIMER)
        return; /* closed with its connection */
    uv_close(h, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    uv_walk(loop, close_walk, NULL);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: fake_upstream [--port N] [--host H] [--pace-ms MS] [--first-token-ms MS]\n"
            "                     [--ready-file PATH] [--log PATH] [--api-key KEY] [--text T]\n"
            "A test double of the Anthropic Messages streaming API; see tests/fakes/README.md.\n");
    fake_bedrock_usage(f);
}

static bool parse_args(int argc, char **argv)
{
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "fake_upstream: %s needs a value\n", a);
            return false;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            opt.port = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--pace-ms"))
            opt.pace_ms = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--first-token-ms"))
            opt.first_token_ms = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ready-file"))
            opt.ready_file = v;
        else if (!strcmp(a, "--log"))
            opt.log_path = v;
        else if (!strcmp(a, "--api-key"))
            opt.api_key = v;
        else if (!strcmp(a, "--text"))
            opt.text = v;
        else if ((rc = fake_bedrock_option(a, v)) != 0) {
            if (rc < 0) {
                fprintf(stderr, "fake_upstream: bad value for %s\n", a);
                return false;
            }
        } else if (!fake_openai_option(a, v)) {
            fprintf(stderr, "fake_upstream: unknown option %s\n", a);
            usage(stderr);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    if (!parse_args(argc, argv))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    bedrock_host.loop = loop;
    bedrock_host.pace_ms = opt.pace_ms;
    bedrock_host.first_token_ms = opt.first_token_ms;
    bedrock_host.text = opt.text;
    by_behaviour = json_object();
    flaky_counts = json_object();
    prompt_cache = json_object();
    if (opt.log_path && !(log_file = fopen(opt.log_path, "a"))) {
        fprintf(stderr, "fake_upstream: cannot open %s: %s\n", opt.log_path, strerror(errno));
        return 1;
    }
    struct sockaddr_in addr;
    uv_ip4_addr(opt.host, opt.port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc) {
        fprintf(stderr, "fake_upstream: cannot listen on %s:%d: %s\n", opt.host, opt.port,
                uv_strerror(rc));
        return 1;
    }
    struct sockaddr_in bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    int port = ntohs(bound.sin_port);
    if (opt.ready_file) {
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "%s.tmp", opt.ready_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
            rename(tmp, opt.ready_file);
        }
    }
    printf("fake_upstream listening on %s:%d\n", opt.host, port);
    fflush(stdout);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop);
    json_decref(by_behaviour);
    json_decref(flaky_counts);
    json_decref(prompt_cache);
    if (log_file)
        fclose(log_file);
    return rc == 0 ? 0 : 1;
}
