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

#include "bot/auth_token.h"
#include "bot/caller_escalation.h"
#include "bot/chat_proto.h"
#include "bot/conn.h"
#include "bot/conn_limits.h"
#include "bot/desk_fanout.h"
#include "bot/outbuf.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ws_rx.h"
#include "sessions/conversation_order.h"
#include "sessions/policy_store.h"
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
    struct conn *conn; /* NULL once the socket closed */
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
    /* hello: its deadline (the handle holds a reference until closed), failed attempts, the
     * session counted against --max-connections-per-session ("" when none), and a close decided
     * on it, sent once the queued frames are out */
    uv_timer_t hello_timer;
    bool hello_timer_open;
    uint32_t hello_failures;
    char counted_sid[SESS_ID_LEN + 1];
    uint16_t close_code;
    char close_why[124];
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
    if (!c->conn || c->too_slow || c->write_failed || c->close_sent || payload == 0)
        return;
    if (!c->out_head && conn_ws_can_send(c->conn)) {
        /* Nothing queued and the transport keeps no unsent rest of an earlier write: write
         * now. Going through WRITEABLE costs two poll changes (epoll_ctl) and a loop pass per
         * frame, about a quarter of the relay's CPU (bench/RESULTS.md). When the socket is
         * full, the transport keeps the rest of this one frame and the next ones wait in our
         * bounded queue. The frame header goes into the headroom: no copy. */
        if (conn_ws_send(c->conn, WS_TEXT, outbuf_payload(frame), payload) != PL_OK)
            c->write_failed = true; /* the connection is closing */
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
    conn_ws_want_writable(c->conn);
}

static void send_error_retry_after(struct chat_conn *c, enum api_error code, const char *message,
                                   uint32_t retry_after_ms)
{
    struct pl_buf *b = frame_buf(c);
    chat_out_error_retry_after(b, code, message, retry_after_ms);
    conn_send(c, b);
    c->srv->metrics.errors_sent++;
}

static void send_error(struct chat_conn *c, enum api_error code, const char *message)
{
    send_error_retry_after(c, code, message, 0);
}

/* The caller's address as the per-address limits count it: the key its connection is counted
 * under by the acceptor (an IPv6 address by its /64; "" for a unix socket). */
static const char *conn_address(const struct chat_conn *c)
{
    return c->conn ? conn_address_key(c->conn) : "";
}

/* Close with `code` and `why` (the connection does the close handshake: bot/conn.h). */
static int close_with(struct chat_conn *c, uint16_t code, const char *why)
{
    if (c->close_sent)
        return 0;
    c->close_sent = true;
    conn_ws_close(c->conn, code, why);
    return 0;
}

/* With nothing left to send: during shutdown, close with 1001 so that the caller knows to
 * reconnect (the answer it was getting is finished and stored meanwhile). */
static int going_away(struct chat_conn *c)
{
    if (c->close_code)
        return close_with(c, c->close_code, c->close_why);
    if (!c->srv->shutting_down)
        return 0;
    return close_with(c, WS_CLOSE_GOING_AWAY, "server restarting; reconnect to continue");
}

static int chat_conn_writeable(struct chat_conn *c)
{
    if (c->write_failed)
        return -1;
    if (c->close_sent)
        return 0; /* waiting for the connection to go */
    if (c->too_slow)
        return close_with(c, WS_CLOSE_POLICY, "client too slow");
    /* A caller that lagged has several frames queued: send them while the socket has room. */
    struct out_frame *f;
    do {
        f = c->out_head;
        if (!f)
            return going_away(c);
        if (conn_ws_send(c->conn, WS_TEXT, f->data + LWS_PRE, f->len) != PL_OK)
            return -1;
        c->out_head = f->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_bytes -= f->len;
        pl_free(f);
    } while (c->out_head && conn_ws_can_send(c->conn));
    if (c->out_head)
        conn_ws_want_writable(c->conn);
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

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    (void)turn;
    send_error_retry_after(conn_of(l), err->code, err->message, err->retry_after_ms);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = frame_buf(c);
    chat_out_turn_end(b, end);
    conn_send(c, b);
}

/* A human agent took the conversation over, spoke or handed it back (watching is not the
 * caller's business). */
