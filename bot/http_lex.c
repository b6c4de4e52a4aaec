/* POST /v1/lex; see http_lex.h. One `lex_call` per event: authenticated, read, its session
 * opened (created on the first event), then the intent's action, then one Lex response.
 *
 * Delivery (docs/lex-connect.md "Time budget and holding"): the session's hook_pending field
 * names the first turn whose answer Lex has not been given. An answer event submits the new
 * words and waits; then the turns from the pending one up to the new words' are read in order
 * (turn_poll), and each finished answer goes first. The first turn found unanswered (or the new
 * words' own, not ready within the budget) becomes the pending one, and the holding message is
 * said. The field is written before the response goes out. */
#include "bot/http_lex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/escalate.h"
#include "bot/http_turn_wait.h"
#include "bot/lex_intents.h"
#include "bot/turn/turn_engine.h"
#include "bot/webhook_auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/plain_text.h"
#include "common/utf8.h"
#include "connectors/lex_proto.h"
#include "connectors/policy_source.h"
#include "sessions/policy_store.h"
#include "sessions/webhook_store.h"

struct lex_call {
    struct http_server_req *req; /* a reference */
    struct lex_event ev;
    const struct lex_intent *intent;
    char sid[SESS_ID_LEN + 1];
    struct hook_session hs;
    bool speech;
    /* an answer: the new words' answer, the earlier turns' answers said before it, the new
     * words' turn, the turn being read, the first turn whose answer is not ready */
    struct pl_buf text;
    struct pl_buf earlier;
    long new_turn;
    long polling;
    long first_undelivered;
    bool held;    /* the new words' answer was not ready */
    bool closing; /* Close rather than ElicitIntent */
    char policy[SESS_POLICY_NUMBER_MAX + 1];
};

static void call_free(struct lex_call *c)
{
    lex_event_cleanup(&c->ev);
    pl_buf_cleanup(&c->text);
    pl_buf_cleanup(&c->earlier);
    http_server_unref(c->req);
    pl_free(c);
}

/* Answer Lex with `resp` (its text and attributes borrowed) and end the call. */
static void reply(struct lex_call *c, struct lex_response *resp)
{
    struct http_server_req *r = c->req;
    resp->ssml = c->speech && !strcmp(r->srv->cfg->lex_voice_output, "ssml");
    /* Every response names the session, so that a flow can always ask for its summary. */
    const struct lex_attribute session[] = {{"parley_session", c->sid}};
    if (!resp->n_set) {
        resp->set = session;
        resp->n_set = 1;
    }
    r->srv->metrics.webhook_events[WEBHOOK_METRIC_LEX]++;
    /* Lex shows or speaks the text as it is: no Markdown, no citation marks. */
    char *plain = resp->text ? pl_plain_text(resp->text, resp->text_len) : NULL;
    if (plain) {
        resp->text = plain;
        resp->text_len = strlen(plain);
    }
    size_t len = 0;
    bool cut = false;
    char *body = lex_response_json(&c->ev, resp, &len, &cut);
    pl_free(plain);
    if (!body) {
        http_server_reply_error(r, API_ERR_INTERNAL, "no Lex response could be made");
    } else {
        if (cut)
            PL_LOG(PL_LOG_NOTICE, "lex",
                   "session %s: the answer was longer than Lex takes (%d "
                   "messages of %d characters): its end was left out",
                   c->sid, LEX_MESSAGES_MAX, LEX_MESSAGE_MAX_CHARS);
        http_server_reply(r, 200, NULL, body, len);
        pl_free(body);
    }
    http_server_release_hooks(r);
    call_free(c);
}

static void reply_text(struct lex_call *c, enum lex_action action, const char *state,
                       const char *text)
{
    struct lex_response resp = {
        .action = action, .intent_state = state, .text = text, .text_len = text ? strlen(text) : 0};
    reply(c, &resp);
}

static void on_gone(void *ud)
{
    call_free(ud);
}

/* ---- answer ---- */

static void send_answer(struct lex_call *c)
{
    reply_text(c, c->closing ? LEX_CLOSE : LEX_ELICIT_INTENT, c->closing ? "Fulfilled" : NULL,
               c->text.data);
}

