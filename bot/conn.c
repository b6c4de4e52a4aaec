/* A client connection: HTTP/1.1, then perhaps a WebSocket; see conn.h. The connection goes
 *
 *   HTTP (HEAD -> BODY -> ANSWERING -> HEAD ...) --101--> WEBSOCKET
 *      \____________________________________________________\____--> CLOSING --> closed
 *
 * HTTP answers one request at a time: bytes that arrive while a request is answered wait in
 * `in` (bounded; reading stops beyond) and are parsed once its answer is written. A framing error
 * answers with Connection: close and ends the connection: nothing after it is read as a
 * request. CLOSING sends FIN once everything is written and waits (briefly, reading and dropping)
 * for the peer's EOF, so that the peer reads the last answer or close frame instead of a reset. */
#include "bot/conn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bot/http_kb.h"
#include "bot/http_server.h"
#include "bot/origin.h"
#include "bot/trusted_proxies.h"
#include "bot/webhook_auth.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ws_rx.h"

#define HTTP_BODY_MAX     (1024 * 1024)
#define HTTP_RESPONSE_MAX (64 * 1024 * 1024)
#define CLOSE_LINGER_MS   2000 /* after FIN, how long the peer has to close its side */
#define WS_CLOSE_WAIT_MS  1000 /* after our close frame, how long the peer has to answer it */
#define CONTROL_WINDOW_MS 10000

enum phase { PHASE_HTTP, PHASE_WEBSOCKET, PHASE_CLOSING };
enum http_state { HTTP_HEAD, HTTP_BODY, HTTP_ANSWERING };

struct conn {
    struct bot_server *srv;
    const struct conn_transport *tp;
    void *handle;
    char peer[64];
    char address_key[64]; /* the acceptor's per-address key (conn_set_address_key); after a
                             WebSocket handshake through a trusted proxy, its client's */
    bool via_proxy;       /* from a trusted proxy (conn_set_via_proxy) */
    enum phase phase;
    uv_timer_t timer; /* deadlines, pings, and closing from outside the transport's calls */
    bool killing;     /* to be closed from the timer, which is due at once */
    bool paused;      /* reading stopped by us */
    /* HTTP */
    enum http_state hs;
    struct http_parser *parser;
    struct pl_buf in;            /* bytes received and not yet parsed */
    bool request_begun;          /* a byte of the next request arrived */
    uint64_t deadline;           /* HEAD/BODY: when the request must be in */
    struct http_server_req *req; /* the request being read or answered */
    uint64_t body_left;
    /* WebSocket */
    const struct ws_endpoint *ep;
    void *app;
    struct ws_rx rx;
    uint64_t last_rx, ping_sent;
    unsigned controls;
    uint64_t controls_since;
    bool close_sent;
    uint64_t close_deadline; /* after close_sent (WEBSOCKET) or in CLOSING */
    bool fin_pending;        /* CLOSING: FIN goes once everything is written */
    /* accepted past the connection cap (bot/acceptor.h): one health check, nothing else */
    bool health_only;
    void (*refused)(void *ud);
    void *refused_ud;
};

static void on_timer(uv_timer_t *t);

static uint64_t now_ms(const struct conn *c)
{
    return uv_now(c->srv->loop);
}

void conn_serve_health_checks_only(struct conn *c, void (*refused)(void *ud), void *ud)
{
    c->health_only = true;
    c->refused = refused;
    c->refused_ud = ud;
}

void conn_set_address_key(struct conn *c, const char *key)
{
    snprintf(c->address_key, sizeof(c->address_key), "%s", key ? key : "");
}

void conn_set_via_proxy(struct conn *c, bool via_proxy)
{
    c->via_proxy = via_proxy;
}

const char *conn_address_key(const struct conn *c)
{
    return c->address_key;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}

struct bot_server *conn_server(const struct conn *c)
{
    return c->srv;
}

static void arm(struct conn *c, uint64_t ms)
{
    if (c->handle && !c->killing)
        uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
}

static void pause_rx(struct conn *c, bool pause)
{
    if (c->paused == pause || !c->handle || c->killing)
        return;
    c->paused = pause;
    c->tp->pause_rx(c->handle, pause);
}

