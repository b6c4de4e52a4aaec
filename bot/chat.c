/* The caller WebSocket protocol; see chat.h. A connection goes NEW (waiting for hello) ->
 * OPENING (session being created or loaded) -> READY. Frames to the caller go through a bounded
 * per-connection queue written one frame per WRITEABLE callback; a client that lets the queue
 * pass send_queue_bytes is disconnected (the turn goes on and is stored, so it can reconnect
 * and resume). Async operations hold a reference on the conn, so a closed socket never leaves
 * a dangling pointer behind. */
#include "bot/chat.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <libwebsockets.h>

#include "bot/auth_token.h"
#include "bot/chat_proto.h"
#include "bot/live_session.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ws_frame.h"
#include "sessions/conversation_order.h"
#include "sessions/session_store.h"

#define FRAME_BYTES_MAX   (16 * 1024 * 1024)
#define FRAME_BYTES_USUAL 480 /* with LWS_PRE: a malloc bin of 512 */

enum conn_state { CONN_NEW, CONN_OPENING, CONN_READY };

struct out_frame {
    struct out_frame *next;
    size_t len; /* payload bytes after the LWS_PRE headroom */
    unsigned char data[];
};

struct chat_conn {
    struct bot_server *srv;
    struct lws *wsi; /* NULL once the socket closed */
    enum conn_state state;
    int refs;
    struct bot_session *session;
    struct chat_conn *prev_in_session, *next_in_session;
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

/* An in-flight message append. */
struct append_op {
    struct chat_conn *conn;
    struct bot_session *session;
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

void chat_frame_begin(struct pl_buf *b)
{
    pl_buf_init(b, FRAME_BYTES_MAX);
    pl_buf_reserve(b, FRAME_BYTES_USUAL); /* one allocation for a delta, ack or turn_end */
    chat_frame_restart(b);
}

void chat_frame_restart(struct pl_buf *b)
{
    static const char pre[LWS_PRE];
    pl_buf_reset(b);
    pl_buf_append(b, pre, LWS_PRE);
}

static void conn_send(struct chat_conn *c, struct pl_buf *frame)
{
    if (!c->wsi || c->too_slow || c->write_failed || c->close_sent || frame->len <= LWS_PRE)
        return;
    size_t payload = frame->len - LWS_PRE;
    if (!c->out_head && !lws_partial_buffered(c->wsi)) {
        /* Nothing queued and lws holds no unsent rest of an earlier write: write now. Going
         * through WRITEABLE costs two poll changes (epoll_ctl) and a loop pass per frame,
         * about a quarter of the relay's CPU (bench/RESULTS.md). When the socket is full, lws
         * keeps the rest of this one frame and the next ones wait in our bounded queue. */
        int n = lws_write(c->wsi, (unsigned char *)frame->data + LWS_PRE, payload, LWS_WRITE_TEXT);
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
               c->session ? c->session->sid : "-", c->out_bytes);
    }
    lws_callback_on_writable(c->wsi);
}

static void send_error(struct chat_conn *c, const char *code, const char *message, bool retryable)
{
    struct pl_buf b;
    chat_frame_begin(&b);
    chat_out_error(&b, code, message, retryable);
    conn_send(c, &b);
    pl_buf_cleanup(&b);
    c->srv->metrics.errors_sent++;
}

void chat_session_send(struct bot_session *s, struct pl_buf *frame)
{
    for (struct chat_conn *c = s->conns; c; c = c->next_in_session) {
        if (c->state == CONN_READY)
            conn_send(c, frame);
    }
}

void chat_session_send_error(struct bot_session *s, const char *code, const char *message,
                             bool retryable)
{
    for (struct chat_conn *c = s->conns; c; c = c->next_in_session) {
        if (c->state == CONN_READY)
            send_error(c, code, message, retryable);
    }
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
    chat_frame_begin(&frame);
    ws_frame_encode(&frame, WS_CLOSE, true, payload, n + 2, NULL);
    size_t len = frame.len - LWS_PRE;
    int written = lws_write(c->wsi, (unsigned char *)frame.data + LWS_PRE, len, LWS_WRITE_RAW);
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

/* ---- session attachment ---- */

static void attach(struct chat_conn *c, const char *sid)
{
    struct bot_session *s = live_session_get(c->srv, sid);
    c->session = s;
    c->next_in_session = s->conns;
    if (s->conns)
        s->conns->prev_in_session = c;
    s->conns = c;
}

static void detach(struct chat_conn *c)
{
    struct bot_session *s = c->session;
    if (!s)
        return;
    if (c->prev_in_session)
        c->prev_in_session->next_in_session = c->next_in_session;
    else
        s->conns = c->next_in_session;
    if (c->next_in_session)
        c->next_in_session->prev_in_session = c->prev_in_session;
    c->session = NULL;
    live_session_unref(s);
}

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
    struct pl_buf b;
    chat_frame_begin(&b);
    chat_out_ready(&b, sid, token, resumed);
    conn_send(c, &b);
    pl_buf_cleanup(&b);
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
    struct pl_buf b;
    chat_frame_begin(&b);
    chat_out_history(&b, items, k);
    conn_send(c, &b);
    pl_buf_cleanup(&b);
    pl_free(items);
    pl_free(ordered);
}

/* Replay a turn kept in memory from delta `from_seq` on, for a reconnecting caller. */
static void replay_turn(struct chat_conn *c, const struct bot_turn *t, long from_seq,
                        bool with_start)
{
    struct pl_buf b;
    if (with_start) {
        chat_frame_begin(&b);
        chat_out_turn_start(&b, t->turn);
        conn_send(c, &b);
        pl_buf_cleanup(&b);
    }
    for (size_t k = from_seq < 0 ? 0 : (size_t)from_seq; k < t->n_deltas; k++) {
        size_t start = k ? t->delta_ends[k - 1] : 0;
        chat_frame_begin(&b);
        chat_out_delta(&b, t->turn, (long)k, t->answer.data + start, t->delta_ends[k] - start);
        conn_send(c, &b);
        pl_buf_cleanup(&b);
    }
    if (t->end_sent) {
        chat_frame_begin(&b);
        chat_out_turn_end(&b, t->turn, llm_stop_name(t->stop), t->usage.input_tokens,
                          t->usage.output_tokens, NULL, 0);
        conn_send(c, &b);
        pl_buf_cleanup(&b);
    }
}

static void catch_up(struct chat_conn *c)
{
    struct bot_session *s = c->session;
    struct bot_turn *t = s->active && s->active->state >= TURN_STREAMING ? s->active : NULL;
    if (c->has_resume) {
        if (t && t->turn == c->resume_turn)
            replay_turn(c, t, c->resume_seq + 1, false);
        else if (s->last && s->last->turn == c->resume_turn)
            replay_turn(c, s->last, c->resume_seq + 1, false);
        else if (t)
            replay_turn(c, t, 0, true);
    } else if (t && t->state == TURN_STREAMING) {
        replay_turn(c, t, 0, true);
    }
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
        send_error(c, "upstream_unavailable",
                   "conversation storage is unavailable; please retry shortly", true);
        conn_unref(c);
        return;
    }
    c->srv->metrics.sessions_created++;
    snprintf(c->sub, sizeof(c->sub), "anonymous-%.12s", rec->id);
    attach(c, rec->id);
    send_ready(c, rec->id, false);
    send_history(c, NULL, 0);
    c->state = CONN_READY;
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
        send_error(c, "not_found", "this conversation no longer exists (it may have expired)",
                   false);
    } else if (status != PL_OK) {
        c->state = CONN_NEW;
        send_error(c, "upstream_unavailable",
                   "conversation storage is unavailable; please retry shortly", true);
    } else {
        attach(c, rec->id);
        send_ready(c, rec->id, true);
        send_history(c, entries, n);
        catch_up(c);
        c->state = CONN_READY;
        /* Acknowledged messages without an answer (the instance that took them stopped):
         * answer them now. A turn answered meanwhile is skipped by the turn engine. */
        for (long turn = rec->answered + 1; turn <= rec->turns; turn++) {
            if (!live_session_has_turn(c->session, turn))
                turn_enqueue(c->session, turn, NULL);
        }
        PL_LOG(PL_LOG_INFO, "chat", "sess=%s resumed (%zu entries)", rec->id, n);
    }
    conn_unref(c);
}

