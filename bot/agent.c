/* The agent WebSocket; see agent.h. A connection goes NEW (waiting for hello) -> READY. Each
 * watch goes OPENING (history being read) -> LISTENING (a listener of its session); an unwatch
 * during OPENING marks it dropped and the read's callback frees it. Async reads hold a
 * reference on the connection, so a closed socket never leaves a dangling pointer. */
#include "bot/agent.h"

#include <stdio.h>
#include <string.h>

#include "bot/agent_proto.h"
#include "bot/auth_token.h"
#include "bot/chat_proto.h"
#include "bot/conn.h"
#include "bot/desk_fanout.h"
#include "bot/desk_list.h"
#include "bot/handoff.h"
#include "bot/instance_control.h"
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
#include "sessions/session_agent.h"
#include "sessions/session_list.h"
#include "sessions/session_store.h"
#include "sessions/webhook_store.h"

#define EVENT_BYTES_MAX (16 * 1024 * 1024)
#define AGENT_LIST_MAX  500 /* sessions one list answer holds */

enum watch_state { WATCH_OPENING, WATCH_LISTENING, WATCH_DROPPED };

struct agent_conn;

struct agent_watch {
    struct turn_listener listener;   /* of its session, while LISTENING: turns answered here */
    struct desk_remote_watch remote; /* while LISTENING: subscribed to turns answered elsewhere */
    struct agent_conn *a;
    struct agent_watch *next;
    enum watch_state state;
    char sid[SESS_ID_LEN + 1];
};

struct agent_conn {
    struct json_ws ws; /* the connection: framing, queue, hello deadline, refs */
    char sub[129];
    enum auth_role role;
    struct pl_buf event;         /* a caller-protocol frame, before "session_id" is added */
    struct agent_watch *watches; /* OPENING and LISTENING ones */
    unsigned n_watches;
    bool listing;                   /* a list is being read: one at a time */
    bool listed;                    /* a list was answered: live session_updates follow */
    struct desk_list_follower desk; /* from ready until the socket closes */
};

static void agent_ref(struct agent_conn *a)
{
    json_ws_ref(&a->ws);
}

static void agent_unref(struct agent_conn *a)
{
    json_ws_unref(&a->ws);
}

/* ---- sending (bot/json_ws.h) ---- */

static struct pl_buf *frame_buf(struct agent_conn *a)
{
    return json_ws_frame(&a->ws);
}

static void agent_send(struct agent_conn *a, struct pl_buf *frame)
{
    json_ws_send(&a->ws, frame);
}

static void send_error(struct agent_conn *a, enum api_error code, const char *message)
{
    json_ws_send_error(&a->ws, code, message, 0);
}

/* Send the caller-protocol frame built in a->event as an event of session `sid`. */
static void send_event(struct agent_conn *a, const char *sid)
{
    struct pl_buf *b = frame_buf(a);
    agent_out_for_session(b, sid, a->event.data, a->event.len);
    agent_send(a, b);
}

static struct pl_buf *event_buf(struct agent_conn *a)
{
    pl_buf_reset(&a->event);
    return &a->event;
}

/* ---- a watch as a listener of its session ---- */

static struct agent_watch *watch_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct agent_watch, listener);
}

static void on_message(struct turn_listener *l, long turn, const char *text, size_t len)
{
    struct agent_watch *w = watch_of(l);
    agent_event_message(event_buf(w->a), "caller", turn, text, len);
    send_event(w->a, w->sid);
}

static void on_turn_start(struct turn_listener *l, long turn)
{
    struct agent_watch *w = watch_of(l);
    chat_out_turn_start(event_buf(w->a), turn);
    send_event(w->a, w->sid);
}

