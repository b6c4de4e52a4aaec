/* One JSON-over-WebSocket connection; see json_ws.h. */
#include "bot/json_ws.h"

#include <stdio.h>
#include <string.h>

#include "bot/chat_proto.h"
#include "bot/conn.h"
#include "bot/outbuf.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ws_rx.h"

struct json_ws_out {
    struct json_ws_out *next;
    size_t len; /* payload bytes after the LWS_PRE headroom */
    unsigned char data[];
};

static void on_hello_deadline(uv_timer_t *t);

void json_ws_open(struct json_ws *ws, const struct json_ws_ops *ops, struct bot_server *srv,
                  struct conn *conn)
{
    memset(ws, 0, sizeof(*ws));
    ws->ops = ops;
    ws->srv = srv;
    ws->conn = conn;
    ws->refs = 2; /* the socket's and the hello timer's (until its handle has closed) */
    pl_buf_init(&ws->rx, srv->cfg->max_frame_bytes);
    uv_timer_init(srv->loop, &ws->hello_timer);
    ws->hello_timer.data = ws;
    ws->hello_timer_open = true;
    uv_timer_start(&ws->hello_timer, on_hello_deadline, srv->cfg->hello_timeout_ms, 0);
    if (srv->shutting_down)
        conn_ws_want_writable(conn); /* in the last moments: closed at once with 1001 */
}

void json_ws_ref(struct json_ws *ws)
{
    ws->refs++;
}

void json_ws_unref(struct json_ws *ws)
{
    if (--ws->refs == 0)
        ws->ops->release(ws);
}

void json_ws_cleanup(struct json_ws *ws)
{
    while (ws->out_head) {
        struct json_ws_out *f = ws->out_head;
        ws->out_head = f->next;
        pl_free(f);
    }
    ws->out_tail = NULL;
    pl_buf_cleanup(&ws->rx);
}

static const char *who(const struct json_ws *ws)
{
    const char *w = ws->ops->who ? ws->ops->who(ws) : NULL;
    return w && *w ? w : "-";
}

/* ---- sending ---- */

struct pl_buf *json_ws_frame(struct json_ws *ws)
{
    outbuf_restart(&ws->srv->frame);
    return &ws->srv->frame;
}

void json_ws_send(struct json_ws *ws, struct pl_buf *frame)
{
    size_t payload = outbuf_len(frame);
    if (!ws->conn || ws->too_slow || ws->write_failed || ws->close_sent || payload == 0)
        return;
    if (!ws->out_head && conn_ws_can_send(ws->conn)) {
        /* Nothing queued and the transport keeps no unsent rest of an earlier write: write
         * now. Going through WRITEABLE costs two poll changes (epoll_ctl) and a loop pass per
         * frame, about a quarter of the relay's CPU (bench/RESULTS.md). When the socket is
         * full, the transport keeps the rest of this one frame and the next ones wait in our
         * bounded queue. The frame header goes into the headroom: no copy. */
        if (conn_ws_send(ws->conn, WS_TEXT, outbuf_payload(frame), payload) != PL_OK)
            ws->write_failed = true; /* the connection is closing */
        return;
    }
    struct json_ws_out *f = pl_malloc(sizeof(*f) + frame->len);
    f->next = NULL;
    f->len = payload;
    memcpy(f->data, frame->data, frame->len);
    if (ws->out_tail)
        ws->out_tail->next = f;
    else
        ws->out_head = f;
    ws->out_tail = f;
    ws->out_bytes += payload;
    if (ws->out_bytes > ws->srv->cfg->send_queue_bytes) {
        /* The client does not read fast enough; closing bounds our memory. */
        ws->too_slow = true;
        ws->srv->metrics.slow_clients_dropped++;
        PL_LOG(PL_LOG_WARN, ws->ops->log_tag, "%s=%s: client too slow (%zu bytes queued); closing",
               ws->ops->who_label, who(ws), ws->out_bytes);
    }
    conn_ws_want_writable(ws->conn);
}

void json_ws_send_error(struct json_ws *ws, enum api_error code, const char *message,
                        uint32_t retry_after_ms)
{
    struct pl_buf *b = json_ws_frame(ws);
    chat_out_error_retry_after(b, code, message, retry_after_ms);
    json_ws_send(ws, b);
    ws->srv->metrics.errors_sent++;
}

/* Close with `code` and `why` (the connection does the close handshake: bot/conn.h). */
static int close_with(struct json_ws *ws, uint16_t code, const char *why)
{
    if (ws->close_sent)
        return 0;
    ws->close_sent = true;
    conn_ws_close(ws->conn, code, why);
    return 0;
}

/* With nothing left to send: a close decided, or during shutdown 1001, so that the client knows
 * to reconnect (an answer it was getting is finished and stored meanwhile). */
