/* The caller WebSocket protocol; see chat.h. A connection goes NEW (waiting for hello) ->
 * OPENING (session being created or loaded) -> READY, when it becomes a listener of its session
 * in the turn engine. The connection itself (reassembly, the bounded send queue, the hello
 * deadline, closing, references held by async operations) is bot/json_ws.h, shared with the
 * agent protocol; a client too slow for its queue is disconnected while the turn goes on and is
 * stored, so it can reconnect and resume. */
#include "bot/chat.h"

#include <stdio.h>
#include <string.h>

#include "bot/auth_token.h"
#include "bot/caller_escalation.h"
#include "bot/chat_proto.h"
#include "bot/conn.h"
#include "bot/conn_limits.h"
#include "bot/desk_fanout.h"
#include "bot/json_ws.h"
#include "bot/outbuf.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/wall_clock.h"
#include "common/ws_rx.h"
#include "sessions/conversation_order.h"
#include "sessions/policy_store.h"
#include "sessions/session_store.h"

#define FRAME_BYTES_MAX   (16 * 1024 * 1024)
#define FRAME_BYTES_USUAL (480 - LWS_PRE) /* with the headroom: a malloc bin of 512 */

enum conn_state { CONN_NEW, CONN_OPENING, CONN_READY };

struct chat_conn {
    struct json_ws ws;             /* the connection: framing, queue, hello deadline, refs */
    struct turn_listener listener; /* of its session, while READY */
    enum conn_state state;
    char sid[SESS_ID_LEN + 1]; /* "" until hello succeeds */
    char sub[129];             /* token subject, carried into refreshed tokens */
    bool has_resume;
    long resume_turn, resume_seq;
    /* the session counted against --max-connections-per-session ("" when none) */
    char counted_sid[SESS_ID_LEN + 1];
};

/* A message waiting for its acknowledgement. */
struct append_op {
    struct chat_conn *conn;
    char *client_id;
};

/* ---- sending ---- */

void chat_frames_init(struct pl_buf *frame)
{
    outbuf_begin(frame, FRAME_BYTES_MAX, FRAME_BYTES_USUAL);
}

static void send_error(struct chat_conn *c, enum api_error code, const char *message)
{
    json_ws_send_error(&c->ws, code, message, 0);
}

/* The caller's address as the per-address limits count it: the key its connection is counted
 * under by the acceptor (an IPv6 address by its /64; "" for a unix socket). */
static const char *conn_address(const struct chat_conn *c)
{
    return c->ws.conn ? conn_address_key(c->ws.conn) : "";
}

/* ---- the connection as a listener of its session ---- */

static struct chat_conn *conn_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct chat_conn, listener);
}

static void on_turn_start(struct turn_listener *l, long turn)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = json_ws_frame(&c->ws);
    chat_out_turn_start(b, turn);
    json_ws_send(&c->ws, b);
}

/* The per-token path: encoded into the shared frame and written at once. */
static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = json_ws_frame(&c->ws);
    chat_out_delta(b, turn, seq, text, len);
    json_ws_send(&c->ws, b);
}

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    (void)turn;
    json_ws_send_error(&conn_of(l)->ws, err->code, err->message, err->retry_after_ms);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = json_ws_frame(&c->ws);
    chat_out_turn_end(b, end);
    json_ws_send(&c->ws, b);
}

/* A human agent took the conversation over, spoke or handed it back (watching is not the
 * caller's business). */
static void on_agent(struct turn_listener *l, const struct turn_agent_event *ev)
{
    struct chat_conn *c = conn_of(l);
    struct pl_buf *b = json_ws_frame(&c->ws);
    if (ev->kind == TURN_AGENT_TAKEOVER)
        chat_out_agent_joined(b, ev->agent);
    else if (ev->kind == TURN_AGENT_SAY)
        chat_out_agent_message(b, ev->text, ev->len);
    else if (ev->kind == TURN_AGENT_RELEASE)
        chat_out_agent_left(b);
    else
        return;
    json_ws_send(&c->ws, b);
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
    const struct bot_config *cfg = c->ws.srv->cfg;
    struct auth_claims claims;
    memset(&claims, 0, sizeof(claims));
    snprintf(claims.sub, sizeof(claims.sub), "%s", c->sub);
    claims.role = AUTH_ROLE_CALLER;
    snprintf(claims.sid, sizeof(claims.sid), "%s", sid);
    claims.iat = pl_wall_ms() / 1000;
    claims.exp = claims.iat + cfg->token_ttl_s;
    char *token =
        auth_token_mint((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret), &claims);
    struct pl_buf *b = json_ws_frame(&c->ws);
    chat_out_ready(b, sid, token, resumed);
    json_ws_send(&c->ws, b);
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
    struct pl_buf *b = json_ws_frame(&c->ws);
    chat_out_history(b, items, k);
    json_ws_send(&c->ws, b);
    pl_free(items);
    pl_free(ordered);
}

