/* The turn engine's public face (turn_engine.h): creating and stopping it, submitting caller
 * messages, recovering unanswered ones, cancelling, and polls. The state machine of a turn is
 * turn_run.c; live sessions and what listeners are told, turn_session.c. */
#include "bot/turn/turn_engine.h"

#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

struct turn_engine *turn_engine_create(const struct turn_engine_opts *opts)
{
    struct turn_engine *e = pl_calloc(1, sizeof(*e));
    e->opts = *opts;
    snprintf(e->instance_id, sizeof(e->instance_id), "%s", opts->instance_id);
    e->opts.instance_id = e->instance_id;
    snprintf(e->reserve_model, sizeof(e->reserve_model), "%s",
             opts->reserve_model ? opts->reserve_model : "");
    e->opts.reserve_model = e->reserve_model;
    pl_map_init(&e->sessions);
    uint64_t every = opts->turn_lock_ms / 3 ? opts->turn_lock_ms / 3 : 1;
    uv_timer_init(opts->loop, &e->lease_timer);
    e->lease_timer.data = e;
    uv_timer_start(&e->lease_timer, turn_on_lease_timer, every, every);
    uv_check_init(opts->loop, &e->start_check);
    e->start_check.data = e;
    return e;
}

/* ---- submitting ---- */

struct append_op {
    struct turn_session *session;
    unsigned cancels; /* charged with this message */
    turn_ack_cb cb;
    void *ud;
    char *text; /* for the listeners' message event */
    size_t len;
};

/* A caller can stop an answer as soon as it starts and send the next message at once: a
 * message + cancel loop then costs a model request per message without ever waiting for an
 * answer. So a cancel that stops an answer counts as a message in the rate limits. It is not
 * charged when it arrives, which would cost a Redis round trip per cancel (or make a cancel
 * wait for Redis): it is counted here and charged with the session's next message, whose
 * script charges the buckets anyway (sess_sender.cost), so a message + cancel pair costs two.
 * A cancel that stops nothing costs nothing and counts for nothing. The count lives with the
 * live session on this instance; a caller who cancels and then reconnects elsewhere leaves its
 * last cancels uncharged, which a reconnection (a new hello) more than pays for. */
#define CANCELS_UNCHARGED_MAX 1000

static enum api_error append_error(int status)
{
    switch (status) {
    case PL_ENOTFOUND:
        return API_ERR_SESSION_GONE;
    case PL_ELIMITED:
        return API_ERR_TOO_MANY_MESSAGES;
    case PL_ETOOBIG:
        return API_ERR_SESSION_FULL;
    case PL_EREPLICAS:
        /* Stored, but not acknowledged (--ack-replicas): its turn is answered when the caller
         * sends it again (a duplicate) or by a later answer. */
        return API_ERR_NOT_REPLICATED;
    default:
        return API_ERR_STORAGE_UNAVAILABLE;
    }
}

static void on_appended(void *ud, struct sess_append_result *r)
{
    struct append_op *op = ud;
    struct turn_session *s = op->session;
    s->appends_in_flight--;
    struct turn_ack ack = {.turn = r->turn, .duplicate = r->duplicate};
    if (r->status == PL_OK) {
        op->cb(op->ud, &ack);
        if (!r->duplicate)
            turn_emit_message(s, r->turn, op->text, op->len);
        turn_enqueue(s, r->turn, r->begun);
    } else {
        sess_turn_context_free(r->begun);
        /* Refused before it was charged: the next message carries its cancels. */
        if (r->status != PL_ENOTFOUND && r->status != PL_ETOOBIG && r->status != PL_EREPLICAS)
            s->cancels_uncharged += op->cancels;
        ack =
            (struct turn_ack){.err = append_error(r->status), .retry_after_ms = r->retry_after_ms};
        op->cb(op->ud, &ack);
    }
    turn_session_unref(s);
    pl_free(op->text);
    pl_free(op);
}

