/* Live sessions of the turn engine and the turns they own: lookup, references, listeners, and
 * how events reach them.
 * A session lives on this instance while something needs it here (a listener, a queued or
 * running turn, an append or poll in flight); the conversation itself lives in Redis. */
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"

#define ANSWER_BYTES_MAX (1024 * 1024)

void turn_free(struct turn *t)
{
    if (!t)
        return;
    sess_turn_context_free(t->begun);
    sess_turn_context_free(t->policy_ctx);
    sess_turn_context_free(t->kb_ctx);
    pl_free(t->kb_qvec);
    pl_free(t->question);
    pl_buf_cleanup(&t->answer);
    pl_free(t->delta_ends);
    turn_citations_cleanup(&t->citations);
    if (t->has_prompt)
        prompt_cleanup(&t->prompt);
    pl_free(t);
}

struct turn *turn_new(long turn, uint64_t now)
{
    struct turn *t = pl_calloc(1, sizeof(*t));
    t->turn = turn;
    t->state = TURN_LOCKING;
    t->taken_ms = now;
    t->stop = LLM_STOP_END_TURN;
    t->answered_in = turn;
    pl_buf_init(&t->answer, ANSWER_BYTES_MAX);
    return t;
}

enum llm_stop turn_stop_from_name(const char *name)
{
    for (int i = LLM_STOP_END_TURN; i <= LLM_STOP_TIMEOUT; i++) {
        if (name && strcmp(llm_stop_name((enum llm_stop)i), name) == 0)
            return (enum llm_stop)i;
    }
    return LLM_STOP_END_TURN;
}

void turn_take_answer(struct turn *t, const struct sess_entry *a, long answered)
{
    if (!a) {
        t->answered_in = answered; /* the transcript no longer holds it */
        return;
    }
    pl_buf_append(&t->answer, a->text, a->text_len);
    t->stop = turn_stop_from_name(a->stop_reason);
    t->usage.input_tokens = a->input_tokens;
    t->usage.output_tokens = a->output_tokens;
    t->usage.cache_read_input_tokens = a->cache_read_input_tokens;
    t->usage.cache_creation_input_tokens = a->cache_creation_input_tokens;
    t->cost_micros = a->cost_micros;
    snprintf(t->model, sizeof(t->model), "%s", a->model ? a->model : "");
    turn_citations_parse(&t->citations, a->citations);
    t->answered_in = a->turn;
    t->error = api_error_from_code(a->error);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct turn_session *s = h->data;
    turn_free(s->active);
    turn_free(s->last);
    turn_free(s->remote);
    pl_free(s->queue);
    pl_free(s);
}

struct turn_session *turn_session_find(struct turn_engine *e, const char *sid)
{
    return pl_map_get(&e->sessions, sid);
}

struct turn_session *turn_session_get(struct turn_engine *e, const char *sid)
{
    struct turn_session *s = turn_session_find(e, sid);
    if (s) {
        s->refs++;
        return s;
    }
    s = pl_calloc(1, sizeof(*s));
    s->engine = e;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    s->refs = 1;
    uv_timer_init(e->opts.loop, &s->timer);
    s->timer.data = s;
    pl_map_put(&e->sessions, s->sid, s);
    s->next = e->all;
    if (e->all)
        e->all->prev = s;
    e->all = s;
    e->stats.sessions_live++;
    return s;
}

void turn_session_ref(struct turn_session *s)
{
    s->refs++;
}

