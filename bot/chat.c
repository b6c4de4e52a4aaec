/* The caller WebSocket protocol; see chat.h. A connection goes NEW (waiting for hello) ->
 * OPENING (session being created or loaded) -> READY, when it becomes a listener of its session
 * in the turn engine. Frames to the caller are written at once when the socket has room, else
 * queued (bounded) and written from WRITEABLE; a client that lets the queue pass
 * send_queue_bytes is disconnected (the turn goes on and is stored, so it can reconnect and
 * resume). Async operations hold a reference on the conn, so a closed socket never leaves a
 * dangling pointer behind. */
#include "bot/chat.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <libwebsockets.h>

#include "bot/auth_token.h"
#include "bot/chat_proto.h"
#include "bot/outbuf.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ws_frame.h"
#include "sessions/conversation_order.h"
#include "sessions/session_store.h"

#define FRAME_BYTES_MAX   (16 * 1024 * 1024)
#define FRAME_BYTES_USUAL (480 - LWS_PRE) /* with the headroom: a malloc bin of 512 */

enum conn_state { CONN_NEW, CONN_OPENING, CONN_READY };

struct out_frame {
    struct out_frame *next;
    size_t len; /* payload bytes after the LWS_PRE headroom */
    unsigned char data[];
};

struct chat_conn {
    struct turn_listener listener; /* of its session, while READY */
    struct bot_server *srv;
    struct lws *wsi; /* NULL once the socket closed */
    enum conn_state state;
    int refs;
    char sid[SESS_ID_LEN + 1]; /* "" until hello succeeds */
    struct pl_buf rx;
    bool rx_discard; /* dropping the rest of an oversized message */
    struct out_frame *out_head, *out_tail;
    size_t out_bytes;
    bool too_slow;
    bool write_failed;
    bool close_sent; /* our close frame is out: nothing more is sent */
    char sub[129];   /* token subject, carried into refreshed tokens */
    bool has_resume;
    long resume_turn, resume_seq;
};

/* A message waiting for its acknowledgement. */
struct append_op {
    struct chat_conn *conn;
    char *client_id;
};

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void conn_ref(struct chat_conn *c)
{
    c->refs++;
}

static void conn_unref(struct chat_conn *c)
{
    if (--c->refs > 0)
        return;
    while (c->out_head) {
        struct out_frame *f = c->out_head;
        c->out_head = f->next;
        pl_free(f);
    }
    pl_buf_cleanup(&c->rx);
    pl_free(c);
}

/* ---- sending ---- */

void chat_frames_init(struct pl_buf *frame)
{
    outbuf_begin(frame, FRAME_BYTES_MAX, FRAME_BYTES_USUAL);
}

/* The one frame buffer of this process (loop thread only): every frame is built here in turn
 * and written or copied into a connection's queue before the next is built, so no frame, and
 * in particular no delta, costs an allocation. */
static struct pl_buf *frame_buf(struct chat_conn *c)
{
    outbuf_restart(&c->srv->frame);
    return &c->srv->frame;
}

static void conn_send(struct chat_conn *c, struct pl_buf *frame)
{
    size_t payload = outbuf_len(frame);
    if (!c->wsi || c->too_slow || c->write_failed || c->close_sent || payload == 0)
        return;
    if (!c->out_head && !lws_partial_buffered(c->wsi)) {
        /* Nothing queued and lws holds no unsent rest of an earlier write: write now. Going
         * through WRITEABLE costs two poll changes (epoll_ctl) and a loop pass per frame,
         * about a quarter of the relay's CPU (bench/RESULTS.md). When the socket is full, lws
         * keeps the rest of this one frame and the next ones wait in our bounded queue. */
        int n = lws_write(c->wsi, outbuf_payload(frame), payload, LWS_WRITE_TEXT);
        if (n < (int)payload) {
            c->write_failed = true; /* closed from the WRITEABLE callback */
            lws_callback_on_writable(c->wsi);
        }
        return;
    }
    struct out_frame *f = pl_malloc(sizeof(*f) + frame->len);
    f->next = NULL;
    f->len = payload;
    memcpy(f->data, frame->data, frame->len);
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    c->out_bytes += payload;
    if (c->out_bytes > c->srv->cfg->send_queue_bytes) {
        /* The caller does not read fast enough; closing bounds our memory. */
        c->too_slow = true;
        c->srv->metrics.slow_clients_dropped++;
        PL_LOG(PL_LOG_WARN, "chat", "sess=%s: client too slow (%zu bytes queued); closing",
               c->sid[0] ? c->sid : "-", c->out_bytes);
    }
    lws_callback_on_writable(c->wsi);
}

