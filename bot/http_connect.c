/* POST /v1/connect; see http_connect.h. One `connect_call` per event: authenticated, read, its
 * session opened (created on the first event of a contact; a transfer keeps the
 * InitialContactId, so the same session), the policy attribute bound, then the action, then
 * one flat map. A refusal after authentication is told in the map's `error` (status=error):
 * the flow routes on it; the HTTP status stays 200 so that Connect reads the map. */
#include "bot/http_connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/escalate.h"
#include "bot/handoff.h"
#include "bot/http_turn_wait.h"
#include "bot/summary.h"
#include "bot/turn/turn_engine.h"
#include "bot/webhook_auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "connectors/connect_proto.h"
#include "sessions/policy_store.h"
#include "sessions/webhook_store.h"

struct connect_call {
    struct http_server_req *req; /* a reference */
    struct connect_event ev;
    char sid[SESS_ID_LEN + 1];
    struct hook_session hs;
    const char *action;
    long pending_turn; /* ask: the turn told pending */
    char *packet;      /* summary: the handoff packet */
    bool waiting;      /* summary: the session waits for an agent */
};

static void call_free(struct connect_call *c)
{
    connect_event_cleanup(&c->ev);
    pl_free(c->packet);
    http_server_unref(c->req);
    pl_free(c);
}

/* Answer with the map of `pairs` and end the call. */
static void reply(struct connect_call *c, const struct connect_pair *pairs, size_t n)
{
    struct http_server_req *r = c->req;
    r->srv->metrics.webhook_events[WEBHOOK_METRIC_CONNECT]++;
    size_t len = 0;
    bool cut = false;
    char *body = connect_response_json(pairs, n, 0, &len, &cut);
    if (!body) {
        http_server_reply_error(r, API_ERR_INTERNAL, "no Connect response could be made");
    } else {
        if (cut)
            PL_LOG(PL_LOG_NOTICE, "connect", "session %s: the answer was cut to Connect's %d bytes",
                   c->sid, CONNECT_RESPONSE_MAX_BYTES);
        http_server_reply(r, 200, NULL, body, len);
        pl_free(body);
    }
    http_server_release_hooks(r);
    call_free(c);
}

static void reply_error(struct connect_call *c, const char *message)
{
    const struct connect_pair pairs[] = {
        {"status", "error"}, {"error", message}, {"session_id", c->sid[0] ? c->sid : NULL}};
    reply(c, pairs, PL_ARRAY_LEN(pairs));
}

static void reply_status(struct connect_call *c, const char *status, long turn, const char *answer)
{
    char t[24];
    snprintf(t, sizeof(t), "%ld", turn);
    const struct connect_pair pairs[] = {{"status", status},
                                         {"session_id", c->sid},
                                         {"turn", turn > 0 ? t : NULL},
                                         {"answer", answer},
                                         {"escalate", "false"}};
    reply(c, pairs, PL_ARRAY_LEN(pairs));
}

static void on_pending_noted(void *ud, int status)
{
    struct connect_call *c = ud;
    if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "connect", "session %s: the pending turn could not be noted (%s)",
               c->sid, pl_strerror(status));
    reply_status(c, "pending", c->pending_turn, NULL);
}

/* A turn not ended within the budget: noted as the one `poll` reads, then told; only once
 * noted, since the flow may poll at once. */
static void reply_pending(struct connect_call *c, long turn)
{
    c->req->srv->metrics.webhook_held[WEBHOOK_METRIC_CONNECT]++;
    c->pending_turn = turn;
    if (turn == c->hs.pending) {
        on_pending_noted(c, PL_OK);
        return;
    }
    char v[24];
    snprintf(v, sizeof(v), "%ld", turn);
    const char *names[] = {"hook_pending"};
    const char *values[] = {v};
    if (hook_session_set(c->req->srv->store, c->sid, names, values, 1, on_pending_noted, c) !=
        PL_OK)
        on_pending_noted(c, PL_EIO);
}

/* The pending turn was told done: poll without a turn has nothing left to read. */
static void clear_pending(struct connect_call *c)
{
    if (c->hs.pending == 0)
        return;
    const char *names[] = {"hook_pending"};
    const char *values[] = {"0"};
    if (hook_session_set(c->req->srv->store, c->sid, names, values, 1, NULL, NULL) != PL_OK)
        PL_LOG(PL_LOG_WARN, "connect", "session %s: the pending turn could not be noted", c->sid);
}

/* The answer of an ended turn, or why there is none. */
static void reply_ended(struct connect_call *c, const struct turn_end *end)
{
    if (end->error) {
        const struct connect_pair pairs[] = {
            {"status", "error"},
            {"session_id", c->sid},
            {"error", end->error_message ? end->error_message : api_error_message(end->error)}};
        reply(c, pairs, PL_ARRAY_LEN(pairs));
        return;
    }
    reply_status(c, "done", end->turn, end->text);
}

/* ---- ask ---- */

static void on_gone(void *ud)
{
    call_free(ud);
}