/* Close as soon as the loop runs: from the timer, never inside a call that may still use the
 * connection or its protocol's objects. */
static void close_soon(struct conn *c)
{
    if (c->killing || !c->handle)
        return;
    c->killing = true;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* Everything is said: FIN once it is written, then wait for the peer's EOF. */
static void close_gracefully(struct conn *c)
{
    if (c->phase == PHASE_CLOSING)
        return;
    c->phase = PHASE_CLOSING;
    c->fin_pending = true;
    c->close_deadline = now_ms(c) + CLOSE_LINGER_MS;
    pause_rx(c, false); /* read (and drop) until the peer closes */
    arm(c, CLOSE_LINGER_MS);
    c->tp->want_writable(c->handle);
}

/* ---- HTTP: answers ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* Should the connection close after this request's answer? */
static bool closes_after(const struct http_server_req *r)
{
    return r->close_after || !r->head.keep_alive || r->streaming || r->srv->shutting_down;
}

/* The status line and headers of r's answer into r->resp; `len` is the body's length (ignored
 * for a stream, which has none: it ends with the connection). */
static void write_head(struct http_server_req *r, const char *content_type, size_t len)
{
    struct pl_buf *b = &r->resp;
    pl_buf_printf(b, "HTTP/1.1 %d %s\r\n", r->status, reason_phrase(r->status));
    if (content_type)
        pl_buf_printf(b, "content-type: %s\r\n", content_type);
    if (!r->streaming && r->status != 204)
        pl_buf_printf(b, "content-length: %zu\r\n", len);
    pl_buf_append_str(b, "cache-control: no-store\r\nx-content-type-options: nosniff\r\n");
    if (r->streaming) /* proxies such as nginx pass each event on at once */
        pl_buf_append_str(b, "x-accel-buffering: no\r\n");
    if (r->allow)
        pl_buf_printf(b, "allow: %s\r\n", r->allow);
    if (r->retry_after_s)
        pl_buf_printf(b, "retry-after: %u\r\n", (unsigned)r->retry_after_s);
    if (r->extra_headers)
        pl_buf_append_str(b, r->extra_headers);
    if (r->cors_origin)
        pl_buf_printf(b, "access-control-allow-origin: %s\r\n", r->cors_origin);
    if (r->head.has_origin)
        pl_buf_append_str(b, "vary: origin\r\n");
    if (closes_after(r))
        pl_buf_append_str(b, "connection: close\r\n");
    else if (r->head.version_minor == 0)
        pl_buf_append_str(b, "connection: keep-alive\r\n");
    pl_buf_append_str(b, "\r\n");
}

/* Write what r's answer has ready, if the transport keeps nothing; once all of it is out,
 * finish (from the next writable call, so that a route never sees its request finished inside
 * its own reply). */
static void http_flush(struct conn *c)
{
    struct http_server_req *r = c->req;
    if (!r || !r->answered || c->killing || !c->handle)
        return;
    if (c->tp->pending(c->handle)) {
        c->tp->want_writable(c->handle);
        return;
    }
    if (r->resp.len) {
        if (c->tp->write(c->handle, (const unsigned char *)r->resp.data, r->resp.len) != 0) {
            close_soon(c);
            return;
        }
        pl_buf_reset(&r->resp);
    }
    if (!r->streaming || r->stream_ended)
        r->final_written = true;
    if (r->final_written)
        c->tp->want_writable(c->handle);
}

void http_server_ref(struct http_server_req *r)
{
    r->refs++;
}

void http_server_unref(struct http_server_req *r)
{
    if (--r->refs > 0)
        return;
    pl_buf_cleanup(&r->body);
    pl_buf_cleanup(&r->resp);
    pl_free(r->head_store);
    pl_free(r);
}

void http_server_reply(struct http_server_req *r, int status, const char *content_type,
                       const void *body, size_t len)
{
    if (r->answered || !r->conn)
        return;
    r->answered = true;
    r->status = status;
    pl_buf_reset(&r->resp);
    write_head(r, content_type ? content_type : "application/json", len);
    if (strcmp(r->method, "HEAD") != 0)
        pl_buf_append(&r->resp, body, len);
    http_flush(r->conn);
}

void http_server_reply_error_after(struct http_server_req *r, enum api_error code,
                                   const char *message, uint32_t retry_after_ms)
{
    struct pl_buf b;
    pl_buf_init(&b, 64 * 1024);
    pl_buf_append_str(&b, "{\"error\":{\"code\":\"");
    pl_buf_append_str(&b, api_error_code(code));
    pl_buf_append_str(&b, "\",\"message\":\"");
    const char *m = message ? message : api_error_message(code);
    pl_buf_append_json_escaped(&b, m, strlen(m));
    pl_buf_printf(&b, "\",\"retryable\":%s", api_error_retryable(code) ? "true" : "false");
    if (retry_after_ms)
        pl_buf_printf(&b, ",\"retry_after_ms\":%u", (unsigned)retry_after_ms);
    pl_buf_append_str(&b, "}}");
    r->retry_after_s = (uint32_t)((retry_after_ms + 999ULL) / 1000);
    http_server_reply(r, api_error_status(code), NULL, b.data, b.len);
    pl_buf_cleanup(&b);
}

void http_server_reply_error(struct http_server_req *r, enum api_error code, const char *message)
{
    http_server_reply_error_after(r, code, message, 0);
}

const char *http_server_peer(const struct http_server_req *r)
{
    return r->client_key;
}

void http_server_reply_method_not_allowed(struct http_server_req *r, const char *allow)
{
    r->allow = allow;
    char msg[128];
    snprintf(msg, sizeof(msg), "%.40s is not allowed on this path; use %s", r->method, allow);
    http_server_reply_error(r, API_ERR_METHOD_NOT_ALLOWED, msg);
}

void http_server_stream_begin(struct http_server_req *r, int status, const char *content_type)
{
    if (r->answered || !r->conn)
        return;
    r->answered = true;
    r->streaming = true;
    r->status = status;
    pl_buf_reset(&r->resp);
    write_head(r, content_type, 0);
    http_flush(r->conn);
}

int http_server_stream_write(struct http_server_req *r, const void *data, size_t len)
{
    struct conn *c = r->conn;
    if (!c || c->killing || !r->streaming || r->stream_ended)
        return PL_ECLOSED;
    if (r->resp.len + len > r->srv->cfg->send_queue_bytes) {
        PL_LOG(PL_LOG_WARN, "http", "%s %s: client too slow (%zu bytes queued); closing", r->method,
               r->path, r->resp.len);
        r->stream_ended = true;
        pl_buf_reset(&r->resp);
        close_soon(c);
        return PL_ETOOBIG;
    }
    pl_buf_append(&r->resp, data, len);
    http_flush(c);
    return PL_OK;
}

void http_server_stream_end(struct http_server_req *r)
{
    if (!r->conn || !r->streaming || r->stream_ended)
        return;
    r->stream_ended = true;
    http_flush(r->conn);
}

void http_server_release_hooks(struct http_server_req *r)
{
    r->on_close = NULL;
    r->route_data = NULL;
}

/* The connection is done with r (answered and written, or the socket closed). */
static void detach(struct conn *c)
{
    struct http_server_req *r = c->req;
    if (!r)
        return;
    c->req = NULL;
    r->conn = NULL;
    void (*on_close)(struct http_server_req *) = r->on_close;
    r->on_close = NULL;
    if (on_close)
        on_close(r);
    http_server_unref(r);
}

/* ---- HTTP: requests ---- */

static void wait_for_request(struct conn *c)
{
    c->hs = HTTP_HEAD;
    c->request_begun = c->in.len > 0;
    c->deadline = now_ms(c) + c->srv->cfg->request_timeout_ms;
    arm(c, c->srv->cfg->request_timeout_ms);
}

static struct http_server_req *new_request(struct conn *c)
{
    struct http_server_req *r = pl_calloc(1, sizeof(*r));
    r->srv = c->srv;
    r->conn = c;
    r->refs = 1;
    r->method = r->path = r->query = r->authorization = r->content_type = r->accept = r->origin =
        "";
    pl_buf_init(&r->body, HTTP_BODY_MAX);
    pl_buf_init(&r->resp, HTTP_RESPONSE_MAX + 64 * 1024);
    c->req = r;
    c->hs = HTTP_ANSWERING;
    c->deadline = 0;
    return r;
}

/* A request that cannot be read further (a framing error, a timeout, an answer before its
 * body): answer it and close, so that nothing after it is read as a request. */
static void refuse(struct conn *c, struct http_server_req *r, enum api_error code,
                   const char *message)
{
    r->close_after = true;
    pl_buf_reset(&c->in);
    PL_LOG(PL_LOG_DEBUG, "http", "%s: %d %s (%s)", c->peer, api_error_status(code),
           api_error_code(code), message ? message : api_error_message(code));
    http_server_reply_error(r, code, message);
}

static void dispatch(struct conn *c)
{
    struct http_server_req *r = c->req;
    c->hs = HTTP_ANSWERING;
    c->deadline = 0;
    r->srv->http_dispatch(r);
}

/* Sec-WebSocket-Key: base64 of 16 bytes (RFC 6455 section 4.2.1), in its canonical form. */
static bool ws_key_valid(const char *k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (strlen(k) != 24 || strcmp(k + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++) {
        if (!strchr(b64, k[i]) || !k[i])
            return false;
    }
    return strchr("AQgw", k[21]) != NULL; /* the last 4 bits are padding */
}

static void ws_open(struct conn *c, const struct ws_endpoint *ep);

/* A request for a WebSocket path (or any request with Upgrade: websocket). */
static void ws_handshake(struct conn *c, struct http_server_req *r)
{
    const struct ws_endpoint *ep = NULL;
    for (size_t i = 0; i < c->srv->ws_endpoint_count; i++) {
        if (!strcmp(r->path, c->srv->ws_endpoints[i]->path))
            ep = c->srv->ws_endpoints[i];
    }
    const struct http_head *h = &r->head;
    if (!ep) {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no WebSocket at this path");
        return;
    }
    if (!h->upgrade_websocket) {
        r->extra_headers = "upgrade: websocket\r\n";
        http_server_reply_error(r, API_ERR_UPGRADE_REQUIRED, NULL);
        return;
    }
    if (strcmp(r->method, "GET") != 0) {
        http_server_reply_method_not_allowed(r, "GET");
        return;
    }
    const char *bad = NULL;
    if (h->version_minor != 1)
        bad = "a WebSocket handshake needs HTTP/1.1";
    else if (!h->connection_upgrade)
        bad = "a WebSocket handshake needs Connection: Upgrade";
    else if (h->has_content_length && h->content_length > 0)
        bad = "a WebSocket handshake has no body";
    if (bad) {
        refuse(c, r, API_ERR_BAD_REQUEST, bad);
        return;
    }
    if (strcmp(h->sec_websocket_version, "13") != 0) {
        r->extra_headers = "upgrade: websocket\r\nsec-websocket-version: 13\r\n";
        http_server_reply_error(r, API_ERR_UPGRADE_REQUIRED,
                                "this server speaks WebSocket version 13");
        return;
    }
    if (!ws_key_valid(h->sec_websocket_key)) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, "missing or malformed Sec-WebSocket-Key");
        return;
    }
    if (!http_head_lists(h, "Sec-WebSocket-Protocol", ep->subprotocol)) {
        char msg[120];
        snprintf(msg, sizeof(msg), "offer the WebSocket subprotocol %s", ep->subprotocol);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, msg);
        return;
    }
    char accept[WS_FRAME_ACCEPT_LEN + 1];
    ws_frame_accept_key(h->sec_websocket_key, accept);
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                     "connection: Upgrade\r\nsec-websocket-accept: %s\r\n"
                     "sec-websocket-protocol: %s\r\n\r\n",
                     accept, ep->subprotocol);
    if (c->tp->write(c->handle, (const unsigned char *)resp, (size_t)n) != 0) {
        close_soon(c);
        return;
    }
    r->answered = true;
    /* The WebSocket is one client's from now on: its limits count under that client. */
    conn_set_address_key(c, r->client_key);
    detach(c);
    ws_open(c, ep);
}

