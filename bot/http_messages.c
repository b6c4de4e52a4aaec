/* The HTTP message API; see http_messages.h. A POST that waits for one JSON answer is a
 * bot/turn_wait.h wait (the same as the webhooks'): the answer, or 202 pending at the deadline.
 * A POST that asks for server-sent events is an `exchange`: it submits the message to the turn
 * engine, then listens to the session for its own turn only, writing each event as it comes. It
 * lives while the request is open or its acknowledgement is outstanding, whichever is longer. */
#include "bot/http_messages.h"

#include "bot/caller_escalation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/chat_proto.h"
#include "bot/http_auth.h"
#include "bot/http_query.h"
#include "bot/http_turn_wait.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/policy_store.h"
#include "sessions/session_store.h"

#define EVENT_BYTES_MAX (16 * 1024 * 1024)

struct exchange {
    struct turn_listener listener;
    struct http_server_req *req; /* a reference */
    char sid[SESS_ID_LEN + 1];
    char *client_id;
    long turn; /* 0 until acknowledged */
    bool listening;
    bool closed;         /* the request is answered, or its connection went */
    int refs;            /* the request's hooks, and the acknowledgement outstanding */
    struct pl_buf event; /* scratch for one event */
    uv_timer_t timer;    /* the wait's deadline, or the event stream's keep-alive */
};

static void on_timer_closed(uv_handle_t *h)
{
    struct exchange *x = h->data;
    pl_buf_cleanup(&x->event);
    pl_free(x->client_id);
    pl_free(x);
}

static void exchange_unref(struct exchange *x)
{
    if (--x->refs > 0)
        return;
    http_server_unref(x->req);
    uv_close((uv_handle_t *)&x->timer, on_timer_closed);
}

/* The request is done with (answered, or gone): stop listening and let go of its hooks. The
 * turn goes on regardless. */
static void close_exchange(struct exchange *x)
{
    if (x->closed)
        return;
    x->closed = true;
    uv_timer_stop(&x->timer);
    if (x->listening) {
        x->listening = false;
        turn_unlisten(&x->listener);
    }
    http_server_release_hooks(x->req);
    exchange_unref(x);
}

static struct exchange *exchange_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct exchange, listener);
}

/* Start a server-sent event in the scratch buffer: "event: NAME" and the start of its data line;
 * the caller-protocol encoder then appends the frame, and send_event ends and sends it. The
 * scratch buffer is reused: no allocation per event. */
static struct pl_buf *event_begin(struct exchange *x, const char *name)
{
    pl_buf_reset(&x->event);
    pl_buf_append_str(&x->event, "event: ");
    pl_buf_append_str(&x->event, name);
    pl_buf_append_str(&x->event, "\ndata: ");
    return &x->event;
}

static void send_event(struct exchange *x)
{
    pl_buf_append(&x->event, "\n\n", 2);
    if (http_server_stream_write(x->req, x->event.data, x->event.len) != PL_OK)
        close_exchange(x); /* a client too slow to read: the stream was cut */
}

/* ---- the listener: this request's turn only ---- */

static void on_turn_start(struct turn_listener *l, long turn)
{
    struct exchange *x = exchange_of(l);
    if (turn != x->turn)
        return;
    chat_out_turn_start(event_begin(x, "turn_start"), turn);
    send_event(x);
}

static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    struct exchange *x = exchange_of(l);
    if (turn != x->turn)
        return;
    chat_out_delta(event_begin(x, "delta"), turn, seq, text, len);
    send_event(x);
}

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    struct exchange *x = exchange_of(l);
    if (turn != x->turn)
        return;
    chat_out_error_retry_after(event_begin(x, "error"), err->code, err->message,
                               err->retry_after_ms);
    send_event(x);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct exchange *x = exchange_of(l);
    if (end->turn != x->turn)
        return;
    chat_out_turn_end(event_begin(x, "turn_end"), end);
    send_event(x);
    http_server_stream_end(x->req);
    close_exchange(x);
}

/* The message went to the human agent who holds the session: no turn follows its ack. */
static void on_held(struct turn_listener *l, long turn)
{
    struct exchange *x = exchange_of(l);
    if (turn != x->turn)
        return;
    http_server_stream_end(x->req);
    close_exchange(x);
}

static const struct turn_listener_ops exchange_ops = {
    .held = on_held,
    .turn_start = on_turn_start,
    .delta = on_delta,
    .error = on_error,
    .turn_end = on_turn_end,
};

/* ---- the keep-alive, the connection ---- */

static void on_timer(uv_timer_t *timer)
{
    struct exchange *x = timer->data;
    static const char ping[] = ": ping\n\n";
    if (http_server_stream_write(x->req, ping, sizeof(ping) - 1) != PL_OK)
        close_exchange(x);
}