static void send_error(struct chat_conn *c, enum api_error code, const char *message)
{
    struct pl_buf *b = frame_buf(c);
    chat_out_error(b, code, message);
    conn_send(c, b);
    c->srv->metrics.errors_sent++;
}

/* Close with `code` and `why`, writing the close frame ourselves (as raw bytes: the lws 4.1.6
 * API has no close opcode for lws_write). lws_close_reason + returning -1 does not work there:
 * built with _DEBUG on libuv, lws closes a connection twice when a callback returns -1 (its "uv
 * repeat test"), and the second close kills the socket before the close frame is sent. The
 * caller's answering close is not waited for: reading stops, and the connection goes after a
 * second at most. */
static int close_with(struct chat_conn *c, uint16_t code, const char *why)
{
    if (c->close_sent)
        return 0;
    unsigned char payload[125];
    size_t n = strlen(why);
    if (n > sizeof(payload) - 2)
        n = sizeof(payload) - 2;
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    memcpy(payload + 2, why, n);
    struct pl_buf frame;
    outbuf_begin(&frame, 256, 256);
    ws_frame_encode(&frame, WS_CLOSE, true, payload, n + 2, NULL);
    size_t len = outbuf_len(&frame);
    int written = lws_write(c->wsi, outbuf_payload(&frame), len, LWS_WRITE_RAW);
    pl_buf_cleanup(&frame);
    c->close_sent = true;
    if (written < (int)len)
        return -1;
    lws_rx_flow_control(c->wsi, 0);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, 1);
    return 0;
}

/* With nothing left to send: during shutdown, close with 1001 so that the caller knows to
 * reconnect (the answer it was getting is finished and stored meanwhile). */
static int going_away(struct chat_conn *c)
{
    if (!c->srv->shutting_down)
        return 0;
    return close_with(c, LWS_CLOSE_STATUS_GOINGAWAY, "server restarting; reconnect to continue");
}

int chat_conn_writeable(struct chat_conn *c)
{
    if (c->write_failed)
        return -1;
    if (c->close_sent)
        return 0; /* waiting for the connection to go */
    if (c->too_slow)
        return close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client too slow");
    /* A caller that lagged has several frames queued: send them while the socket has room. */
    struct out_frame *f;
    do {
        f = c->out_head;
        if (!f)
            return going_away(c);
        int n = lws_write(c->wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
        if (n < (int)f->len)
            return -1;
        c->out_head = f->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_bytes -= f->len;
        pl_free(f);
    } while (c->out_head && !lws_partial_buffered(c->wsi));
    if (c->out_head)
        lws_callback_on_writable(c->wsi);
    else
        return going_away(c);
    return 0;
}

/* ---- the connection as a listener of its session ---- */

static struct chat_conn *conn_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct chat_conn, listener);
}

static void on_turn_start(struct turn_listener *l, long turn)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = frame_buf(c);
    chat_out_turn_start(b, turn);
    conn_send(c, b);
}

/* The per-token path: encoded into the shared frame and written at once. */
static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = frame_buf(c);
    chat_out_delta(b, turn, seq, text, len);
    conn_send(c, b);
}

static void on_error(struct turn_listener *l, long turn, enum api_error code, const char *message)
{
    (void)turn;
    send_error(conn_of(l), code, message);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = frame_buf(c);
    chat_out_turn_end(b, end);
    conn_send(c, b);
}

static const struct turn_listener_ops conn_listener_ops = {
    .turn_start = on_turn_start,
    .delta = on_delta,
    .error = on_error,
    .turn_end = on_turn_end,
};

static void send_ready(struct chat_conn *c, const char *sid, bool resumed)
{
    const struct bot_config *cfg = c->srv->cfg;
    struct auth_claims claims;
    memset(&claims, 0, sizeof(claims));
    snprintf(claims.sub, sizeof(claims.sub), "%s", c->sub);
    claims.role = AUTH_ROLE_CALLER;
    snprintf(claims.sid, sizeof(claims.sid), "%s", sid);
    claims.iat = wall_ms() / 1000;
    claims.exp = claims.iat + cfg->token_ttl_s;
    char *token =
        auth_token_mint((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret), &claims);
    struct pl_buf *b = frame_buf(c);
    chat_out_ready(b, sid, token, resumed);
    conn_send(c, b);
    pl_free(token);
}

