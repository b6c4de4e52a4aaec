/* Turns answered on other instances, told to this instance's listeners (turn_engine.h
 * turn_tell_remote). A session keeps the newest such turn (turn_session.remote) as a struct turn
 * like its own: its text and delta boundaries for listeners that join or resume mid-turn, its
 * end for the one turn_end. Its events go through the same listeners as the turns answered
 * here, so a caller connection, an agent's watch and the HTTP message API's stream see a turn
 * the same wherever it is answered, and the one rule "one turn_end per turn" is kept here, in
 * one place, against this instance's own turn of the same number (turn_session.c,
 * turn_emit_end).
 *
 * Pub/sub is at most once. A missed delta is a gap: the deltas after it are dropped (a listener
 * never sees a hole in the text) and a tell-again is asked for, once per turn; if the turn ends
 * with fewer deltas told here than it had, its turn_end is not told from here: the turn is
 * queued on this instance as a recovered one, whose read of the stored answer ends it with the
 * whole text. A missed turn_end (the turn goes quiet) is read back the same way
 * (turn_remote_check). */
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

/* This instance answers turn `turn`, or has told its turn_end itself. */
static bool owned_here(const struct turn_session *s, long turn)
{
    if (s->active && s->active->turn == turn && s->active->state != TURN_LOCKING)
        return true;
    return s->last && s->last->turn == turn && !s->last->end_silent;
}

/* The newest turn whose events were told here: events of older ones are stale. */
static long newest_told(const struct turn_session *s)
{
    long n = s->remote ? s->remote->turn : 0;
    if (s->last && s->last->turn > n && !s->last->end_silent)
        n = s->last->turn;
    if (s->active && s->active->state != TURN_LOCKING && s->active->turn > n)
        n = s->active->turn;
    return n;
}

/* Read turn `turn` back from the transcript here (as turn_recover does): its turn_end, with the
 * whole text, comes from this instance's own engine. */
static void read_back(struct turn_session *s, long turn)
{
    struct turn_engine *e = s->engine;
    PL_LOG(PL_LOG_INFO, "turn",
           "sess=%s turn=%ld: live events from another instance missed; "
           "reading its answer back",
           s->sid, turn);
    s->remote_stalled = true;
    if (!e->draining && !e->stopped)
        turn_enqueue(s, turn, NULL);
}

/* The remote turn for events of `turn` (`start`: a turn_start), made if it is new; NULL: the
 * events are dropped. */
static struct turn *remote_for(struct turn_session *s, long turn, bool start)
{
    if (turn < 1 || owned_here(s, turn))
        return NULL;
    struct turn *r = s->remote;
    /* A turn that failed before any text stored nothing: it may be answered again (recovered
     * by the instance its caller comes back to), and is then told afresh. */
    bool again = start && r && r->turn == turn && r->state == TURN_ENDED && r->error;
    if (r && r->turn == turn && !again)
        return r;
    if (turn < newest_told(s))
        return NULL;
    if (r && r->state != TURN_ENDED)
        read_back(s, r->turn); /* its turn_end never came */
    if (again)                 /* a new answer: what a resumed listener had was of the failed one */
        for (struct turn_listener *l = s->listeners; l; l = l->_next)
            if (l->_resume_turn == turn)
                l->_resume_turn = 0;
    turn_free(r);
    r = turn_new(turn, uv_now(s->engine->opts.loop));
    s->remote = r;
    s->remote_stalled = false;
    return r;
}

/* Not to be told of this turn's event at `seq`: it is for this instance's turns only, or had it
 * before it resumed. */
static bool skips(const struct turn_listener *l, long turn, long seq)
{
    return l->ops->only_here || (l->_resume_turn == turn && seq <= l->_resume_seq);
}

static void tell_message(struct turn_session *s, long turn, const char *text, size_t len)
{
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->message && !l->ops->only_here)
            l->ops->message(l, turn, text, len);
    turn_emission_end(&e);
}

static void tell_start(struct turn_session *s, struct turn *r)
{
    r->state = TURN_STREAMING;
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->turn_start && !skips(l, r->turn, 0))
            l->ops->turn_start(l, r->turn);
    turn_emission_end(&e);
}

/* A delta: true when a tell-again should be asked for (its turn_start or an earlier delta was
 * missed). */