/* CORS preflight (OPTIONS with Access-Control-Request-Method) for the HTTP API, from an allowed
 * origin. */
static void preflight(struct http_server_req *r)
{
    r->extra_headers = "access-control-allow-methods: GET, POST, PUT, DELETE\r\n"
                       "access-control-allow-headers: authorization, content-type, accept\r\n"
                       "access-control-max-age: 600\r\n";
    http_server_reply(r, 204, NULL, "", 0);
}

/* The address r counts under for per-address limits: its connection's, or for a request from a
 * trusted proxy, the client X-Forwarded-For names (bot/trusted_proxies.h). */
static void client_address(struct conn *c, struct http_server_req *r)
{
    snprintf(r->client_key, sizeof(r->client_key), "%s", c->address_key);
    if (!c->via_proxy)
        return;
    const char *values[HTTP_HEAD_MAX_FIELDS];
    size_t n = 0;
    for (size_t i = 0; i < r->head.nfields; i++)
        if (!strcasecmp(r->head.fields[i].name, "X-Forwarded-For"))
            values[n++] = r->head.fields[i].value;
    char key[CONN_PEER_KEY_LEN];
    enum forwarded_result fr = trusted_proxies_client(c->srv->trusted_proxies, values, n, key);
    if (fr == FORWARDED_CLIENT)
        snprintf(r->client_key, sizeof(r->client_key), "%s", key);
    else if (fr == FORWARDED_MALFORMED)
        PL_LOG(PL_LOG_DEBUG, "http",
               "%s: X-Forwarded-For names no address where the proxies end: counted as the "
               "proxy's own request",
               c->peer);
}