static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    struct agent_watch *w = watch_of(l);
    chat_out_delta(event_buf(w->a), turn, seq, text, len);
    send_event(w->a, w->sid);
}

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    (void)turn;
    struct agent_watch *w = watch_of(l);
    chat_out_error_retry_after(event_buf(w->a), err->code, err->message, err->retry_after_ms);
    send_event(w->a, w->sid);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct agent_watch *w = watch_of(l);
    chat_out_turn_end(event_buf(w->a), end);
    send_event(w->a, w->sid);
}

/* An agent's action, this connection's own included: the audit entry or the agent's line. */
static void on_agent(struct turn_listener *l, const struct turn_agent_event *ev)
{
    struct agent_watch *w = watch_of(l);
    if (ev->kind == TURN_AGENT_WATCH && strcmp(ev->agent, w->a->sub) == 0)
        return; /* an agent knows what it watches: its watch is news to the others */
    struct pl_buf *b = event_buf(w->a);
    if (ev->kind == TURN_AGENT_SAY) {
        agent_event_agent_message(b, ev->agent, ev->turn, ev->text, ev->len);
    } else {
        static const enum sess_agent_action action[] = {
            [TURN_AGENT_WATCH] = SESS_AGENT_WATCH,
            [TURN_AGENT_TAKEOVER] = SESS_AGENT_TAKEOVER,
            [TURN_AGENT_RELEASE] = SESS_AGENT_RELEASE,
        };
        agent_event_audit(b, ev->agent, sess_agent_action_name(action[ev->kind]), ev->turn,
                          ev->ts_ms);
    }
    send_event(w->a, w->sid);
}

static const struct turn_listener_ops watch_listener_ops = {
    .agent = on_agent,
    .message = on_message,
    .turn_start = on_turn_start,
    .delta = on_delta,
    .error = on_error,
    .turn_end = on_turn_end,
};

static struct agent_watch *find_watch(struct agent_conn *a, const char *sid)
{
    for (struct agent_watch *w = a->watches; w; w = w->next)
        if (strcmp(w->sid, sid) == 0)
            return w;
    return NULL;
}

/* Take `w` off the connection's list (it no longer counts against --agent-max-watches). */
static void unlink_watch(struct agent_conn *a, struct agent_watch *w)
{
    for (struct agent_watch **p = &a->watches; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            a->n_watches--;
            return;
        }
}

/* End `w`: a listening watch is freed now, an opening one by its read's callback. */
static void drop_watch(struct agent_conn *a, struct agent_watch *w)
{
    unlink_watch(a, w);
    if (w->state == WATCH_LISTENING) {
        turn_unlisten(&w->listener);
        desk_fanout_unwatch(&w->remote);
        pl_free(w);
    } else {
        w->state = WATCH_DROPPED;
    }
}

static void send_history(struct agent_conn *a, const char *sid, const struct sess_entry *entries,
                         size_t n)
{
    struct chat_history_item *items = pl_calloc(n ? n : 1, sizeof(*items));
    const struct sess_entry **ordered = pl_calloc(n ? n : 1, sizeof(*ordered));
    sess_conversation_order(entries, n, ordered);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sess_entry *e = ordered[i];
        if (strcmp(e->role, "assistant") == 0 && e->text_len == 0)
            continue;
        items[k].role = e->role;
        items[k].text = e->text;
        items[k].turn = e->turn;
        items[k].ts_ms = e->ts_ms;
        items[k].stop_reason = e->stop_reason[0] ? e->stop_reason : NULL;
        items[k].agent = e->agent[0] ? e->agent : NULL; /* agent lines and audit entries */
        k++;
    }
    chat_out_history(event_buf(a), items, k);
    send_event(a, sid);
    pl_free(items);
    pl_free(ordered);
}

/* ---- agent actions (sessions/session_agent.h): stored first, then told ---- */

struct act_op {
    struct agent_conn *a;
    enum sess_agent_action action;
    char sid[SESS_ID_LEN + 1];
    char *text; /* say */
    size_t len;
};