static void on_agent(struct turn_listener *l, const struct turn_agent_event *ev)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = frame_buf(c);
    if (ev->kind == TURN_AGENT_TAKEOVER)
        chat_out_agent_joined(b, ev->agent);
    else if (ev->kind == TURN_AGENT_SAY)
        chat_out_agent_message(b, ev->text, ev->len);
    else if (ev->kind == TURN_AGENT_RELEASE)
        chat_out_agent_left(b);
    else
        return;
    conn_send(c, b);
}

static const struct turn_listener_ops conn_listener_ops = {
    .agent = on_agent,
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
        if (strcmp(e->role, "audit") == 0)
            continue; /* the desk's record of agents' actions: not the caller's conversation */
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

/* Close with `code` once the frames queued before (an error that says why) are out; read
 * nothing more meanwhile. */
static void close_when_flushed(struct chat_conn *c, uint16_t code, const char *why)
{
    if (c->close_code || !c->conn)
        return;
    c->close_code = code;
    snprintf(c->close_why, sizeof(c->close_why), "%s", why);
    conn_ws_want_writable(c->conn); /* chat_conn_receive drops what arrives meanwhile */
}

static void on_hello_timer_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

/* The deadline is over: hello completed, or the socket closed. */
static void hello_timer_done(struct chat_conn *c)
{
    if (!c->hello_timer_open)
        return;
    c->hello_timer_open = false;
    uv_timer_stop(&c->hello_timer);
    uv_close((uv_handle_t *)&c->hello_timer, on_hello_timer_closed);
}

static void on_hello_deadline(uv_timer_t *t)
{
    struct chat_conn *c = t->data;
    hello_timer_done(c);
    if (!c->conn || c->state == CONN_READY || c->close_code)
        return;
    c->srv->metrics.hello_timeouts++;
    char why[100];
    snprintf(why, sizeof(why), "no hello within %u ms: send hello first after connecting",
             c->srv->cfg->hello_timeout_ms);
    close_when_flushed(c, WS_CLOSE_POLICY, why);
}

/* A hello that did not lead to ready: say why (and when to retry, for a rate limit), and close
 * after --max-hello-attempts of them (a token is not guessed on one connection). */
static void hello_failed_retry_after(struct chat_conn *c, enum api_error code, const char *message,
                                     uint32_t retry_after_ms)
{
    send_error_retry_after(c, code, message, retry_after_ms);
    if (++c->hello_failures < c->srv->cfg->max_hello_attempts)
        return;
    c->srv->metrics.hello_attempts_exceeded++;
    char why[100];
    snprintf(why, sizeof(why), "%u failed hellos: check the token, then reconnect",
             c->hello_failures);
    close_when_flushed(c, WS_CLOSE_POLICY, why);
}

static void hello_failed(struct chat_conn *c, enum api_error code, const char *message)
{
    hello_failed_retry_after(c, code, message, 0);
}

/* The connection no longer counts against its session's --max-connections-per-session. */
static void uncount_session(struct chat_conn *c)
{
    if (!c->counted_sid[0])
        return;
    conn_counts_put(&c->srv->session_conns, c->counted_sid);
    c->counted_sid[0] = '\0';
}

/* Count the connection against session `sid`; false (and the connection told, then closed)
 * when the session has --max-connections-per-session open here already. */
static bool count_session(struct chat_conn *c, const char *sid)
{
    uint32_t limit = c->srv->cfg->max_connections_per_session;
    if (!conn_counts_take(&c->srv->session_conns, sid, limit)) {
        c->srv->metrics.refused_per_session++;
        send_error(c, API_ERR_SESSION_CONNECTIONS, NULL);
        char why[100];
        snprintf(why, sizeof(why), "this conversation has %u connections open: close one first",
                 limit);
        close_when_flushed(c, WS_CLOSE_POLICY, why);
        return false;
    }
    snprintf(c->counted_sid, sizeof(c->counted_sid), "%s", sid);
    return true;
}

/* Ready: the session is this connection's, and it listens to it from now on. */
static void become_ready(struct chat_conn *c, const char *sid, const struct turn_replay *from)
{
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    c->state = CONN_READY;
    hello_timer_done(c);
    c->listener.ops = &conn_listener_ops;
    turn_listen(c->srv->engine, sid, &c->listener, from);
    desk_fanout_follow(c->srv->desk, sid); /* agents on other instances reach the caller */
}

/* ---- hello ---- */

static void on_created(void *ud, int status, const struct sess_record *rec, uint32_t retry_after_ms)
{
    struct chat_conn *c = ud;
    if (!c->conn) {
        conn_unref(c);
        return;
    }
    if (status != PL_OK) {
        c->state = CONN_NEW;
        if (status == PL_ELIMITED) {
            c->srv->metrics.rate_limited++;
            hello_failed_retry_after(c, API_ERR_TOO_MANY_SESSIONS, NULL, retry_after_ms);
        } else {
            hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        }
        conn_unref(c);
        return;
    }
    c->srv->metrics.sessions_created++;
    count_session(c, rec->id); /* a new session: nothing else counts against it */
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
    if (!c->conn) {
        conn_unref(c);
        return;
    }
    if (status == PL_ENOTFOUND) {
        c->state = CONN_NEW;
        uncount_session(c);
        hello_failed(c, API_ERR_SESSION_GONE, NULL);
    } else if (status != PL_OK) {
        c->state = CONN_NEW;
        uncount_session(c);
        hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
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

/* The token's policy claim is on the session now (or the session is gone, or bound to another
 * number): open it. */
static void on_policy_bound(void *ud, int status)
{
    struct chat_conn *c = ud;
    if (!c->conn) {
        conn_unref(c);
        return;
    }
    if (status == PL_OK) {
        status = sess_open(c->srv->store, c->counted_sid, c->srv->cfg->history_entries, on_opened,
                           c); /* on_opened takes the reference over */
        if (status == PL_OK)
            return;
    }
    c->state = CONN_NEW;
    uncount_session(c);
    if (status == PL_ENOTFOUND)
        hello_failed(c, API_ERR_SESSION_GONE, NULL);
    else if (status == PL_EFORBIDDEN)
        hello_failed(c, API_ERR_FORBIDDEN,
                     "this conversation is bound to another policy than the token's");
    else
        hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
    conn_unref(c);
}

static void handle_hello(struct chat_conn *c, const struct chat_in *in)
{
    const struct bot_config *cfg = c->srv->cfg;
    if (c->close_code)
        return; /* closing: nothing more is answered */
    if (c->state != CONN_NEW) {
        hello_failed(c, API_ERR_BAD_REQUEST, "hello was already sent on this connection");
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
            hello_failed(c, API_ERR_TOKEN_EXPIRED,
                         "the token has expired; get a new one from the site and reconnect");
            return;
        }
        if (rc != PL_OK) {
            hello_failed(c, API_ERR_UNAUTHORIZED, why);
            return;
        }
        if (claims.role != AUTH_ROLE_CALLER) {
            hello_failed(c, API_ERR_FORBIDDEN,
                         "this endpoint is for callers; agents use /v1/agent with parley.agent.v1");
            return;
        }
        if (!sess_id_valid(claims.sid)) {
            hello_failed(c, API_ERR_UNAUTHORIZED, "the token names no session");
            return;
        }
        if (!count_session(c, claims.sid))
            return;
        snprintf(c->sub, sizeof(c->sub), "%s", claims.sub);
        c->has_resume = in->has_resume;
        c->resume_turn = in->resume_turn;
        c->resume_seq = in->resume_seq;
        if (!claims.policy[0]) {
            rc = sess_open(c->srv->store, claims.sid, cfg->history_entries, on_opened, c);
        } else if (sess_policy_number_valid(claims.policy)) {
            /* Whoever minted the token named the caller's policy: the session is bound to it
             * before the caller can ask anything (docs/security.md "Policy records"). */
            rc = sess_policy_bind(c->srv->store, claims.sid, claims.policy, on_policy_bound, c);
        } else {
            uncount_session(c);
            hello_failed(c, API_ERR_UNAUTHORIZED,
                         "the token's policy claim is not a policy number (1 to 64 characters "
                         "of A-Z a-z 0-9 - _)");
            return;
        }
    } else {
        if (!cfg->allow_anonymous) {
            hello_failed(c, API_ERR_UNAUTHORIZED,
                         "a token is required: anonymous sessions are disabled on this server");
            return;
        }
        rc = sess_create_anonymous(c->srv->store, conn_address(c), on_created, c);
    }
    if (rc) {
        uncount_session(c);
        hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    conn_ref(c);
    c->state = CONN_OPENING;
}

/* ---- message ---- */

static void on_ack(void *ud, const struct turn_ack *ack)
{
    struct append_op *op = ud;
    struct chat_conn *c = op->conn;
    if (ack->err) {
        if (ack->err == API_ERR_TOO_MANY_MESSAGES)
            c->srv->metrics.rate_limited++;
        send_error_retry_after(
            c, ack->err,
            ack->err == API_ERR_STORAGE_UNAVAILABLE
                ? "your message could not be saved (storage unavailable); please resend it"
                : NULL,
            ack->retry_after_ms);
    } else {
        struct pl_buf *b = frame_buf(c);
        chat_out_ack(b, op->client_id, ack->turn);
        conn_send(c, b);
        c->srv->metrics.messages_total++;
    }
    conn_unref(c);
    pl_free(op->client_id);
    pl_free(op);
}

static void handle_message(struct chat_conn *c, struct chat_in *in)
{
    caller_escalate_on_words(c->srv, c->sid, in->text, in->text_len);
    struct append_op *op = pl_calloc(1, sizeof(*op));
    op->conn = c;
    op->client_id = in->id ? pl_strdup(in->id) : NULL;
    enum api_error err = turn_submit(c->srv->engine, c->sid, conn_address(c), in->id, in->text,
                                     in->text_len, on_ack, op);
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
            turn_cancel(c->srv->engine, c->sid, TURN_CANCEL_BY_CALLER);
        break;
    case CHAT_IN_ESCALATE:
        if (c->state == CONN_READY) {
            PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s asked for a human agent%s%s", c->sid,
                   in.reason ? ": " : "", in.reason ? in.reason : "");
            caller_escalate(c->srv, c->sid,
                            in.reason && in.reason[0] ? in.reason
                                                      : "the caller asked for a person");
        }
        break;
    }
    chat_in_cleanup(&in);
}

static int chat_conn_receive(struct chat_conn *c, const void *data, size_t len, bool first,
                             bool final, bool binary)
{
    if (c->close_code)
        return 0; /* closing after an error that said why: nothing more is read */
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

static struct chat_conn *chat_conn_open(struct bot_server *srv, struct conn *conn)
{
    struct chat_conn *c = pl_calloc(1, sizeof(*c));
    c->srv = srv;
    c->conn = conn;
    c->refs = 1;
    pl_buf_init(&c->rx, srv->cfg->max_frame_bytes);
    uv_timer_init(srv->loop, &c->hello_timer);
    c->hello_timer.data = c;
    c->hello_timer_open = true;
    conn_ref(c); /* the timer's, until its handle has closed */
    uv_timer_start(&c->hello_timer, on_hello_deadline, srv->cfg->hello_timeout_ms, 0);
    srv->metrics.connections_total++;
    srv->metrics.connections_open++;
    if (srv->shutting_down)
        conn_ws_want_writable(conn); /* in the last moments: closed at once with 1001 */
    return c;
}

static void chat_conn_closed(struct chat_conn *c)
{
    c->conn = NULL;
    c->srv->metrics.connections_open--;
    hello_timer_done(c);
    uncount_session(c);
    if (c->state == CONN_READY) {
        turn_unlisten(&c->listener);
        desk_fanout_unfollow(c->srv->desk, c->sid);
    }
    conn_unref(c);
}

/* ---- the endpoint ---- */

static void *endpoint_open(struct bot_server *srv, struct conn *conn)
{
    return chat_conn_open(srv, conn);
}

static int endpoint_receive(void *app, const void *data, size_t len, bool first, bool final,
                            bool binary)
{
    return chat_conn_receive(app, data, len, first, final, binary);
}

static int endpoint_writeable(void *app)
{
    return chat_conn_writeable(app);
}

static void endpoint_closed(void *app)
{
    chat_conn_closed(app);
}

const struct ws_endpoint chat_ws_endpoint = {
    .path = "/v1/chat",
    .subprotocol = "parley.chat.v1",
    .open = endpoint_open,
    .receive = endpoint_receive,
    .writeable = endpoint_writeable,
    .closed = endpoint_closed,
};