static void handle_hello(struct chat_conn *c, const struct chat_in *in)
{
    const struct bot_config *cfg = c->srv->cfg;
    if (c->state != CONN_NEW) {
        send_error(c, "bad_request", "hello was already sent on this connection", false);
        return;
    }
    int rc;
    if (in->token) {
        struct auth_claims claims;
        rc = auth_token_verify((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret),
                               in->token, wall_ms() / 1000, &claims);
        if (rc == PL_EEXPIRED) {
            send_error(c, "unauthorized",
                       "the token has expired; get a new one from the site and reconnect", false);
            return;
        }
        if (rc != PL_OK) {
            send_error(c, "unauthorized", "the token is not valid", false);
            return;
        }
        if (claims.role != AUTH_ROLE_CALLER) {
            send_error(c, "forbidden",
                       "this endpoint is for callers; agents use /v1/agent with parley.agent.v1",
                       false);
            return;
        }
        if (!sess_id_valid(claims.sid)) {
            send_error(c, "unauthorized", "the token names no session", false);
            return;
        }
        snprintf(c->sub, sizeof(c->sub), "%s", claims.sub);
        c->has_resume = in->has_resume;
        c->resume_turn = in->resume_turn;
        c->resume_seq = in->resume_seq;
        rc = sess_open(c->srv->store, claims.sid, cfg->history_entries, on_opened, c);
    } else {
        if (!cfg->allow_anonymous) {
            send_error(c, "unauthorized",
                       "a token is required: anonymous sessions are disabled on this server",
                       false);
            return;
        }
        rc = sess_create(c->srv->store, "web", NULL, on_created, c);
    }
    if (rc) {
        send_error(c, "upstream_unavailable",
                   "conversation storage is unavailable; please retry shortly", true);
        return;
    }
    conn_ref(c);
    c->state = CONN_OPENING;
}