enum api_error turn_submit(struct turn_engine *e, const char *sid, const char *address,
                           const char *client_id, const char *text, size_t len, turn_ack_cb cb,
                           void *ud)
{
    if (e->draining || e->stopped)
        return API_ERR_SHUTTING_DOWN;
    struct turn_session *s = turn_session_get(e, sid); /* the append's reference */
    if (s->queue_len + s->appends_in_flight >= e->opts.max_queued) {
        turn_session_unref(s);
        return API_ERR_BUSY;
    }
    if (e->opts.turn_starting)
        e->opts.turn_starting(e->opts.turn_starting_ud, sid, 0);
    struct append_op *op = pl_calloc(1, sizeof(*op));
    op->session = s;
    op->cb = cb;
    op->ud = ud;
    /* With nothing else to answer in this session, the turn begins in the append's round trip. */
    struct sess_begin_opts begin;
    bool with_begin = turn_can_begin_with_append(s, &begin);
    const struct sess_sender sender = {.address = address, .cost = 1 + s->cancels_uncharged};
    if (sess_append_caller(e->opts.store, sid, &sender, client_id, text, len,
                           with_begin ? &begin : NULL, on_appended, op) != PL_OK) {
        pl_free(op);
        turn_session_unref(s);
        return API_ERR_STORAGE_UNAVAILABLE;
    }
    op->cancels = s->cancels_uncharged;
    op->text = pl_strndup(text, len);
    op->len = len;
    s->cancels_uncharged = 0;
    s->appends_in_flight++;
    return API_ERR_NONE;
}

void turn_recover(struct turn_engine *e, const char *sid, long answered, long turns)
{
    struct turn_session *s = turn_session_get(e, sid);
    for (long turn = answered + 1; turn <= turns; turn++) {
        if (turn_session_has_turn(s, turn))
            continue;
        if (s->queue_len >= e->opts.max_queued) {
            /* The rest is answered by a later recovery, or covered by a later answer. */
            PL_LOG(PL_LOG_WARN, "turn", "sess=%s: %ld unanswered messages, more than %u queued",
                   sid, turns - answered, e->opts.max_queued);
            break;
        }
        turn_enqueue(s, turn, NULL);
    }
    turn_session_unref(s);
}

bool turn_cancel(struct turn_engine *e, const char *sid, enum turn_cancel_reason why)
{
    struct turn_session *s = turn_session_find(e, sid);
    enum llm_stop stop = why == TURN_CANCEL_BY_TAKEOVER ? LLM_STOP_TAKEOVER : LLM_STOP_CANCELLED;
    if (!s || !turn_cancel_active(s, stop))
        return false;
    if (why == TURN_CANCEL_BY_CALLER &&
        s->cancels_uncharged < CANCELS_UNCHARGED_MAX) /* charged with the next message */
        s->cancels_uncharged++;
    return true;
}

void turn_tell_agent(struct turn_engine *e, const char *sid, const struct turn_agent_event *ev)
{
    struct turn_session *s = turn_session_find(e, sid);
    if (s)
        turn_emit_agent(s, ev);
}

/* ---- polls ---- */

/* Tell `cb` what `t` says of its turn: ended, or pending with the text so far. */
static void poll_turn(const struct turn *t, turn_poll_cb cb, void *ud)
{
    struct turn_snapshot snap = {.turn = t->turn};
    struct turn_end end;
    if (t->state == TURN_ENDED || t->end_sent) {
        turn_end_of(t, &end);
        snap.status = TURN_STATUS_ENDED;
        snap.text = end.text;
        snap.text_len = end.text_len;
        snap.end = &end;
    } else {
        snap.status = TURN_STATUS_PENDING;
        snap.text = t->answer.data ? t->answer.data : "";
        snap.text_len = t->answer.len;
    }
    cb(ud, API_ERR_NONE, &snap, 0);
}

struct poll_op {
    long turn;
    turn_poll_cb cb;
    void *ud;
};

static void on_answer(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *answer, uint32_t retry_after_ms)
{
    struct poll_op *op = ud;
    struct turn_snapshot snap = {.turn = op->turn, .text = ""};
    if (status == PL_ENOTFOUND) {
        op->cb(op->ud, API_ERR_SESSION_GONE, NULL, 0);
    } else if (status == PL_ELIMITED) {
        op->cb(op->ud, API_ERR_TOO_MANY_POLLS, NULL, retry_after_ms);
    } else if (status != PL_OK) {
        op->cb(op->ud, API_ERR_STORAGE_UNAVAILABLE, NULL, 0);
    } else if (op->turn < 1 || op->turn > rec->turns) {
        snap.status = TURN_STATUS_UNKNOWN;
        op->cb(op->ud, API_ERR_NONE, &snap, 0);
    } else if (rec->answered < op->turn) {
        snap.status = TURN_STATUS_PENDING;
        op->cb(op->ud, API_ERR_NONE, &snap, 0);
    } else {
        struct turn *t = turn_new(op->turn, 0);
        turn_take_answer(t, answer, rec->answered);
        t->state = TURN_ENDED;
        poll_turn(t, op->cb, op->ud);
        turn_free(t);
    }
    pl_free(op);
}