static void on_waited(void *ud, const struct turn_wait_result *res)
{
    struct connect_call *c = ud;
    if (res->err) {
        reply_error(c, api_error_message(res->err));
        return;
    }
    if (!res->end) {
        reply_pending(c, res->turn);
        return;
    }
    clear_pending(c);
    reply_ended(c, res->end);
}

static void do_ask(struct connect_call *c)
{
    struct http_server_req *r = c->req;
    const char *text = connect_event_parameter(&c->ev, "text");
    if (!text || !*text) {
        reply_error(c, "action ask needs Parameters.text: the caller's words");
        return;
    }
    /* The same limit as every caller message (--max-message-chars). */
    size_t chars = pl_utf8_count(text, strlen(text));
    if (chars > r->srv->cfg->max_message_chars) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Parameters.text has %zu characters and the limit is %u", chars,
                 r->srv->cfg->max_message_chars);
        reply_error(c, msg);
        return;
    }
    const struct turn_wait_request req = {.sid = c->sid,
                                          .text = text,
                                          .len = strlen(text),
                                          .wait_ms = r->srv->cfg->connect_time_budget_ms};
    if (http_turn_wait(r, &req, on_waited, on_gone, c) != API_ERR_NONE)
        reply_error(c, "the message could not be taken now; ask again");
}

/* ---- poll ---- */

static void on_polled(void *ud, enum api_error err, const struct turn_snapshot *snap,
                      uint32_t retry_after_ms)
{
    (void)retry_after_ms;
    struct connect_call *c = ud;
    if (err) {
        reply_error(c, api_error_message(err));
    } else if (snap->status == TURN_STATUS_UNKNOWN) {
        reply_error(c, "no such turn in this conversation");
    } else if (snap->status == TURN_STATUS_PENDING) {
        reply_status(c, "pending", snap->turn, NULL);
    } else {
        if (snap->turn == c->hs.pending)
            clear_pending(c);
        reply_ended(c, snap->end);
    }
}

static void do_poll(struct connect_call *c)
{
    const char *t = connect_event_parameter(&c->ev, "turn");
    long turn = c->hs.pending;
    if (t && *t) {
        char *end;
        turn = strtol(t, &end, 10);
        if (*end || turn < 1) {
            reply_error(c, "Parameters.turn must be a turn number (1, 2, 3, ...)");
            return;
        }
    }
    if (turn <= 0) {
        reply_status(c, "done", 0, NULL); /* nothing is pending */
        return;
    }
    if (turn_poll(c->req->srv->engine, c->sid, turn, on_polled, c) != API_ERR_NONE)
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
}

/* ---- escalate ---- */

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    struct connect_call *c = ud;
    if (status != PL_OK) {
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
        return;
    }
    PL_LOG(PL_LOG_INFO, "connect", "session %s: %s", c->sid,
           result == SESS_WITH_AGENT ? "with an agent already" : "waiting for an agent");
    const struct connect_pair pairs[] = {
        {"status", "done"}, {"session_id", c->sid}, {"escalate", "true"}};
    reply(c, pairs, PL_ARRAY_LEN(pairs));
}

static void do_escalate(struct connect_call *c)
{
    const char *reason = connect_event_parameter(&c->ev, "reason");
    char *plain =
        connect_plain_text(reason && *reason ? reason : "the contact flow escalated",
                           strlen(reason && *reason ? reason : "the contact flow escalated"));
    if (strlen(plain) > 200)
        plain[200] = '\0';
    int rc = bot_escalate(c->req->srv, c->sid, plain, on_escalated, c);
    pl_free(plain);
    if (rc != PL_OK)
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
}

/* ---- summary: the handoff packet (bot/handoff.h) ---- */

/* The packet is stored before it is told: an agent who looks at once finds it. */
static void on_handoff_stored(void *ud, int status)
{
    struct connect_call *c = ud;
    if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "connect", "session %s: the handoff packet could not be stored (%s)",
               c->sid, pl_strerror(status));
    const struct connect_pair pairs[] = {{"status", "done"},
                                         {"session_id", c->sid},
                                         {"summary", c->packet},
                                         {"escalate", c->waiting ? "true" : "false"}};
    reply(c, pairs, PL_ARRAY_LEN(pairs));
}

static void on_handoff(void *ud, int status, const struct handoff *h)
{
    struct connect_call *c = ud;
    if (status != PL_OK) {
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
        return;
    }
    c->waiting = !strcmp(h->state, "waiting_agent");
    if (handoff_store(c->req->srv, h, &c->packet, on_handoff_stored, c) != PL_OK)
        on_handoff_stored(c, PL_EIO);
}

static void do_summary(struct connect_call *c)
{
    if (handoff_build(c->req->srv, c->sid, on_handoff, c) != PL_OK)
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
}

/* ---- the event ---- */