static void hello_failed(struct chat_conn *c, enum api_error code, const char *message)
{
    json_ws_hello_failed(&c->ws, code, message, 0);
}

/* The connection no longer counts against its session's --max-connections-per-session. */
static void uncount_session(struct chat_conn *c)
{
    if (!c->counted_sid[0])
        return;
    conn_counts_put(&c->ws.srv->session_conns, c->counted_sid);
    c->counted_sid[0] = '\0';
}

/* Count the connection against session `sid`; false (and the connection told, then closed)
 * when the session has --max-connections-per-session open here already. */
static bool count_session(struct chat_conn *c, const char *sid)
{
    uint32_t limit = c->ws.srv->cfg->max_connections_per_session;
    if (!conn_counts_take(&c->ws.srv->session_conns, sid, limit)) {
        c->ws.srv->metrics.refused_per_session++;
        send_error(c, API_ERR_SESSION_CONNECTIONS, NULL);
        char why[100];
        snprintf(why, sizeof(why), "this conversation has %u connections open: close one first",
                 limit);
        json_ws_close_when_flushed(&c->ws, WS_CLOSE_POLICY, why);
        return false;
    }
    snprintf(c->counted_sid, sizeof(c->counted_sid), "%.*s", SESS_ID_LEN, sid); /* valid */
    return true;
}

/* Ready: the session is this connection's, and it listens to it from now on. */
static void become_ready(struct chat_conn *c, const char *sid, const struct turn_replay *from)
{
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    c->state = CONN_READY;
    json_ws_ready(&c->ws);
    c->listener.ops = &conn_listener_ops;
    turn_listen(c->ws.srv->engine, sid, &c->listener, from);
    desk_fanout_follow(c->ws.srv->desk, sid); /* turns and agents elsewhere reach the caller */
}

/* ---- hello ---- */

static void on_created(void *ud, int status, const struct sess_record *rec, uint32_t retry_after_ms)
{
    struct chat_conn *c = ud;
    if (!c->ws.conn) {
        json_ws_unref(&c->ws);
        return;
    }
    if (status != PL_OK) {
        c->state = CONN_NEW;
        if (status == PL_ELIMITED) {
            c->ws.srv->metrics.rate_limited++;
            json_ws_hello_failed(&c->ws, API_ERR_TOO_MANY_SESSIONS, NULL, retry_after_ms);
        } else {
            hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        }
        json_ws_unref(&c->ws);
        return;
    }
    c->ws.srv->metrics.sessions_created++;
    count_session(c, rec->id); /* a new session: nothing else counts against it */
    snprintf(c->sub, sizeof(c->sub), "anonymous-%.12s", rec->id);
    send_ready(c, rec->id, false);
    send_history(c, NULL, 0);
    become_ready(c, rec->id, NULL);
    PL_LOG(PL_LOG_INFO, "chat", "sess=%s created (anonymous web caller)", rec->id);
    json_ws_unref(&c->ws);
}

static void on_opened(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct chat_conn *c = ud;
    if (!c->ws.conn) {
        json_ws_unref(&c->ws);
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
        turn_recover(c->ws.srv->engine, rec->id, rec->answered, rec->turns);
        PL_LOG(PL_LOG_INFO, "chat", "sess=%s resumed (%zu entries)", rec->id, n);
    }
    json_ws_unref(&c->ws);
}

/* The token's policy claim is on the session now (or the session is gone, or bound to another
 * number): open it. */