static void on_close(struct http_server_req *r)
{
    close_exchange(r->route_data);
}

/* The engine did not take the message: nothing was stored. */
static void reply_refused(struct http_server_req *r, enum api_error err, uint32_t retry_after_ms)
{
    http_server_reply_error_after(r, err,
                                  err == API_ERR_STORAGE_UNAVAILABLE
                                      ? "your message could not be saved (storage "
                                        "unavailable); please send it again"
                                      : NULL,
                                  retry_after_ms);
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    struct exchange *x = ud;
    if (ack->err == API_ERR_TOO_MANY_MESSAGES)
        x->req->srv->metrics.rate_limited++;
    if (x->closed) {
        exchange_unref(x); /* gone before its acknowledgement; the turn goes on */
        return;
    }
    if (ack->err) {
        reply_refused(x->req, ack->err, ack->retry_after_ms);
        close_exchange(x);
        exchange_unref(x);
        return;
    }
    long turn = ack->turn;
    x->turn = turn;
    x->req->srv->metrics.messages_total++;
    http_server_stream_begin(x->req, 200, "text/event-stream; charset=utf-8");
    chat_out_ack(event_begin(x, "ack"), x->client_id, turn);
    send_event(x);
    if (!x->closed)
        uv_timer_start(&x->timer, on_timer, HTTP_MESSAGES_SSE_PING_MS, HTTP_MESSAGES_SSE_PING_MS);
    if (!x->closed) {
        /* From this turn's start: a repeated id whose turn is being answered, or has just
         * been, is told from where it is. */
        const struct turn_replay from = {.turn = turn, .after_seq = -1};
        x->listening = true;
        turn_listen(x->req->srv->engine, x->sid, &x->listener, &from);
    }
    exchange_unref(x); /* the acknowledgement's reference */
}

/* ---- a wait for one JSON answer ---- */

static void on_waited(void *ud, const struct turn_wait_result *res)
{
    struct http_server_req *r = ud;
    if (res->err) {
        reply_refused(r, res->err, res->retry_after_ms);
    } else {
        struct pl_buf b;
        pl_buf_init(&b, EVENT_BYTES_MAX);
        const struct turn_end *end = res->end;
        if (!end) {
            /* Not ended within the wait: the caller polls GET /v1/sessions/{sid}/turns/{n}. */
            chat_out_pending(&b, res->turn, NULL, 0);
            http_server_reply(r, 202, NULL, b.data, b.len);
        } else {
            chat_out_answer(&b, end);
            if (end->error && end->retry_after_ms)
                r->retry_after_s = (uint32_t)((end->retry_after_ms + 999ULL) / 1000);
            http_server_reply(r, end->error ? api_error_status(end->error) : 200, NULL, b.data,
                              b.len);
        }
        pl_buf_cleanup(&b);
    }
}

/* ---- routes ---- */

static bool parse_wait(struct http_server_req *r, unsigned *wait_ms)
{
    char v[32];
    *wait_ms = HTTP_MESSAGES_WAIT_DEFAULT_MS;
    if (!http_query_value(r->query, "wait_ms", v, sizeof(v)))
        return true;
    char *end;
    long ms = strtol(v, &end, 10);
    if (end == v || *end || v[0] == '-' || v[0] == '+' || ms > HTTP_MESSAGES_WAIT_MAX_MS) {
        char msg[120];
        snprintf(msg, sizeof(msg), "wait_ms must be a whole number of milliseconds from 0 to %d",
                 HTTP_MESSAGES_WAIT_MAX_MS);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, msg);
        return false;
    }
    *wait_ms = (unsigned)ms;
    return true;
}