void turn_session_unref(struct turn_session *s)
{
    if (--s->refs > 0)
        return;
    struct turn_engine *e = s->engine;
    pl_map_remove(&e->sessions, s->sid);
    if (s->prev)
        s->prev->next = s->next;
    else
        e->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    e->stats.sessions_live--;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

bool turn_session_has_turn(const struct turn_session *s, long turn)
{
    if (s->active && s->active->turn == turn)
        return true;
    for (size_t i = 0; i < s->queue_len; i++) {
        if (s->queue[i] == turn)
            return true;
    }
    return false;
}

/* ---- listeners ---- */

static void link_listener(struct turn_session *s, struct turn_listener *l)
{
    l->_session = s;
    l->_prev = NULL;
    l->_next = s->listeners;
    if (s->listeners)
        s->listeners->_prev = l;
    s->listeners = l;
}

static bool is_listening(const struct turn_session *s, const struct turn_listener *l)
{
    for (const struct turn_listener *p = s->listeners; p; p = p->_next) {
        if (p == l)
            return true;
    }
    return false;
}

/* Tell `l` turn `t`'s deltas from `from_seq` on (and its start and end when asked). `l` may
 * detach itself, and even be freed, from any of these calls: it is looked for in the session's
 * list (which the caller keeps alive) instead of being read after each. */
static void replay_turn(struct turn_session *s, struct turn_listener *l, const struct turn *t,
                        long from_seq, bool with_start)
{
    const struct turn_listener_ops *ops = l->ops;
    if (with_start && ops->turn_start) {
        ops->turn_start(l, t->turn);
        if (!is_listening(s, l))
            return;
    }
    for (size_t k = from_seq < 0 ? 0 : (size_t)from_seq; ops->delta && k < t->n_deltas; k++) {
        size_t start = k ? t->delta_ends[k - 1] : 0;
        ops->delta(l, t->turn, (long)k, t->answer.data + start, t->delta_ends[k] - start);
        if (!is_listening(s, l))
            return;
    }
    if (t->end_sent && ops->turn_end) {
        struct turn_end end;
        turn_end_of(t, &end);
        ops->turn_end(l, &end);
    }
}

/* A turn whose start was told and whose end is not yet: a new listener gets it from its start. */
static bool telling(const struct turn *t)
{
    return t && (t->state == TURN_STREAMING || (t->state == TURN_STORING && !t->end_sent));
}

/* The turn `from` names, as kept here: answered here, or told from elsewhere (not a turn whose
 * turn_end was left to the other: its deltas are the other's). NULL: none. */
static struct turn *replay_source(const struct turn_session *s, const struct turn_listener *l,
                                  const struct turn_replay *from)
{
    const struct turn *r = l->ops->only_here ? NULL : s->remote;
    if (s->active && s->active->turn == from->turn && s->active->state != TURN_LOCKING)
        return s->active;
    if (s->last && s->last->turn == from->turn && !s->last->end_silent)
        return s->last;
    if (r && r->turn == from->turn &&
        (r->state == TURN_STREAMING || (r->end_sent && !r->end_silent)))
        return s->remote;
    return NULL;
}

void turn_listen(struct turn_engine *e, const char *sid, struct turn_listener *l,
                 const struct turn_replay *from)
{
    struct turn_session *s = turn_session_get(e, sid); /* the listener's reference */
    turn_session_ref(s);                               /* while replaying */
    link_listener(s, l);
    l->_resume_turn = 0;
    l->_resume_seq = -1;
    struct turn *current = telling(s->active) ? s->active : NULL;
    if (!current && s->remote && s->remote->state == TURN_STREAMING && !l->ops->only_here)
        current = s->remote;
    struct turn *source = from ? replay_source(s, l, from) : NULL;
    if (from) {
        /* A turn another instance answers may be told here later (from its start when this
         * instance has not had it): what the listener has is left out then. */
        l->_resume_turn = from->turn;
        l->_resume_seq = from->after_seq;
    }
    if (source)
        replay_turn(s, l, source, from->after_seq + 1, from->after_seq < 0);
    else if (current)
        replay_turn(s, l, current, 0, true);
    turn_session_unref(s);
}

void turn_unlisten(struct turn_listener *l)
{
    struct turn_session *s = l->_session;
    if (!s)
        return;
    if (s->emit_next == l)
        s->emit_next = l->_next;
    if (l->_prev)
        l->_prev->_next = l->_next;
    else
        s->listeners = l->_next;
    if (l->_next)
        l->_next->_prev = l->_prev;
    l->_session = NULL;
    l->_prev = l->_next = NULL;
    turn_session_unref(s);
}

/* ---- emission: every listener, in order, each free to detach itself meanwhile ---- */

/* The session's emit_next is the walk's cursor, which turn_unlisten moves past a listener that
 * detaches; the walk holds a reference so that the last listener leaving does not free the
 * session under it. */
void turn_emission_begin(struct turn_emission *e, struct turn_session *s)
{
    e->s = s;
    e->saved = s->emit_next;
    turn_session_ref(s);
    s->emit_next = s->listeners;
}

struct turn_listener *turn_emission_next(struct turn_emission *e)
{
    struct turn_listener *l = e->s->emit_next;
    if (l)
        e->s->emit_next = l->_next;
    return l;
}

void turn_emission_end(struct turn_emission *e)
{
    e->s->emit_next = e->saved;
    turn_session_unref(e->s);
}

void turn_emit_message(struct turn_session *s, long turn, const char *text, size_t len)
{
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->message)
            l->ops->message(l, turn, text, len);
    turn_emission_end(&e);
}