static void on_policy_bound(void *ud, int status)
{
    struct chat_conn *c = ud;
    if (!c->ws.conn) {
        json_ws_unref(&c->ws);
        return;
    }
    if (status == PL_OK) {
        status = sess_open(c->ws.srv->store, c->counted_sid, c->ws.srv->cfg->history_entries,
                           on_opened, c); /* on_opened takes the reference over */
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
    json_ws_unref(&c->ws);
}

static void handle_hello(struct chat_conn *c, const struct chat_in *in)
{
    const struct bot_config *cfg = c->ws.srv->cfg;
    if (c->ws.close_code)
        return; /* closing: nothing more is answered */
    if (c->state != CONN_NEW) {
        hello_failed(c, API_ERR_BAD_REQUEST, "hello was already sent on this connection");
        return;
    }
    int rc;
    if (in->token) {
        struct auth_claims claims;
        const struct auth_verify_opts o = {.now_s = pl_wall_ms() / 1000,
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
            rc = sess_open(c->ws.srv->store, claims.sid, cfg->history_entries, on_opened, c);
        } else if (sess_policy_number_valid(claims.policy)) {
            /* Whoever minted the token named the caller's policy: the session is bound to it
             * before the caller can ask anything (docs/security.md "Policy records"). */
            rc = sess_policy_bind(c->ws.srv->store, claims.sid, claims.policy, on_policy_bound, c);
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
        rc = sess_create_anonymous(c->ws.srv->store, conn_address(c), on_created, c);
    }
    if (rc) {
        uncount_session(c);
        hello_failed(c, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    json_ws_ref(&c->ws);
    c->state = CONN_OPENING;
}

/* ---- message ---- */

static void on_ack(void *ud, const struct turn_ack *ack)
{
    struct append_op *op = ud;
    struct chat_conn *c = op->conn;
    if (ack->err) {
        if (ack->err == API_ERR_TOO_MANY_MESSAGES)
            c->ws.srv->metrics.rate_limited++;
        json_ws_send_error(
            &c->ws, ack->err,
            ack->err == API_ERR_STORAGE_UNAVAILABLE
                ? "your message could not be saved (storage unavailable); please resend it"
                : NULL,
            ack->retry_after_ms);
    } else {
        struct pl_buf *b = json_ws_frame(&c->ws);
        chat_out_ack(b, op->client_id, ack->turn);
        json_ws_send(&c->ws, b);
        c->ws.srv->metrics.messages_total++;
    }
    json_ws_unref(&c->ws);
    pl_free(op->client_id);
    pl_free(op);
}

static void handle_message(struct chat_conn *c, struct chat_in *in)
{
    caller_escalate_on_words(c->ws.srv, c->sid, in->text, in->text_len);
    struct append_op *op = pl_calloc(1, sizeof(*op));
    op->conn = c;
    op->client_id = in->id ? pl_strdup(in->id) : NULL;
    enum api_error err = turn_submit(c->ws.srv->engine, c->sid, conn_address(c), in->id, in->text,
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
    json_ws_ref(&c->ws);
}

/* ---- frames in ---- */

static void handle_frame(struct chat_conn *c, const char *data, size_t len)
{
    const struct bot_config *cfg = c->ws.srv->cfg;
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
            turn_cancel(c->ws.srv->engine, c->sid, TURN_CANCEL_BY_CALLER);
        break;
    case CHAT_IN_ESCALATE:
        if (c->state == CONN_READY) {
            PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s asked for a human agent%s%s", c->sid,
                   in.reason ? ": " : "", in.reason ? in.reason : "");
            caller_escalate(c->ws.srv, c->sid,
                            in.reason && in.reason[0] ? in.reason
                                                      : "the caller asked for a person");
        }
        break;
    }
    chat_in_cleanup(&in);
}

/* ---- the connection ---- */

static struct chat_conn *chat_of(struct json_ws *ws)
{
    return PL_CONTAINER_OF(ws, struct chat_conn, ws);
}

static void on_frame(struct json_ws *ws, const char *data, size_t len)
{
    handle_frame(chat_of(ws), data, len);
}

static void on_closed(struct json_ws *ws)
{
    struct chat_conn *c = chat_of(ws);
    ws->srv->metrics.connections_open--;
    uncount_session(c);
    if (c->state == CONN_READY) {
        turn_unlisten(&c->listener);
        desk_fanout_unfollow(ws->srv->desk, c->sid);
    }
}

static void on_release(struct json_ws *ws)
{
    json_ws_cleanup(ws);
    pl_free(chat_of(ws));
}

static const char *conn_who(const struct json_ws *ws)
{
    return PL_CONTAINER_OF(ws, const struct chat_conn, ws)->sid;
}

static const struct json_ws_ops chat_ws_ops = {
    .log_tag = "chat",
    .who_label = "sess",
    .frame = on_frame,
    .closed = on_closed,
    .release = on_release,
    .who = conn_who,
};

/* ---- the endpoint ---- */

static void *endpoint_open(struct bot_server *srv, struct conn *conn)
{
    struct chat_conn *c = pl_calloc(1, sizeof(*c));
    json_ws_open(&c->ws, &chat_ws_ops, srv, conn);
    srv->metrics.connections_total++;
    srv->metrics.connections_open++;
    return &c->ws; /* the app json_ws's endpoint calls take */
}

const struct ws_endpoint chat_ws_endpoint = {
    .path = "/v1/chat",
    .subprotocol = "parley.chat.v1",
    .open = endpoint_open,
    .receive = json_ws_receive,
    .writeable = json_ws_writeable,
    .closed = json_ws_closed,
};