static bool tell_delta(struct turn_session *s, struct turn *r, long seq, const char *text,
                       size_t len)
{
    if (r->state == TURN_ENDED || (r->state == TURN_STREAMING && seq < (long)r->n_deltas))
        return false; /* told already */
    if (r->state != TURN_STREAMING || seq > (long)r->n_deltas) {
        if (s->remote_retold == r->turn)
            return false;
        PL_LOG(PL_LOG_INFO, "turn",
               "sess=%s turn=%ld: live events from another instance missed; "
               "asking for the turn again",
               s->sid, r->turn);
        s->remote_retold = r->turn;
        return true;
    }
    if (pl_buf_append(&r->answer, text, len) != PL_OK)
        return false; /* longer than an answer may be: read back at its end */
    if (r->n_deltas == r->cap_deltas) {
        r->cap_deltas = r->cap_deltas ? r->cap_deltas * 2 : 64;
        r->delta_ends = pl_realloc(r->delta_ends, r->cap_deltas * sizeof(*r->delta_ends));
    }
    r->delta_ends[r->n_deltas++] = r->answer.len;
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->delta && !skips(l, r->turn, seq))
            l->ops->delta(l, r->turn, seq, text, len);
    turn_emission_end(&e);
    return false;
}

static void tell_error(struct turn_session *s, struct turn *r, const struct turn_error *err)
{
    if (r->state == TURN_ENDED || r->error)
        return;
    r->error = err->code;
    snprintf(r->error_message, sizeof(r->error_message), "%s", err->message);
    r->retry_after_ms = err->retry_after_ms;
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->error && !l->ops->only_here)
            l->ops->error(l, r->turn, err);
    turn_emission_end(&e);
}

/* `n_deltas`: how many the answering instance told (-1: not known). */
static void tell_end(struct turn_session *s, struct turn *r, const struct turn_end *end,
                     long n_deltas)
{
    if (r->state == TURN_ENDED)
        return;
    bool all_told = r->state == TURN_STREAMING && (n_deltas < 0 || n_deltas == (long)r->n_deltas);
    if (end->streamed && !all_told && !r->error) {
        /* Its deltas were not all told here: the whole text comes from the transcript. */
        r->state = TURN_ENDED;
        read_back(s, r->turn);
        return;
    }
    if (!end->streamed) {
        pl_buf_reset(&r->answer);
        pl_buf_append(&r->answer, end->text ? end->text : "", end->text ? end->text_len : 0);
        r->n_deltas = 0;
    }
    r->answered_in = end->answered_in;
    r->stop = turn_stop_from_name(end->stop_reason);
    r->usage.input_tokens = end->input_tokens;
    r->usage.output_tokens = end->output_tokens;
    r->usage.cache_read_input_tokens = end->cache_read_input_tokens;
    r->usage.cache_creation_input_tokens = end->cache_creation_input_tokens;
    r->cost_micros = end->cost_micros;
    turn_citations_copy(&r->citations, end->citations, end->n_citations);
    r->state = TURN_ENDED;
    r->end_sent = true;
    struct turn_end out;
    turn_end_of(r, &out);
    struct turn_emission e;
    turn_emission_begin(&e, s);
    for (struct turn_listener *l; (l = turn_emission_next(&e));)
        if (l->ops->turn_end && !l->ops->only_here)
            l->ops->turn_end(l, &out);
    turn_emission_end(&e);
}

bool turn_tell_remote(struct turn_engine *e, const char *sid, const struct turn_remote_event *ev)
{
    struct turn_session *s = turn_session_find(e, sid);
    if (!s)
        return false;    /* nobody here to tell */
    turn_session_ref(s); /* listeners may leave meanwhile */
    if (ev->kind == TURN_REMOTE_MESSAGE) {
        tell_message(s, ev->turn, ev->text, ev->len);
        turn_session_unref(s);
        return false;
    }
    bool retell = false;
    struct turn *r = remote_for(s, ev->turn, ev->kind == TURN_REMOTE_START);
    if (r) {
        s->remote_heard = true;
        switch (ev->kind) {
        case TURN_REMOTE_START:
            if (r->state == TURN_LOCKING)
                tell_start(s, r);
            break; /* else told again from its start: told here already */
        case TURN_REMOTE_DELTA:
            retell = tell_delta(s, r, ev->seq, ev->text, ev->len);
            break;
        case TURN_REMOTE_ERROR:
            tell_error(s, r, ev->error);
            break;
        case TURN_REMOTE_END:
            tell_end(s, r, ev->end, ev->seq);
            break;
        case TURN_REMOTE_MESSAGE:
            break;
        }
    }
    turn_session_unref(s);
    return retell;
}

void turn_remote_check(struct turn_engine *e, const char *sid)
{
    struct turn_session *s = turn_session_find(e, sid);
    if (!s)
        return;
    struct turn *r = s->remote;
    if (r && r->state != TURN_ENDED && !s->remote_heard && !s->remote_stalled) {
        turn_session_ref(s);
        read_back(s, r->turn);
        turn_session_unref(s);
    }
    s->remote_heard = false;
}