static const char *act_refusal(enum sess_agent_result r)
{
    switch (r) {
    case SESS_AGENT_HELD_BY_OTHER:
        return "another agent has taken this conversation over";
    case SESS_AGENT_NOT_HELD:
        return "take the conversation over first";
    case SESS_AGENT_CLOSED:
        return "this conversation is closed";
    default:
        return "refused";
    }
}

/* The handoff packet for the agent who took `sid` over: stored (GET /v1/sessions/{sid} shows the
 * last one), then told. */
struct handoff_req {
    struct agent_conn *a; /* a reference */
    char sid[SESS_ID_LEN + 1];
};

static void on_handoff(void *ud, int status, const struct handoff *h)
{
    struct handoff_req *hr = ud;
    struct agent_conn *a = hr->a;
    if (status != PL_OK) {
        PL_LOG(PL_LOG_WARN, "agent", "sess=%s: no handoff packet (%s)", hr->sid,
               pl_strerror(status));
    } else {
        char *packet;
        /* told all the same; a failed store leaves GET /v1/sessions/{sid} the former packet */
        handoff_store(a->ws.srv, h, &packet, NULL, NULL);
        pl_free(packet);
        if (a->ws.conn) {
            struct pl_buf *b = frame_buf(a);
            agent_out_handoff(b, hr->sid, handoff_json(h));
            agent_send(a, b);
        }
    }
    agent_unref(a);
    pl_free(hr);
}

static void send_handoff(struct agent_conn *a, const char *sid)
{
    struct handoff_req *hr = pl_calloc(1, sizeof(*hr));
    hr->a = a;
    snprintf(hr->sid, sizeof(hr->sid), "%s", sid);
    agent_ref(a);
    if (handoff_build(a->ws.srv, sid, on_handoff, hr) != PL_OK) {
        agent_unref(a);
        pl_free(hr);
    }
}

static void on_acted(void *ud, int status, enum sess_agent_result result, long turn)
{
    struct act_op *op = ud;
    struct agent_conn *a = op->a;
    struct bot_server *srv = a->ws.srv;
    bool done = status == PL_OK && result == SESS_AGENT_DONE;
    if (done) {
        static const enum turn_agent_kind kind[] = {
            [SESS_AGENT_WATCH] = TURN_AGENT_WATCH,
            [SESS_AGENT_TAKEOVER] = TURN_AGENT_TAKEOVER,
            [SESS_AGENT_SAY] = TURN_AGENT_SAY,
            [SESS_AGENT_RELEASE] = TURN_AGENT_RELEASE,
        };
        if (op->action == SESS_AGENT_TAKEOVER) {
            turn_cancel(srv->engine, op->sid, TURN_CANCEL_BY_TAKEOVER);
            instance_control_takeover(srv->control, op->sid); /* a turn answered elsewhere */
        }
        const struct turn_agent_event ev = {.kind = kind[op->action],
                                            .agent = a->sub,
                                            .turn = turn,
                                            .ts_ms = pl_wall_ms(),
                                            .text = op->text,
                                            .len = op->len};
        turn_tell_agent(srv->engine, op->sid, &ev);
        desk_fanout_tell_agent(srv->desk, op->sid, &ev); /* callers and watchers elsewhere */
        if (op->action != SESS_AGENT_WATCH)
            desk_list_changed(srv->desk_list, op->sid); /* its state or its newest line */
        PL_LOG(PL_LOG_INFO, "agent", "agent=%s %s sess=%s", a->sub,
               sess_agent_action_name(op->action), op->sid);
    }
    if (a->ws.conn && op->action != SESS_AGENT_WATCH) {
        if (status == PL_ENOTFOUND) {
            send_error(a, API_ERR_SESSION_GONE, "no such session");
        } else if (status != PL_OK) {
            send_error(a, API_ERR_STORAGE_UNAVAILABLE, NULL);
        } else if (!done) {
            send_error(a, API_ERR_FORBIDDEN, act_refusal(result));
        } else if (op->action != SESS_AGENT_SAY) {
            struct pl_buf *b = frame_buf(a);
            agent_out_session_state(b, op->sid, op->action == SESS_AGENT_TAKEOVER ? "agent" : "bot",
                                    op->action == SESS_AGENT_TAKEOVER ? a->sub : NULL);
            agent_send(a, b);
            if (op->action == SESS_AGENT_TAKEOVER)
                send_handoff(a, op->sid);
        }
    }
    pl_free(op->text);
    pl_free(op);
    agent_unref(a);
}