static void on_pending_noted(void *ud, int status)
{
    struct lex_call *c = ud;
    /* Best effort: a lost write delivers an answer twice or not at all, never a wrong one. */
    if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "lex", "session %s: the pending turn could not be noted (%s)", c->sid,
               pl_strerror(status));
    send_answer(c);
}

/* Note `turn` as the session's first undelivered one (0: none), then answer: only once noted,
 * since Lex may send the next event at once. */
static void set_pending_and_answer(struct lex_call *c, long turn)
{
    if (turn == c->hs.pending) {
        send_answer(c);
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

static void append_text(struct lex_call *c, const char *s, size_t len)
{
    if (!len)
        return;
    if (c->text.len)
        pl_buf_append_str(&c->text, " ");
    pl_buf_append(&c->text, s, len);
}

/* Say what there is: the earlier turns' answers, then the new one; while a turn is still being
 * answered (`still_pending`), the holding message too, and the conversation stays open. */
static void answer_reply(struct lex_call *c, long still_pending)
{
    struct pl_buf newer = c->text;
    c->text = c->earlier;
    pl_buf_init(&c->earlier, newer.max);
    append_text(c, newer.data ? newer.data : "", newer.len);
    pl_buf_cleanup(&newer);
    if (still_pending) {
        append_text(c, c->req->srv->cfg->lex_holding_message,
                    strlen(c->req->srv->cfg->lex_holding_message));
        c->req->srv->metrics.webhook_held[WEBHOOK_METRIC_LEX]++;
    }
    if (!c->text.len)
        pl_buf_append_str(&c->text, LEX_FAILED);
    pl_buf_append(&c->text, "", 1); /* NUL: the buffer is read as a C string */
    c->text.len--;
    c->closing = !still_pending && c->intent->then == LEX_THEN_CLOSE;
    set_pending_and_answer(c, still_pending);
}

static void finish_answer(struct lex_call *c)
{
    long still = c->first_undelivered ? c->first_undelivered : c->held ? c->new_turn : 0;
    answer_reply(c, still);
}

static void poll_next(struct lex_call *c);

/* One undelivered turn read: an ended one's answer is said (in order), and the next is read. */
static void on_polled(void *ud, enum api_error err, const struct turn_snapshot *snap,
                      uint32_t retry_after_ms)
{
    (void)retry_after_ms;
    struct lex_call *c = ud;
    if (err || snap->status == TURN_STATUS_PENDING) {
        c->first_undelivered = c->polling; /* still the first not delivered */
    } else if (snap->status == TURN_STATUS_ENDED) {
        const struct turn_end *end = snap->end;
        /* Covered by a later answer (its own failed before the model started): that one is
         * said instead. */
        if (end->answered_in == end->turn && !end->error) {
            struct pl_buf newer = c->text;
            c->text = c->earlier;
            append_text(c, end->text, end->text_len);
            c->earlier = c->text;
            c->text = newer;
        }
        c->polling++;
        poll_next(c);
        return;
    }
    finish_answer(c); /* UNKNOWN: past the session's last turn */
}

/* Read the turns the channel was not given, from the pending one up to the new words' turn,
 * stopping at the first not ended. */
static void poll_next(struct lex_call *c)
{
    long limit = c->new_turn ? c->new_turn : c->hs.pending + LEX_DELIVER_MAX;
    if (c->polling >= limit) {
        if (!c->new_turn)
            c->first_undelivered = c->polling; /* more than one event delivers */
        finish_answer(c);
        return;
    }
    if (turn_poll(c->req->srv->engine, c->sid, c->polling, on_polled, c) != API_ERR_NONE) {
        c->first_undelivered = c->polling;
        finish_answer(c);
    }
}

static void after_wait(struct lex_call *c)
{
    if (c->hs.pending > 0 && (!c->new_turn || c->hs.pending < c->new_turn)) {
        c->polling = c->hs.pending;
        poll_next(c);
        return;
    }
    finish_answer(c);
}

static void on_waited(void *ud, const struct turn_wait_result *res)
{
    struct lex_call *c = ud;
    if (res->err) {
        PL_LOG(PL_LOG_NOTICE, "lex", "session %s: message not taken: %s", c->sid,
               api_error_code(res->err));
        reply_text(c, LEX_ELICIT_INTENT, NULL, LEX_FAILED);
        return;
    }
    c->new_turn = res->turn;
    if (!res->end) {
        c->held = true;
    } else if (res->end->error || res->end->answered_in != res->end->turn) {
        /* failed, or answered together with an earlier turn: that answer is said for it */
        if (res->end->error)
            pl_buf_append_str(&c->text, LEX_FAILED);
    } else {
        append_text(c, res->end->text, res->end->text_len);
    }
    after_wait(c);
}

static void do_answer(struct lex_call *c)
{
    struct http_server_req *r = c->req;
    const char *words = c->ev.input_transcript;
    if (!*words) {
        if (c->hs.pending > 0) {
            after_wait(c); /* nothing new: the pending answer, if ready */
            return;
        }
        reply_text(c, LEX_ELICIT_INTENT, NULL, LEX_NOT_HEARD);
        return;
    }
    /* The same limit as every caller message (--max-message-chars). */
    if (pl_utf8_count(words, strlen(words)) > r->srv->cfg->max_message_chars) {
        reply_text(c, LEX_ELICIT_INTENT, NULL, LEX_TOO_LONG);
        return;
    }
    const struct turn_wait_request req = {.sid = c->sid,
                                          .text = words,
                                          .len = strlen(words),
                                          .wait_ms = r->srv->cfg->lex_time_budget_ms};
    if (http_turn_wait(r, &req, on_waited, on_gone, c) != API_ERR_NONE)
        reply_text(c, LEX_ELICIT_INTENT, NULL, LEX_FAILED);
}

/* ---- escalate ---- */

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    (void)result; /* waiting now, or already, or with an agent: the flow transfers all the same */
    struct lex_call *c = ud;
    if (status != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    PL_LOG(PL_LOG_INFO, "lex", "session %s: waiting for an agent (%s)", c->sid, c->intent->reason);
    const struct lex_attribute set[] = {{"parley_escalate", "true"}, {"parley_session", c->sid}};
    struct lex_response resp = {.action = LEX_CLOSE,
                                .intent_state = "Fulfilled",
                                .text = c->intent->message,
                                .text_len = strlen(c->intent->message),
                                .set = set,
                                .n_set = 2};
    reply(c, &resp);
}

static void do_escalate(struct lex_call *c)
{
    if (bot_escalate(c->req->srv, c->sid, c->intent->reason, on_escalated, c) != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
    }
}

/* ---- verify_policy ---- */

static void verify_failed(struct lex_call *c)
{
    /* The same words and the same re-ask whatever failed: nothing tells a caller whether a
     * number exists. */
    struct lex_response resp = {.action = LEX_ELICIT_SLOT,
                                .intent_state = "InProgress",
                                .slot_to_elicit = c->intent->policy_slot,
                                .clear_slot_to_elicit = true,
                                .text = c->intent->failed,
                                .text_len = strlen(c->intent->failed)};
    reply(c, &resp);
}

static void on_verified_marked(void *ud, int status)
{
    struct lex_call *c = ud;
    if (status != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    PL_LOG(PL_LOG_INFO, "lex", "session %s: caller verified", c->sid);
    const struct lex_attribute set[] = {{"parley_verified", "true"}, {"parley_session", c->sid}};
    struct lex_response resp = {.action = LEX_CLOSE,
                                .intent_state = "Fulfilled",
                                .text = c->intent->verified,
                                .text_len = strlen(c->intent->verified),
                                .set = set,
                                .n_set = 2};
    reply(c, &resp);
}

static void on_bound(void *ud, int status)
{
    struct lex_call *c = ud;
    if (status == PL_EFORBIDDEN) { /* the session keeps the policy it was bound to first */
        verify_failed(c);
        return;
    }
    if (status != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    const char *names[] = {"hook_verified"};
    const char *values[] = {"1"};
    if (hook_session_set(c->req->srv->store, c->sid, names, values, 1, on_verified_marked, c) !=
        PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
    }
}

static void on_record(void *ud, int status, const char *record, size_t len)
{
    struct lex_call *c = ud;
    if (status != PL_OK && status != PL_ENOTFOUND) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    const char *check = lex_event_slot(&c->ev, c->intent->check_slot);
    if (status != PL_OK || !lex_verify_matches(record, len, c->intent->check_field, check)) {
        PL_LOG(PL_LOG_INFO, "lex", "session %s: verification failed", c->sid);
        verify_failed(c);
        return;
    }
    if (sess_policy_bind(c->req->srv->store, c->sid, c->policy, on_bound, c) != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
    }
}

static void do_verify(struct lex_call *c)
{
    const struct lex_intent *it = c->intent;
    const char *policy = lex_event_slot(&c->ev, it->policy_slot);
    const char *check = lex_event_slot(&c->ev, it->check_slot);
    struct lex_response ask = {.action = LEX_ELICIT_SLOT, .intent_state = "InProgress"};
    switch (lex_verify_step(policy, check)) {
    case LEX_VERIFY_ASK_POLICY:
        ask.slot_to_elicit = it->policy_slot;
        ask.text = it->ask_policy;
        break;
    case LEX_VERIFY_ASK_CHECK:
        ask.slot_to_elicit = it->check_slot;
        ask.text = it->ask_check;
        break;
    case LEX_VERIFY_LOOK_UP: {
        struct policy_source *src = c->req->srv->policy;
        if (!sess_policy_number_valid(policy) || !src) {
            verify_failed(c);
            return;
        }
        snprintf(c->policy, sizeof(c->policy), "%s", policy);
        int rc = policy_source_get(src, c->policy, on_record, c);
        if (rc == PL_OK)
            return;
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    }
    ask.text_len = strlen(ask.text);
    reply(c, &ask);
}

/* ---- the event ---- */

static void on_opened(void *ud, int status, const struct hook_session *hs)
{
    struct lex_call *c = ud;
    if (status != PL_OK) {
        http_server_reply_error(c->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
        return;
    }
    c->hs = *hs;
    if (hs->created) {
        c->req->srv->metrics.sessions_created++;
        PL_LOG(PL_LOG_INFO, "lex", "session %s: opened for Lex session %s (%s)", c->sid,
               c->ev.session_id, hs->channel);
    }
    switch (c->intent->action) {
    case LEX_INTENT_ANSWER:
        do_answer(c);
        break;
    case LEX_INTENT_VERIFY_POLICY:
        do_verify(c);
        break;
    case LEX_INTENT_ESCALATE:
        do_escalate(c);
        break;
    case LEX_INTENT_DELEGATE:
        reply_text(c, LEX_DELEGATE, NULL, NULL);
        break;
    }
}

static void on_authentic(struct http_server_req *r, void *ud, bool ok)
{
    struct lex_call *c = ud;
    if (!ok) {
        lex_event_cleanup(&c->ev);
        pl_buf_cleanup(&c->text);
        pl_buf_cleanup(&c->earlier);
        pl_free(c);
        return;
    }
    http_server_ref(r);
    c->req = r;
    const struct bot_config *cfg = r->srv->cfg;
    webhook_session_id(webhook_session_key(cfg), "lex", c->ev.session_id, c->sid);
    /* A session's channel is set by its first event and picks its prompt template
     * (prompts/prompt_templates.h): "lex" is spoken (the voice template), "lex-text" typed. */
    const struct hook_session_open o = {.sid = c->sid,
                                        .channel = c->speech ? "lex" : "lex-text",
                                        .kind = "lex",
                                        .external_id = c->ev.session_id,
                                        .ttl_s = cfg->session_ttl_s};
    if (hook_session_open(r->srv->store, &o, on_opened, c) != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        call_free(c);
    }
}

void http_lex_post(struct http_server_req *r)
{
    char matched[WEBHOOK_SIG_HEX_LEN + 1];
    if (!webhook_auth_verify(r, "lex", matched))
        return;
    struct lex_call *c = pl_calloc(1, sizeof(*c));
    char err[200];
    if (lex_event_parse(r->body.data ? r->body.data : "", r->body.len, &c->ev, err, sizeof(err)) !=
        PL_OK) {
        char msg[240];
        snprintf(msg, sizeof(msg), "not a Lex V2 event: %s", err);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, msg);
        pl_free(c);
        return;
    }
    c->intent = lex_intents_find(&r->srv->lex_intents, c->ev.intent_name);
    c->speech = c->ev.input_mode != LEX_INPUT_TEXT;
    pl_buf_init(&c->text, LEX_TEXT_MAX);
    pl_buf_init(&c->earlier, LEX_TEXT_MAX);
    webhook_auth_remember(r, "lex", matched, on_authentic, c);
}