/* The head of a request is complete in c->parser. */
static void begin_request(struct conn *c)
{
    struct http_server_req *r = new_request(c);
    r->head_store = http_parser_take(c->parser, &r->head);
    const struct http_head *h = &r->head;
    r->method = h->method;
    r->path = h->path;
    r->query = h->query;
    r->authorization = h->authorization;
    r->content_type = h->content_type;
    r->origin = h->origin;
    const char *accept = http_head_field(h, "Accept");
    r->accept = accept ? accept : "";
    client_address(c, r);
    bool has_body = h->content_length > 0;
    if (c->health_only) {
        r->close_after = true; /* one answer, then the slot goes back to the reserve */
        if (strcmp(r->method, "GET") != 0 ||
            (strcmp(r->path, "/healthz") != 0 && strcmp(r->path, "/readyz") != 0 &&
             strcmp(r->path, "/metrics") != 0)) {
            c->refused(c->refused_ud);
            refuse(c, r, API_ERR_AT_CAPACITY, NULL);
            return;
        }
    }
    /* Knowledge-base documents are larger than any other body (bot/http_kb.h). */
    if (!strcmp(r->path, "/v1/kb/documents") && !strcmp(r->method, "POST"))
        r->body.max = HTTP_KB_BODY_MAX;
    /* A Lex or Connect event is small (bot/webhook_auth.h). */
    if (!strcmp(r->path, "/v1/lex") || !strcmp(r->path, "/v1/connect"))
        r->body.max = WEBHOOK_BODY_MAX;
    if (h->content_length > r->body.max) {
        refuse(c, r, API_ERR_TOO_LARGE,
               r->body.max == HTTP_BODY_MAX      ? "request body is larger than 1 MiB"
               : r->body.max == WEBHOOK_BODY_MAX ? "a webhook event is larger than 128 KiB"
                                                 : "request body is larger than 12 MiB");
        return;
    }
    if (h->has_origin) {
        if (!origin_allowed(c->srv->origins, h->origin, h->host)) {
            /* A page of another site: nothing it asks is done (a WebSocket is not opened). */
            if (has_body)
                r->close_after = true; /* its body is not read */
            PL_LOG(PL_LOG_DEBUG, "http", "%s: %s %s from origin %s refused", c->peer, r->method,
                   r->path, h->origin);
            http_server_reply_error(r, API_ERR_ORIGIN_FORBIDDEN, NULL);
            return;
        }
        r->cors_origin = h->origin;
    }
    bool ws_path = false;
    for (size_t i = 0; i < c->srv->ws_endpoint_count; i++)
        ws_path = ws_path || !strcmp(r->path, c->srv->ws_endpoints[i]->path);
    if (ws_path || h->upgrade_websocket) {
        ws_handshake(c, r);
        return;
    }
    if (!strcmp(r->method, "OPTIONS") && h->has_origin &&
        http_head_field(h, "Access-Control-Request-Method") && !strncmp(r->path, "/v1/", 4)) {
        if (has_body)
            r->close_after = true;
        preflight(r);
        return;
    }
    if (has_body) {
        if (h->expect_continue && h->version_minor == 1 && c->in.len == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (c->tp->write(c->handle, (const unsigned char *)cont, sizeof(cont) - 1) != 0) {
                close_soon(c);
                return;
            }
        }
        c->hs = HTTP_BODY;
        c->body_left = h->content_length;
        c->deadline = now_ms(c) + c->srv->cfg->request_timeout_ms;
        arm(c, c->srv->cfg->request_timeout_ms);
        pl_buf_reserve(&r->body, (size_t)h->content_length);
        return;
    }
    dispatch(c);
}