static void agent_act(struct agent_conn *a, const char *sid, enum sess_agent_action action,
                      const char *text, size_t len)
{
    struct act_op *op = pl_calloc(1, sizeof(*op));
    op->a = a;
    op->action = action;
    memcpy(op->sid, sid, sizeof(op->sid));
    if (text) {
        op->text = pl_malloc(len + 1);
        memcpy(op->text, text, len);
        op->text[len] = '\0';
        op->len = len;
    }
    bool admin = a->role == AUTH_ROLE_ADMIN;
    if (sess_agent_act(a->ws.srv->store, sid, action, a->sub, admin, text, len, on_acted, op) !=
        PL_OK) {
        pl_free(op->text);
        pl_free(op);
        if (action != SESS_AGENT_WATCH)
            send_error(a, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    agent_ref(a);
}

static void on_watch_opened(void *ud, int status, const struct sess_record *rec,
                            const struct sess_entry *entries, size_t n)
{
    struct agent_watch *w = ud;
    struct agent_conn *a = w->a;
    if (w->state == WATCH_DROPPED || !a->ws.conn) {
        if (w->state != WATCH_DROPPED)
            unlink_watch(a, w);
        pl_free(w);
        agent_unref(a);
        return;
    }
    if (status != PL_OK) {
        unlink_watch(a, w);
        char msg[120];
        snprintf(msg, sizeof(msg), "watch %s: %s", w->sid,
                 status == PL_ENOTFOUND ? "no such session" : "storage unavailable; try again");
        send_error(a, status == PL_ENOTFOUND ? API_ERR_SESSION_GONE : API_ERR_STORAGE_UNAVAILABLE,
                   msg);
        pl_free(w);
        agent_unref(a);
        return;
    }
    send_history(a, w->sid, entries, n);
    /* The agent who holds the session gets its handoff packet again (a reloaded console). */
    if (strcmp(rec->state, "agent") == 0 && strcmp(rec->agent, a->sub) == 0)
        send_handoff(a, w->sid);
    w->state = WATCH_LISTENING;
    w->listener.ops = &watch_listener_ops;
    /* From the first turn the history has no answer for: a turn that ended here since the
     * history was read is told whole, one being answered from its turn_start, so nothing falls
     * between the history and the live events. */
    const struct turn_replay from = {.turn = rec->answered + 1, .after_seq = -1};
    turn_listen(a->ws.srv->engine, w->sid, &w->listener, &from);
    desk_fanout_watch(a->ws.srv->desk, w->sid, &w->remote);
    PL_LOG(PL_LOG_INFO, "agent", "agent=%s watches sess=%s", a->sub, w->sid);
    agent_act(a, w->sid, SESS_AGENT_WATCH, NULL, 0);
    agent_unref(a);
}

static void handle_watch(struct agent_conn *a, const char *sid)
{
    if (find_watch(a, sid)) {
        send_error(a, API_ERR_BAD_REQUEST, "this session is watched already on this connection");
        return;
    }
    uint32_t max = a->ws.srv->cfg->agent_max_watches;
    if (a->n_watches >= max) {
        char msg[120];
        snprintf(msg, sizeof(msg), "%u sessions are watched on this connection: unwatch one first",
                 max);
        send_error(a, API_ERR_BUSY, msg);
        return;
    }
    struct agent_watch *w = pl_calloc(1, sizeof(*w));
    w->a = a;
    w->state = WATCH_OPENING;
    memcpy(w->sid, sid, sizeof(w->sid));
    if (sess_open(a->ws.srv->store, sid, a->ws.srv->cfg->history_entries, on_watch_opened, w) !=
        PL_OK) {
        pl_free(w);
        send_error(a, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    w->next = a->watches;
    a->watches = w;
    a->n_watches++;
    agent_ref(a);
}

static void handle_unwatch(struct agent_conn *a, const char *sid)
{
    struct agent_watch *w = find_watch(a, sid);
    if (!w) {
        send_error(a, API_ERR_NOT_FOUND, "this session is not watched on this connection");
        return;
    }
    drop_watch(a, w);
    struct pl_buf *b = frame_buf(a);
    agent_out_unwatched(b, sid);
    agent_send(a, b);
}

/* ---- list ---- */

/* Sessions that changed, wherever they changed (bot/desk_list.h): one session_update each, once
 * this agent has a list. */
static void on_desk_rows(struct desk_list_follower *fl, const struct sess_list_row *rows, size_t n)
{
    struct agent_conn *a = PL_CONTAINER_OF(fl, struct agent_conn, desk);
    if (!a->ws.conn || !a->listed)
        return;
    for (size_t i = 0; i < n && a->ws.conn; i++) {
        struct pl_buf *b = frame_buf(a);
        agent_out_session_row(b, &rows[i]);
        agent_send(a, b);
    }
}

static void on_listed(void *ud, int status, const struct sess_list_row *rows, size_t n)
{
    struct agent_conn *a = ud;
    a->listing = false;
    if (a->ws.conn) {
        if (status != PL_OK) {
            send_error(a, API_ERR_STORAGE_UNAVAILABLE, NULL);
        } else {
            struct pl_buf *b = frame_buf(a);
            agent_out_sessions(b, rows, n);
            agent_send(a, b);
            a->listed = true;
        }
    }
    agent_unref(a);
}

static void handle_list(struct agent_conn *a)
{
    if (a->listing) {
        send_error(a, API_ERR_BUSY, "a list is being read for this connection already");
        return;
    }
    if (sess_list(a->ws.srv->store, AGENT_LIST_MAX, on_listed, a) != PL_OK) {
        send_error(a, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    a->listing = true;
    agent_ref(a);
}

/* ---- hello ---- */

static void hello_failed(struct agent_conn *a, enum api_error code, const char *message)
{
    json_ws_hello_failed(&a->ws, code, message, 0);
}

static void handle_hello(struct agent_conn *a, const struct agent_in *in)
{
    const struct bot_config *cfg = a->ws.srv->cfg;
    if (a->ws.ready) {
        send_error(a, API_ERR_BAD_REQUEST, "hello was already sent on this connection");
        return;
    }
    struct auth_claims claims;
    const struct auth_verify_opts o = {.now_s = pl_wall_ms() / 1000,
                                       .max_ttl_s = cfg->max_token_ttl_s};
    const char *why;
    int rc = auth_token_check((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret),
                              in->token, &o, &claims, &why);
    if (rc == PL_EEXPIRED) {
        hello_failed(a, API_ERR_TOKEN_EXPIRED, "the token has expired; get a new one");
        return;
    }
    if (rc != PL_OK) {
        hello_failed(a, API_ERR_UNAUTHORIZED, why);
        return;
    }
    if (claims.role != AUTH_ROLE_AGENT && claims.role != AUTH_ROLE_ADMIN) {
        hello_failed(a, API_ERR_FORBIDDEN,
                     "this endpoint is for agents: an agent or admin token is needed; callers "
                     "use /v1/chat with parley.chat.v1");
        return;
    }
    snprintf(a->sub, sizeof(a->sub), "%s", claims.sub);
    a->role = claims.role;
    json_ws_ready(&a->ws);
    a->desk.rows = on_desk_rows;
    desk_list_follow(a->ws.srv->desk_list, &a->desk);
    struct pl_buf *b = frame_buf(a);
    agent_out_ready(b, a->sub, auth_role_name(a->role), cfg->agent_max_watches);
    agent_send(a, b);
    PL_LOG(PL_LOG_INFO, "agent", "agent=%s (%s) connected", a->sub, auth_role_name(a->role));
}

/* ---- frames in ---- */

static void handle_frame(struct agent_conn *a, const char *data, size_t len)
{
    const struct bot_config *cfg = a->ws.srv->cfg;
    struct chat_limits lim = {.max_frame_bytes = cfg->max_frame_bytes,
                              .max_text_chars = cfg->max_message_chars};
    struct agent_in in;
    struct chat_error err;
    if (agent_in_parse(data, len, &lim, &in, &err) != PL_OK) {
        send_error(a, err.code, err.message);
        return;
    }
    if (in.type != AGENT_IN_HELLO && !a->ws.ready) {
        send_error(a, API_ERR_BAD_REQUEST, "send hello and wait for ready first");
    } else {
        switch (in.type) {
        case AGENT_IN_HELLO:
            handle_hello(a, &in);
            break;
        case AGENT_IN_WATCH:
            handle_watch(a, in.session_id);
            break;
        case AGENT_IN_UNWATCH:
            handle_unwatch(a, in.session_id);
            break;
        case AGENT_IN_LIST:
            handle_list(a);
            break;
        case AGENT_IN_TAKEOVER:
            agent_act(a, in.session_id, SESS_AGENT_TAKEOVER, NULL, 0);
            break;
        case AGENT_IN_SAY:
            agent_act(a, in.session_id, SESS_AGENT_SAY, in.text, in.text_len);
            break;
        case AGENT_IN_RELEASE:
            agent_act(a, in.session_id, SESS_AGENT_RELEASE, NULL, 0);
            break;
        }
    }
    agent_in_cleanup(&in);
}

/* ---- the connection ---- */

static struct agent_conn *agent_of(struct json_ws *ws)
{
    return PL_CONTAINER_OF(ws, struct agent_conn, ws);
}

static void on_frame(struct json_ws *ws, const char *data, size_t len)
{
    handle_frame(agent_of(ws), data, len);
}

static void on_closed(struct json_ws *ws)
{
    struct agent_conn *a = agent_of(ws);
    desk_list_unfollow(&a->desk);
    while (a->watches)
        drop_watch(a, a->watches);
}

static void on_release(struct json_ws *ws)
{
    struct agent_conn *a = agent_of(ws);
    json_ws_cleanup(ws);
    pl_buf_cleanup(&a->event);
    pl_free(a);
}

static const char *agent_who(const struct json_ws *ws)
{
    return PL_CONTAINER_OF(ws, const struct agent_conn, ws)->sub;
}

static const struct json_ws_ops agent_ws_ops = {
    .log_tag = "agent",
    .who_label = "agent",
    .frame = on_frame,
    .closed = on_closed,
    .release = on_release,
    .who = agent_who,
};

/* ---- the endpoint ---- */

static void *endpoint_open(struct bot_server *srv, struct conn *conn)
{
    struct agent_conn *a = pl_calloc(1, sizeof(*a));
    json_ws_open(&a->ws, &agent_ws_ops, srv, conn);
    pl_buf_init(&a->event, EVENT_BYTES_MAX);
    return &a->ws; /* the app json_ws's endpoint calls take */
}

const struct ws_endpoint agent_ws_endpoint = {
    .path = "/v1/agent",
    .subprotocol = "parley.agent.v1",
    .open = endpoint_open,
    .receive = json_ws_receive,
    .writeable = json_ws_writeable,
    .closed = json_ws_closed,
};