/* ---- message ---- */

static void on_appended(void *ud, int status, long turn, bool duplicate,
                        struct sess_turn_context *begun)
{
    struct append_op *op = ud;
    struct chat_conn *c = op->conn;
    struct bot_session *s = op->session;
    s->appends_in_flight--;
    if (status == PL_OK) {
        if (c->wsi) {
            struct pl_buf b;
            chat_frame_begin(&b);
            chat_out_ack(&b, op->client_id, turn);
            conn_send(c, &b);
            pl_buf_cleanup(&b);
        }
        c->srv->metrics.messages_total++;
        if (!live_session_has_turn(s, turn))
            turn_enqueue(s, turn, begun); /* takes begun */
        else
            sess_turn_context_free(begun);
        (void)duplicate;
    } else if (c->wsi) {
        send_error(c, status == PL_ENOTFOUND ? "not_found" : "upstream_unavailable",
                   status == PL_ENOTFOUND
                       ? "this conversation no longer exists (it may have expired)"
                       : "your message could not be saved (storage unavailable); please resend "
                         "it",
                   status != PL_ENOTFOUND);
    }
    live_session_unref(s);
    conn_unref(c);
    pl_free(op->client_id);
    pl_free(op);
}

static void handle_message(struct chat_conn *c, struct chat_in *in)
{
    struct bot_session *s = c->session;
    size_t waiting = s->queue_len + s->appends_in_flight;
    if (waiting >= c->srv->cfg->max_queued_messages) {
        send_error(c, "busy",
                   "too many messages are waiting for an answer; wait for the current answer "
                   "and send again",
                   true);
        return;
    }
    struct append_op *op = pl_calloc(1, sizeof(*op));
    op->conn = c;
    op->session = s;
    op->client_id = in->id ? pl_strdup(in->id) : NULL;
    /* With nothing else to answer in this session, the turn begins in the append's round trip. */
    struct sess_begin_opts begin;
    bool with_begin = turn_begin_with_append(s, &begin);
    int rc = sess_append_caller(c->srv->store, s->sid, in->id, in->text, in->text_len,
                                with_begin ? &begin : NULL, on_appended, op);
    if (rc) {
        pl_free(op->client_id);
        pl_free(op);
        send_error(c, "upstream_unavailable",
                   "your message could not be saved (storage unavailable); please resend it", true);
        return;
    }
    conn_ref(c);
    live_session_ref(s);
    s->appends_in_flight++;
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
        send_error(c, err.code, err.message, false);
        return;
    }
    switch (in.type) {
    case CHAT_IN_HELLO:
        handle_hello(c, &in);
        break;
    case CHAT_IN_MESSAGE:
        if (c->state != CONN_READY)
            send_error(c, "bad_request", "send hello and wait for ready before messages", false);
        else
            handle_message(c, &in);
        break;
    case CHAT_IN_CANCEL:
        if (c->state == CONN_READY)
            turn_cancel_active(c->session, LLM_STOP_CANCELLED);
        break;
    case CHAT_IN_ESCALATE:
        if (c->state == CONN_READY)
            PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s asked for a human agent%s%s", c->session->sid,
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
        send_error(c, "too_large", msg, false);
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
        send_error(c, "bad_request", "binary frames are not supported; send JSON text frames",
                   false);
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
    detach(c);
    conn_unref(c);
}