/* Most bytes kept for requests after the one being answered (pipelining); reading stops
 * beyond until that answer is written. */
static size_t pipeline_max(const struct conn *c)
{
    return c->srv->cfg->max_header_bytes + 64 * 1024;
}

static void ws_input(struct conn *c, char *data, size_t len);

/* Parse and act on what `in` holds, as far as the state allows. */
static void http_process(struct conn *c)
{
    while (c->phase == PHASE_HTTP && !c->killing && c->handle) {
        if (c->hs == HTTP_ANSWERING) {
            pause_rx(c, c->in.len > pipeline_max(c));
            return;
        }
        if (c->in.len == 0)
            return;
        if (c->hs == HTTP_BODY) {
            size_t n = c->in.len < c->body_left ? c->in.len : (size_t)c->body_left;
            pl_buf_append(&c->req->body, c->in.data, n);
            pl_buf_consume(&c->in, n);
            c->body_left -= n;
            if (c->body_left == 0)
                dispatch(c);
            continue;
        }
        if (!c->request_begun) {
            c->request_begun = true;
            c->deadline = now_ms(c) + c->srv->cfg->request_timeout_ms;
            arm(c, c->srv->cfg->request_timeout_ms);
        }
        if (!c->parser) {
            c->parser = pl_malloc(sizeof(*c->parser));
            http_parser_init(c->parser, c->srv->cfg->max_header_bytes);
        }
        size_t used;
        enum http_parse_status st = http_parser_feed(c->parser, c->in.data, c->in.len, &used);
        pl_buf_consume(&c->in, used);
        if (st == HTTP_PARSE_MORE)
            return;
        if (st == HTTP_PARSE_ERROR) {
            struct http_server_req *r = new_request(c);
            r->head.keep_alive = false;
            refuse(c, r, c->parser->error, c->parser->message);
            return;
        }
        begin_request(c);
    }
    if (c->phase == PHASE_WEBSOCKET && c->in.len > 0 && !c->killing) {
        /* Frames sent right behind the handshake. */
        struct pl_buf rest = c->in;
        pl_buf_init(&c->in, 0);
        ws_input(c, rest.data, rest.len);
        pl_buf_cleanup(&rest);
    }
}