enum api_error turn_poll(struct turn_engine *e, const char *sid, long turn, turn_poll_cb cb,
                         void *ud)
{
    struct turn_session *s = turn_session_find(e, sid);
    if (s && s->active && s->active->turn == turn) {
        poll_turn(s->active, cb, ud);
        return API_ERR_NONE;
    }
    if (s && turn_session_has_turn(s, turn)) {
        struct turn_snapshot snap = {.status = TURN_STATUS_PENDING, .turn = turn, .text = ""};
        cb(ud, API_ERR_NONE, &snap, 0);
        return API_ERR_NONE;
    }
    if (s && s->last && s->last->turn == turn) {
        poll_turn(s->last, cb, ud);
        return API_ERR_NONE;
    }
    if (e->stopped)
        return API_ERR_SHUTTING_DOWN;
    struct poll_op *op = pl_calloc(1, sizeof(*op));
    op->turn = turn;
    op->cb = cb;
    op->ud = ud;
    if (sess_turn_answer(e->opts.store, sid, turn, on_answer, op) != PL_OK) {
        pl_free(op);
        return API_ERR_STORAGE_UNAVAILABLE;
    }
    return API_ERR_NONE;
}

/* ---- shutting down ---- */

/* The live sessions, each with a reference, for walks that may end turns (and so free
 * sessions). Free with release_all. */
static struct turn_session **collect(struct turn_engine *e, size_t *n)
{
    size_t count = 0;
    for (struct turn_session *s = e->all; s; s = s->next)
        count++;
    struct turn_session **list = pl_calloc(count ? count : 1, sizeof(*list));
    *n = 0;
    for (struct turn_session *s = e->all; s; s = s->next) {
        turn_session_ref(s);
        list[(*n)++] = s;
    }
    return list;
}

static void release_all(struct turn_session **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        turn_session_unref(list[i]);
    pl_free(list);
}

void turn_engine_drain(struct turn_engine *e)
{
    e->draining = true;
    size_t n;
    struct turn_session **list = collect(e, &n);
    for (size_t i = 0; i < n; i++)
        turn_drop_queue(list[i]);
    release_all(list, n);
}

size_t turn_engine_busy(const struct turn_engine *e)
{
    size_t n = 0;
    for (const struct turn_session *s = e->all; s; s = s->next)
        n += s->active != NULL;
    return n;
}

void turn_engine_cancel_all(struct turn_engine *e)
{
    size_t n;
    struct turn_session **list = collect(e, &n);
    for (size_t i = 0; i < n; i++)
        turn_end_now(list[i]);
    release_all(list, n);
}

void turn_engine_stop(struct turn_engine *e)
{
    if (!e || e->stopped)
        return;
    e->draining = true;
    turn_engine_cancel_all(e); /* turns begun with their append end here too */
    while (e->starting) {
        struct turn_session *s = e->starting;
        e->starting = s->next_starting;
        s->next_starting = NULL;
        turn_session_unref(s); /* listed */
    }
    e->stopped = true;
    uv_timer_stop(&e->lease_timer);
    uv_close((uv_handle_t *)&e->lease_timer, NULL);
    uv_check_stop(&e->start_check);
    uv_close((uv_handle_t *)&e->start_check, NULL);
}

void turn_engine_free(struct turn_engine *e)
{
    if (!e)
        return;
    if (e->sessions.count)
        PL_LOG(PL_LOG_WARN, "turn", "%zu sessions still live at exit", e->sessions.count);
    pl_map_cleanup(&e->sessions);
    pl_free(e);
}

void turn_engine_stats(const struct turn_engine *e, struct turn_engine_stats *out)
{
    *out = e->stats;
}