/* Submit the request's message to session `sid` as `role` sends it. */
static void post_message(struct http_server_req *r, const char *sid, enum auth_role role)
{
    unsigned wait_ms;
    if (!parse_wait(r, &wait_ms))
        return;
    const struct bot_config *cfg = r->srv->cfg;
    const struct chat_limits lim = {.max_frame_bytes = cfg->max_frame_bytes,
                                    .max_text_chars = cfg->max_message_chars};
    struct chat_in in;
    struct chat_error perr;
    if (chat_in_parse_message(r->body.data ? r->body.data : "", r->body.len, &lim, &in, &perr) !=
        PL_OK) {
        http_server_reply_error(r, perr.code, perr.message);
        return;
    }
    r->srv->metrics.http_messages++;
    caller_escalate_on_words(r->srv, sid, in.text, in.text_len);
    /* An admin relays for others (a site's backend): only the session's own limit applies. */
    const char *address = role == AUTH_ROLE_ADMIN ? NULL : http_server_peer(r);
    if (!strstr(r->accept, "text/event-stream")) {
        const struct turn_wait_request req = {.sid = sid,
                                              .address = address,
                                              .client_id = in.id,
                                              .text = in.text,
                                              .len = in.text_len,
                                              .wait_ms = wait_ms};
        enum api_error err = http_turn_wait(r, &req, on_waited, NULL, r);
        chat_in_cleanup(&in);
        if (err)
            http_server_reply_error(r, err, NULL);
        return;
    }
    struct exchange *x = pl_calloc(1, sizeof(*x));
    x->listener.ops = &exchange_ops;
    x->req = r;
    snprintf(x->sid, sizeof(x->sid), "%s", sid);
    x->client_id = in.id ? pl_strdup(in.id) : NULL;
    pl_buf_init(&x->event, EVENT_BYTES_MAX);
    uv_timer_init(r->srv->loop, &x->timer);
    x->timer.data = x;
    enum api_error err =
        turn_submit(r->srv->engine, sid, address, in.id, in.text, in.text_len, on_ack, x);
    chat_in_cleanup(&in);
    if (err) {
        http_server_reply_error(r, err, NULL);
        uv_close((uv_handle_t *)&x->timer, on_timer_closed);
        return;
    }
    http_server_ref(r);
    x->refs = 2;
    r->route_data = x;
    r->on_close = on_close;
}

struct bind_op {
    struct http_server_req *req; /* a reference */
    char sid[SESS_ID_LEN + 1];
};

/* The caller token's policy claim is on the session (docs/protocol.md "Policy records"): the
 * message goes on, or the binding's refusal is the answer. */
static void on_policy_bound(void *ud, int status)
{
    struct bind_op *op = ud;
    struct http_server_req *r = op->req;
    if (!r->conn) {
        /* the client went: nothing to submit for it */
    } else if (status == PL_OK) {
        post_message(r, op->sid, AUTH_ROLE_CALLER);
    } else if (status == PL_ENOTFOUND) {
        http_server_reply_error(r, API_ERR_SESSION_GONE, NULL);
    } else if (status == PL_EFORBIDDEN) {
        http_server_reply_error(r, API_ERR_FORBIDDEN,
                                "this conversation is bound to another policy than the token's");
    } else {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    }
    http_server_unref(r);
    pl_free(op);
}

void http_messages_post(struct http_server_req *r, const char *sid)
{
    struct auth_claims claims;
    if (!http_auth_session(r, sid, AUTH_ROLE_ADMIN, &claims))
        return;
    if (claims.role != AUTH_ROLE_CALLER || !claims.policy[0]) {
        post_message(r, sid, claims.role);
        return;
    }
    /* As at hello (bot/chat.c): the token binds its session to its policy first. */
    if (!sess_policy_number_valid(claims.policy)) {
        http_server_reply_error(r, API_ERR_UNAUTHORIZED,
                                "the token's policy claim is not a policy number (1 to 64 "
                                "characters of A-Z a-z 0-9 - _)");
        return;
    }
    struct bind_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    if (sess_policy_bind(r->srv->store, sid, claims.policy, on_policy_bound, op) != PL_OK) {
        pl_free(op);
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

/* ---- polls ---- */

static void on_polled(void *ud, enum api_error err, const struct turn_snapshot *snap,
                      uint32_t retry_after_ms)
{
    struct http_server_req *r = ud;
    struct pl_buf b;
    pl_buf_init(&b, EVENT_BYTES_MAX);
    if (err) {
        if (err == API_ERR_TOO_MANY_POLLS)
            r->srv->metrics.rate_limited++;
        http_server_reply_error_after(
            r, err, err == API_ERR_SESSION_GONE ? "no such session" : NULL, retry_after_ms);
    } else if (snap->status == TURN_STATUS_UNKNOWN) {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no such turn in this conversation");
    } else if (snap->status == TURN_STATUS_PENDING) {
        chat_out_pending(&b, snap->turn, snap->text, snap->text_len);
        http_server_reply(r, 202, NULL, b.data, b.len);
    } else {
        chat_out_answer(&b, snap->end);
        http_server_reply(r, snap->end->error ? api_error_status(snap->end->error) : 200, NULL,
                          b.data, b.len);
    }
    pl_buf_cleanup(&b);
    http_server_unref(r);
}

void http_messages_get_turn(struct http_server_req *r, const char *sid, long turn)
{
    struct auth_claims claims;
    if (!http_auth_session(r, sid, AUTH_ROLE_AGENT, &claims))
        return;
    http_server_ref(r);
    enum api_error err = turn_poll(r->srv->engine, sid, turn, on_polled, r);
    if (err) {
        http_server_reply_error(r, err, NULL);
        http_server_unref(r);
    }
}