/* The answer of c->req is written whole: on to the next request, or close. */
static void finish_request(struct conn *c)
{
    bool close = closes_after(c->req);
    detach(c);
    if (close) {
        close_gracefully(c);
        return;
    }
    wait_for_request(c);
    pause_rx(c, false);
    http_process(c);
}

/* ---- WebSocket ---- */

/* Send a control frame (ping, pong, close) of at most 125 bytes. */
static int ws_control_send(struct conn *c, int opcode, const void *payload, size_t len)
{
    unsigned char frame[WS_FRAME_SERVER_HEADER_MAX + 125];
    size_t h = ws_frame_server_header(frame, opcode, true, len);
    if (len)
        memcpy(frame + h, payload, len);
    return c->tp->write(c->handle, frame, h + len);
}

void conn_ws_close(struct conn *c, uint16_t code, const char *reason)
{
    if (!c->handle || c->killing || c->phase != PHASE_WEBSOCKET || c->close_sent)
        return;
    unsigned char payload[125];
    size_t n = strlen(reason);
    if (n > sizeof(payload) - 2)
        n = sizeof(payload) - 2;
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    memcpy(payload + 2, reason, n);
    c->close_sent = true;
    if (ws_control_send(c, WS_CLOSE, payload, n + 2) != 0) {
        close_soon(c);
        return;
    }
    c->close_deadline = now_ms(c) + WS_CLOSE_WAIT_MS;
    arm(c, WS_CLOSE_WAIT_MS);
}