void turn_emit_agent(struct turn_session *s, const struct turn_agent_event *ev)
{
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->agent)
            l->ops->agent(l, ev);
    turn_emission_end(&e);
}

void turn_emit_held(struct turn_session *s, long turn)
{
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->held)
            l->ops->held(l, turn);
    turn_emission_end(&e);
}

void turn_emit_start(struct turn_session *s, long turn)
{
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->turn_start)
            l->ops->turn_start(l, turn);
    turn_emission_end(&e);
}

void turn_emit_delta(struct turn_session *s, long turn, long seq, const char *text, size_t len)
{
    s->engine->stats.deltas++;
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->delta)
            l->ops->delta(l, turn, seq, text, len);
    turn_emission_end(&e);
}

/* Local turn `t` ends, and the turn another instance answers is the same: true when that one's
 * turn_end tells it (told already, or to come while it streams and is not read back here). */
static bool end_told_by_remote(const struct turn_session *s, const struct turn *t)
{
    const struct turn *r = s->remote;
    if (!r || r == t || r->turn != t->turn || t->n_deltas > 0)
        return false;
    return (r->end_sent && !r->end_silent) || (r->state == TURN_STREAMING && !s->remote_stalled);
}

void turn_emit_error(struct turn_session *s, const struct turn *t)
{
    bool silent = end_told_by_remote(s, t); /* told with the other instance's events */
    s->engine->stats.turns_failed++;
    const struct turn_error err = {
        .code = t->error,
        .message = t->error_message[0] ? t->error_message : api_error_message(t->error),
        .retry_after_ms = t->retry_after_ms,
    };
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->error && (!silent || l->ops->only_here))
            l->ops->error(l, t->turn, &err);
    turn_emission_end(&e);
}

void turn_end_of(const struct turn *t, struct turn_end *out)
{
    memset(out, 0, sizeof(*out));
    out->turn = t->turn;
    out->answered_in = t->answered_in;
    out->stop_reason = llm_stop_name(t->stop);
    out->input_tokens = t->usage.input_tokens;
    out->output_tokens = t->usage.output_tokens;
    out->cache_read_input_tokens = t->usage.cache_read_input_tokens;
    out->cache_creation_input_tokens = t->usage.cache_creation_input_tokens;
    out->cost_micros = t->cost_micros;
    out->text = t->answer.data ? t->answer.data : "";
    out->text_len = t->answer.len;
    out->streamed = t->n_deltas > 0 || t->answer.len == 0;
    out->citations = t->citations.n ? t->citations.items : NULL;
    out->n_citations = t->citations.n;
    out->error = t->error;
    out->retry_after_ms = t->retry_after_ms;
    out->error_message = t->error_message[0] ? t->error_message : NULL;
}

void turn_emit_end(struct turn_session *s, struct turn *t)
{
    t->end_sent = true;
    /* One turn_end: the other instance's (turn_remote.c), but for the listeners of this
     * instance's own turns. */
    t->end_silent = end_told_by_remote(s, t);
    struct turn *r = s->remote;
    if (r && r != t && r->turn == t->turn && !t->end_silent) {
        /* told here instead: the rest of the other instance's events are dropped */
        r->state = TURN_ENDED;
        r->end_sent = r->end_silent = true;
    }
    s->engine->stats.turns_completed++;
    struct turn_end end;
    turn_end_of(t, &end);
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->turn_end && (!t->end_silent || l->ops->only_here))
            l->ops->turn_end(l, &end);
    turn_emission_end(&e);
}