static void act(struct connect_call *c)
{
    const char *a = c->action;
    if (!strcmp(a, "ask")) {
        do_ask(c);
    } else if (!strcmp(a, "poll")) {
        do_poll(c);
    } else if (!strcmp(a, "summary")) {
        do_summary(c);
    } else if (!strcmp(a, "escalate")) {
        do_escalate(c);
    } else {
        reply_error(c, "unknown Parameters.action: it is ask, poll, summary or escalate");
    }
}

static void on_policy_bound(void *ud, int status)
{
    struct connect_call *c = ud;
    if (status == PL_EFORBIDDEN)
        PL_LOG(PL_LOG_NOTICE, "connect",
               "session %s: keeps its policy; the contact attribute names another", c->sid);
    else if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "connect", "session %s: the policy could not be bound (%s)", c->sid,
               pl_strerror(status));
    act(c);
}

static void on_opened(void *ud, int status, const struct hook_session *hs)
{
    struct connect_call *c = ud;
    if (status == PL_ENOTFOUND) {
        reply_error(c, "no such session: Parameters.session_id names none (or it expired)");
        return;
    }
    if (status != PL_OK) {
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
        return;
    }
    c->hs = *hs;
    struct http_server_req *r = c->req;
    if (hs->created) {
        r->srv->metrics.sessions_created++;
        char masked[16];
        webhook_mask_phone(c->ev.customer_address, masked, sizeof(masked));
        PL_LOG(PL_LOG_INFO, "connect", "session %s: opened for contact %s (%s, caller %s)", c->sid,
               connect_event_conversation_id(&c->ev), hs->channel, masked);
    }
    /* The flow sets the attribute (after its own checks): trusted, bound like a token's claim. */
    const char *policy = connect_event_attribute(&c->ev, r->srv->cfg->connect_policy_attribute);
    if (policy && *policy && strcmp(policy, hs->policy_number) != 0) {
        if (!sess_policy_number_valid(policy)) {
            PL_LOG(PL_LOG_NOTICE, "connect", "session %s: the %s attribute is not a policy number",
                   c->sid, r->srv->cfg->connect_policy_attribute);
        } else if (sess_policy_bind(r->srv->store, c->sid, policy, on_policy_bound, c) == PL_OK) {
            snprintf(c->hs.policy_number, sizeof(c->hs.policy_number), "%s", policy);
            return;
        }
    }
    act(c);
}

static void on_authentic(struct http_server_req *r, void *ud, bool ok)
{
    struct connect_call *c = ud;
    if (!ok) {
        connect_event_cleanup(&c->ev);
        pl_free(c);
        return;
    }
    http_server_ref(r);
    c->req = r;
    const struct bot_config *cfg = r->srv->cfg;
    const char *contact = connect_event_conversation_id(&c->ev);
    /* A flow may name the session to act on: the one a Lex bot of the contact answered in
     * (its session attribute parley_session). The request is signed: the flow is trusted. */
    const char *named = connect_event_parameter(&c->ev, "session_id");
    if (named && *named) {
        if (!sess_id_valid(named)) {
            reply_error(c, "Parameters.session_id is not a session id (32 hex digits)");
            return;
        }
        snprintf(c->sid, sizeof(c->sid), "%s", named);
    } else {
        webhook_session_id(webhook_session_key(cfg), "connect", contact, c->sid);
    }
    char *attrs = c->ev.attributes ? json_dumps(c->ev.attributes, JSON_COMPACT) : NULL;
    const struct hook_session_open o = {.sid = c->sid,
                                        .channel =
                                            connect_event_is_voice(&c->ev) ? "voice" : "chat",
                                        .kind = "connect",
                                        .external_id = contact,
                                        .caller_phone = c->ev.customer_address,
                                        .attributes = attrs,
                                        .ttl_s = cfg->session_ttl_s,
                                        .existing_only = named && *named};
    int rc = hook_session_open(r->srv->store, &o, on_opened, c);
    free(attrs);
    if (rc != PL_OK)
        reply_error(c, api_error_message(API_ERR_STORAGE_UNAVAILABLE));
}

void http_connect_post(struct http_server_req *r)
{
    char matched[WEBHOOK_SIG_HEX_LEN + 1];
    if (!webhook_auth_verify(r, "connect", matched))
        return;
    struct connect_call *c = pl_calloc(1, sizeof(*c));
    char err[200];
    if (connect_event_parse(r->body.data ? r->body.data : "", r->body.len, &c->ev, err,
                            sizeof(err)) != PL_OK) {
        char msg[240];
        snprintf(msg, sizeof(msg), "not an Amazon Connect event: %s", err);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, msg);
        pl_free(c);
        return;
    }
    c->action = connect_event_parameter(&c->ev, "action");
    if (!c->action)
        c->action = "";
    /* A poll changes nothing, so it is not held to "signed once": a flow that polls within
     * the same second sends the same signed request again, and a replay of it only reads. */
    if (!strcmp(c->action, "poll")) {
        on_authentic(r, c, true);
        return;
    }
    webhook_auth_remember(r, "connect", matched, on_authentic, c);
}