/* The client broke RFC 6455 (or a limit): close with `code`, reading no further. */
static void ws_fail(struct conn *c, uint16_t code, const char *why)
{
    PL_LOG(PL_LOG_DEBUG, "ws", "%s: closing with %u: %s", c->peer, code, why);
    conn_ws_close(c, code, why);
    close_gracefully(c);
}

bool conn_ws_can_send(const struct conn *c)
{
    return c->handle && !c->killing && c->phase == PHASE_WEBSOCKET && !c->close_sent &&
           !c->tp->pending(c->handle);
}

int conn_ws_send(struct conn *c, int opcode, unsigned char *payload, size_t len)
{
    if (!c->handle || c->killing || c->phase != PHASE_WEBSOCKET || c->close_sent)
        return PL_ECLOSED;
    size_t h = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    ws_frame_server_header(payload - h, opcode, true, len);
    if (c->tp->write(c->handle, payload - h, h + len) != 0) {
        close_soon(c);
        return PL_EIO;
    }
    return PL_OK;
}

void conn_ws_want_writable(struct conn *c)
{
    if (c->handle && !c->killing)
        c->tp->want_writable(c->handle);
}

static void ws_open(struct conn *c, const struct ws_endpoint *ep)
{
    c->phase = PHASE_WEBSOCKET;
    if (c->parser) {
        http_parser_cleanup(c->parser);
        pl_free(c->parser);
        c->parser = NULL;
    }
    ws_rx_init(&c->rx);
    c->ep = ep;
    c->last_rx = c->controls_since = now_ms(c);
    arm(c, (uint64_t)c->srv->cfg->ping_interval_s * 1000);
    pause_rx(c, false);
    c->app = ep->open(c->srv, c);
}

/* A ping, pong or close from the client. */
static void ws_control(struct conn *c, const struct ws_rx_event *ev)
{
    if (ev->opcode == WS_CLOSE) {
        if (!c->close_sent) {
            /* Answer with its code (none if it had none), then close. */
            unsigned char echo[2] = {(unsigned char)(ev->close_code >> 8),
                                     (unsigned char)ev->close_code};
            c->close_sent = true;
            if (ws_control_send(c, WS_CLOSE, echo, ev->close_code == WS_CLOSE_NO_STATUS ? 0 : 2))
                close_soon(c);
        }
        close_gracefully(c);
        return;
    }
    uint64_t now = now_ms(c);
    if (now - c->controls_since >= CONTROL_WINDOW_MS) {
        c->controls_since = now;
        c->controls = 0;
    }
    uint32_t max = c->srv->cfg->max_control_frames;
    if (max && ++c->controls > max) {
        ws_fail(c, WS_CLOSE_POLICY, "too many control frames");
        return;
    }
    if (ev->opcode == WS_PING && !c->close_sent &&
        ws_control_send(c, WS_PONG, ev->data, ev->len) != 0)
        close_soon(c);
}

static void ws_input(struct conn *c, char *data, size_t len)
{
    c->last_rx = now_ms(c);
    while (len > 0 && c->phase == PHASE_WEBSOCKET && !c->killing) {
        struct ws_rx_event ev;
        size_t n = ws_rx_next(&c->rx, data, len, &ev);
        data += n;
        len -= n;
        switch (ev.kind) {
        case WS_RX_NONE:
            return;
        case WS_RX_FAIL:
            ws_fail(c, ev.close_code, ev.reason);
            return;
        case WS_RX_CONTROL:
            ws_control(c, &ev);
            break;
        case WS_RX_DATA:
            if (c->close_sent || !c->app)
                break; /* closing: data is no longer delivered */
            if (c->ep->receive(c->app, ev.data, ev.len, ev.first, ev.final,
                               ev.opcode == WS_BINARY) < 0)
                close_soon(c);
            break;
        }
    }
}

/* Keepalive: a ping after ping_interval of silence; closed when the silence lasts as long
 * again after it. */