static void send_history(struct chat_conn *c, const struct sess_entry *entries, size_t n)
{
    struct chat_history_item *items = pl_calloc(n ? n : 1, sizeof(*items));
    const struct sess_entry **ordered = pl_calloc(n ? n : 1, sizeof(*ordered));
    sess_conversation_order(entries, n, ordered);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sess_entry *e = ordered[i];
        if (strcmp(e->role, "assistant") == 0 && e->text_len == 0)
            continue; /* a failed or empty answer: nothing to show */
        items[k].role = e->role;
        items[k].text = e->text;
        items[k].turn = e->turn;
        items[k].ts_ms = e->ts_ms;
        items[k].stop_reason = e->stop_reason[0] ? e->stop_reason : NULL;
        k++;
    }
    struct pl_buf *b = frame_buf(c);
    chat_out_history(b, items, k);
    conn_send(c, b);
    pl_free(items);
    pl_free(ordered);
}

/* Ready: the session is this connection's, and it listens to it from now on. */
static void become_ready(struct chat_conn *c, const char *sid, const struct turn_replay *from)
{
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    c->state = CONN_READY;
    c->listener.ops = &conn_listener_ops;
    turn_listen(c->srv->engine, sid, &c->listener, from);
}

/* ---- hello ---- */

static void on_created(void *ud, int status, const struct sess_record *rec)
{
    struct chat_conn *c = ud;
    if (!c->wsi) {
        conn_unref(c);
        return;
    }
    if (status != PL_OK) {
        c->state = CONN_NEW;
        send_error(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        conn_unref(c);
        return;
    }
    c->srv->metrics.sessions_created++;
    snprintf(c->sub, sizeof(c->sub), "anonymous-%.12s", rec->id);
    send_ready(c, rec->id, false);
    send_history(c, NULL, 0);
    become_ready(c, rec->id, NULL);
    PL_LOG(PL_LOG_INFO, "chat", "sess=%s created (anonymous web caller)", rec->id);
    conn_unref(c);
}

static void on_opened(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct chat_conn *c = ud;
    if (!c->wsi) {
        conn_unref(c);
        return;
    }
    if (status == PL_ENOTFOUND) {
        c->state = CONN_NEW;
        send_error(c, API_ERR_SESSION_GONE, NULL);
    } else if (status != PL_OK) {
        c->state = CONN_NEW;
        send_error(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        send_ready(c, rec->id, true);
        send_history(c, entries, n);
        const struct turn_replay from = {.turn = c->resume_turn, .after_seq = c->resume_seq};
        become_ready(c, rec->id, c->has_resume ? &from : NULL);
        /* Acknowledged messages without an answer (the instance that took them stopped):
         * answer them now. A turn answered meanwhile ends with the answer that covered it. */
        turn_recover(c->srv->engine, rec->id, rec->answered, rec->turns);
        PL_LOG(PL_LOG_INFO, "chat", "sess=%s resumed (%zu entries)", rec->id, n);
    }
    conn_unref(c);
}

static void handle_hello(struct chat_conn *c, const struct chat_in *in)
{
    const struct bot_config *cfg = c->srv->cfg;
    if (c->state != CONN_NEW) {
        send_error(c, API_ERR_BAD_REQUEST, "hello was already sent on this connection");
        return;
    }
    int rc;
    if (in->token) {
        struct auth_claims claims;
        const struct auth_verify_opts o = {.now_s = wall_ms() / 1000,
                                           .max_ttl_s = cfg->max_token_ttl_s};
        const char *why;
        rc = auth_token_check((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret),
                              in->token, &o, &claims, &why);
        if (rc == PL_EEXPIRED) {
            send_error(c, API_ERR_TOKEN_EXPIRED,
                       "the token has expired; get a new one from the site and reconnect");
            return;
        }
        if (rc != PL_OK) {
            send_error(c, API_ERR_UNAUTHORIZED, why);
            return;
        }
        if (claims.role != AUTH_ROLE_CALLER) {
            send_error(c, API_ERR_FORBIDDEN,
                       "this endpoint is for callers; agents use /v1/agent with parley.agent.v1");
            return;
        }
        if (!sess_id_valid(claims.sid)) {
            send_error(c, API_ERR_UNAUTHORIZED, "the token names no session");
            return;
        }
        snprintf(c->sub, sizeof(c->sub), "%s", claims.sub);
        c->has_resume = in->has_resume;
        c->resume_turn = in->resume_turn;
        c->resume_seq = in->resume_seq;
        rc = sess_open(c->srv->store, claims.sid, cfg->history_entries, on_opened, c);
    } else {
        if (!cfg->allow_anonymous) {
            send_error(c, API_ERR_UNAUTHORIZED,
                       "a token is required: anonymous sessions are disabled on this server");
            return;
        }
        rc = sess_create(c->srv->store, "web", NULL, on_created, c);
    }
    if (rc) {
        send_error(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    conn_ref(c);
    c->state = CONN_OPENING;
}

/* ---- message ---- */

static void on_ack(void *ud, enum api_error err, long turn, bool duplicate)
{
    (void)duplicate;
    struct append_op *op = ud;
    struct chat_conn *c = op->conn;
    if (err) {
        send_error(c, err,
                   err == API_ERR_STORAGE_UNAVAILABLE
                       ? "your message could not be saved (storage unavailable); please resend it"
                       : NULL);
    } else {
        struct pl_buf *b = frame_buf(c);
        chat_out_ack(b, op->client_id, turn);
        conn_send(c, b);
        c->srv->metrics.messages_total++;
    }
    conn_unref(c);
    pl_free(op->client_id);
    pl_free(op);
}

static void handle_message(struct chat_conn *c, struct chat_in *in)
{
    struct append_op *op = pl_calloc(1, sizeof(*op));
    op->conn = c;
    op->client_id = in->id ? pl_strdup(in->id) : NULL;
    enum api_error err =
        turn_submit(c->srv->engine, c->sid, in->id, in->text, in->text_len, on_ack, op);
    if (err) {
        pl_free(op->client_id);
        pl_free(op);
        send_error(c, err,
                   err == API_ERR_STORAGE_UNAVAILABLE
                       ? "your message could not be saved (storage unavailable); please resend it"
                       : NULL);
        return;
    }
    conn_ref(c);
}

/* ---- frames in ---- */

static void handle_frame(struct chat_conn *c, const char *data, size_t len)
{
    const struct bot_config *cfg = c->srv->cfg;
    struct chat_limits lim = {.max_frame_bytes = cfg->max_frame_bytes,
                              .max_text_chars = cfg->max_message_chars};
    struct chat_in in;
    struct chat_error err;
    if (chat_in_parse(data, len, &lim, &in, &err) != PL_OK) {
        send_error(c, err.code, err.message);
        return;
    }
    switch (in.type) {
    case CHAT_IN_HELLO:
        handle_hello(c, &in);
        break;
    case CHAT_IN_MESSAGE:
        if (c->state != CONN_READY)
            send_error(c, API_ERR_BAD_REQUEST, "send hello and wait for ready before messages");
        else
            handle_message(c, &in);
        break;
    case CHAT_IN_CANCEL:
        if (c->state == CONN_READY)
            turn_cancel(c->srv->engine, c->sid);
        break;
    case CHAT_IN_ESCALATE:
        if (c->state == CONN_READY)
            PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s asked for a human agent%s%s", c->sid,
                   in.reason ? ": " : "", in.reason ? in.reason : "");
        break;
    }
    chat_in_cleanup(&in);
}

int chat_conn_receive(struct chat_conn *c, const void *data, size_t len, bool first, bool final,
                      bool binary)
{
    if (first) {
        pl_buf_reset(&c->rx);
        c->rx_discard = false;
    }
    if (!c->rx_discard && pl_buf_append(&c->rx, data, len) != PL_OK) {
        char msg[120];
        snprintf(msg, sizeof(msg), "message is larger than %u bytes", c->srv->cfg->max_frame_bytes);
        send_error(c, API_ERR_TOO_LARGE, msg);
        c->rx_discard = true;
        pl_buf_reset(&c->rx);
    }
    if (!final)
        return 0;
    if (c->rx_discard) {
        c->rx_discard = false;
        return 0;
    }
    if (binary)
        send_error(c, API_ERR_BAD_REQUEST,
                   "binary frames are not supported; send JSON text frames");
    else
        handle_frame(c, c->rx.data ? c->rx.data : "", c->rx.len);
    pl_buf_reset(&c->rx);
    return 0;
}

struct chat_conn *chat_conn_open(struct bot_server *srv, struct lws *wsi)
{
    struct chat_conn *c = pl_calloc(1, sizeof(*c));
    c->srv = srv;
    c->wsi = wsi;
    c->refs = 1;
    pl_buf_init(&c->rx, srv->cfg->max_frame_bytes);
    srv->metrics.connections_total++;
    srv->metrics.connections_open++;
    if (srv->shutting_down)
        lws_callback_on_writable(wsi); /* in the last moments: closed at once with 1001 */
    return c;
}

void chat_conn_closed(struct chat_conn *c)
{
    c->wsi = NULL;
    c->srv->metrics.connections_open--;
    if (c->state == CONN_READY)
        turn_unlisten(&c->listener);
    conn_unref(c);
}