static int going_away(struct json_ws *ws)
{
    if (ws->close_code)
        return close_with(ws, ws->close_code, ws->close_why);
    if (!ws->srv->shutting_down)
        return 0;
    return close_with(ws, WS_CLOSE_GOING_AWAY, "server restarting; reconnect to continue");
}

int json_ws_writeable(void *app)
{
    struct json_ws *ws = app;
    if (ws->write_failed)
        return -1;
    if (ws->close_sent)
        return 0; /* waiting for the connection to go */
    if (ws->too_slow)
        return close_with(ws, WS_CLOSE_POLICY, "client too slow");
    /* A client that lagged has several frames queued: send them while the socket has room. */
    do {
        struct json_ws_out *f = ws->out_head;
        if (!f)
            return going_away(ws);
        if (conn_ws_send(ws->conn, WS_TEXT, f->data + LWS_PRE, f->len) != PL_OK)
            return -1;
        ws->out_head = f->next;
        if (!ws->out_head)
            ws->out_tail = NULL;
        ws->out_bytes -= f->len;
        pl_free(f);
    } while (ws->out_head && conn_ws_can_send(ws->conn));
    if (ws->out_head)
        conn_ws_want_writable(ws->conn);
    else
        return going_away(ws);
    return 0;
}

void json_ws_close_when_flushed(struct json_ws *ws, uint16_t code, const char *why)
{
    if (ws->close_code || !ws->conn)
        return;
    ws->close_code = code;
    snprintf(ws->close_why, sizeof(ws->close_why), "%s", why);
    conn_ws_want_writable(ws->conn); /* json_ws_receive drops what arrives meanwhile */
}

bool json_ws_closing(const struct json_ws *ws)
{
    return !ws->conn || ws->close_code || ws->close_sent;
}

/* ---- hello ---- */

static void on_hello_timer_closed(uv_handle_t *h)
{
    json_ws_unref(h->data);
}

/* The deadline is over: hello completed, or the socket closed. */
static void hello_timer_done(struct json_ws *ws)
{
    if (!ws->hello_timer_open)
        return;
    ws->hello_timer_open = false;
    uv_timer_stop(&ws->hello_timer);
    uv_close((uv_handle_t *)&ws->hello_timer, on_hello_timer_closed);
}

static void on_hello_deadline(uv_timer_t *t)
{
    struct json_ws *ws = t->data;
    hello_timer_done(ws);
    if (!ws->conn || ws->ready || ws->close_code)
        return;
    ws->srv->metrics.hello_timeouts++;
    char why[100];
    snprintf(why, sizeof(why), "no hello within %u ms: send hello first after connecting",
             ws->srv->cfg->hello_timeout_ms);
    json_ws_close_when_flushed(ws, WS_CLOSE_POLICY, why);
}

void json_ws_hello_failed(struct json_ws *ws, enum api_error code, const char *message,
                          uint32_t retry_after_ms)
{
    json_ws_send_error(ws, code, message, retry_after_ms);
    if (++ws->hello_failures < ws->srv->cfg->max_hello_attempts)
        return;
    ws->srv->metrics.hello_attempts_exceeded++;
    char why[100];
    snprintf(why, sizeof(why), "%u failed hellos: check the token, then reconnect",
             ws->hello_failures);
    json_ws_close_when_flushed(ws, WS_CLOSE_POLICY, why);
}

void json_ws_ready(struct json_ws *ws)
{
    ws->ready = true;
    hello_timer_done(ws);
}

/* ---- receiving ---- */

int json_ws_receive(void *app, const void *data, size_t len, bool first, bool final, bool binary)
{
    struct json_ws *ws = app;
    if (ws->close_code)
        return 0; /* closing after an error that said why: nothing more is read */
    if (first) {
        pl_buf_reset(&ws->rx);
        ws->rx_discard = false;
    }
    if (!ws->rx_discard && pl_buf_append(&ws->rx, data, len) != PL_OK) {
        char msg[120];
        snprintf(msg, sizeof(msg), "message is larger than %u bytes",
                 ws->srv->cfg->max_frame_bytes);
        json_ws_send_error(ws, API_ERR_TOO_LARGE, msg, 0);
        ws->rx_discard = true;
        pl_buf_reset(&ws->rx);
    }
    if (!final)
        return 0;
    if (ws->rx_discard) {
        ws->rx_discard = false;
        return 0;
    }
    if (binary)
        json_ws_send_error(ws, API_ERR_BAD_REQUEST,
                           "binary frames are not supported; send JSON text frames", 0);
    else
        ws->ops->frame(ws, ws->rx.data ? ws->rx.data : "", ws->rx.len);
    pl_buf_reset(&ws->rx);
    return 0;
}

void json_ws_closed(void *app)
{
    struct json_ws *ws = app;
    ws->conn = NULL;
    hello_timer_done(ws);
    if (ws->ops->closed)
        ws->ops->closed(ws);
    json_ws_unref(ws);
}