static int ws_timer(struct conn *c)
{
    uint64_t now = now_ms(c);
    if (c->close_sent) {
        if (now >= c->close_deadline)
            return -1; /* the peer did not answer our close */
        arm(c, c->close_deadline - now);
        return 0;
    }
    uint64_t interval = (uint64_t)c->srv->cfg->ping_interval_s * 1000;
    if (c->ping_sent && c->last_rx < c->ping_sent) {
        if (now - c->ping_sent >= interval) {
            conn_ws_close(c, WS_CLOSE_GOING_AWAY, "no answer to ping");
            return 0;
        }
        arm(c, c->ping_sent + interval - now);
        return 0;
    }
    uint64_t idle = now - c->last_rx;
    if (idle < interval) {
        arm(c, interval - idle);
        return 0;
    }
    c->ping_sent = now;
    if (ws_control_send(c, WS_PING, NULL, 0) != 0)
        return -1;
    arm(c, interval);
    return 0;
}

/* ---- the transport's calls ---- */

struct conn *conn_open(struct bot_server *srv, const struct conn_transport *tp, void *handle,
                       const char *peer)
{
    struct conn *c = pl_calloc(1, sizeof(*c));
    c->srv = srv;
    c->tp = tp;
    c->handle = handle;
    snprintf(c->peer, sizeof(c->peer), "%s", peer && *peer ? peer : "unix");
    c->phase = PHASE_HTTP;
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    pl_buf_init(&c->in, pipeline_max(c) + 1024 * 1024);
    wait_for_request(c);
    return c;
}

int conn_on_data(struct conn *c, char *data, size_t len)
{
    if (c->killing)
        return 0;
    switch (c->phase) {
    case PHASE_CLOSING:
        return 0; /* dropped while waiting for the peer to close */
    case PHASE_WEBSOCKET:
        ws_input(c, data, len);
        return 0;
    case PHASE_HTTP:
        if (pl_buf_append(&c->in, data, len) != PL_OK)
            return -1; /* cannot happen: reading stops well before */
        http_process(c);
        return 0;
    }
    return 0;
}

int conn_on_writable(struct conn *c)
{
    if (c->killing)
        return 0;
    switch (c->phase) {
    case PHASE_CLOSING:
        if (c->fin_pending) {
            c->fin_pending = false;
            c->tp->shutdown_write(c->handle);
        }
        return 0;
    case PHASE_WEBSOCKET:
        if (c->close_sent)
            return 0;
        return c->ep->writeable(c->app);
    case PHASE_HTTP:
        if (c->req && c->req->answered) {
            http_flush(c);
            if (c->req && c->req->final_written && !c->tp->pending(c->handle))
                finish_request(c);
        }
        return 0;
    }
    return 0;
}

/* What the timer found due: 0, or -1 to close now. */
static int timer_due(struct conn *c)
{
    if (c->killing)
        return -1;
    uint64_t now = now_ms(c);
    switch (c->phase) {
    case PHASE_CLOSING:
        if (now >= c->close_deadline)
            return -1;
        arm(c, c->close_deadline - now);
        return 0;
    case PHASE_WEBSOCKET:
        return ws_timer(c);
    case PHASE_HTTP:
        if (c->hs == HTTP_ANSWERING || !c->deadline)
            return 0; /* the route has its own deadlines */
        if (now < c->deadline) {
            arm(c, c->deadline - now);
            return 0;
        }
        if (c->hs == HTTP_HEAD && !c->request_begun)
            return -1; /* an idle keep-alive connection */
        {
            struct http_server_req *r = c->hs == HTTP_BODY ? c->req : new_request(c);
            refuse(c, r, API_ERR_REQUEST_TIMEOUT, NULL);
        }
        return 0;
    }
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->handle && timer_due(c) < 0)
        c->tp->close(c->handle); /* conn_on_closed runs inside: `c` is not used after */
}

static void on_timer_closed(uv_handle_t *h)
{
    pl_free(h->data);
}

void conn_on_closed(struct conn *c)
{
    c->handle = NULL;
    detach(c);
    if (c->app) {
        c->ep->closed(c->app);
        c->app = NULL;
    }
    if (c->parser) {
        http_parser_cleanup(c->parser);
        pl_free(c->parser);
        c->parser = NULL;
    }
    pl_buf_cleanup(&c->in);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed); /* frees `c` */
}
