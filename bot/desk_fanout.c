/* Cross-instance fan-out of the agent desk; see desk_fanout.h. */
#include "bot/desk_fanout.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/agent_proto.h"
#include "bot/chat_proto.h"
#include "bot/desk_frame.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/session_live.h"
#include "sessions/watch_interest.h"

#define BATCH_BYTES_MAX (4 * 1024 * 1024)

/* ---- publisher: a session with a turn being answered here ---- */

struct pub_session {
    struct turn_listener listener;
    struct desk_fanout *f;
    struct pub_session *next;
    int refs; /* the list's, and one per mark read in flight */
    bool listening;
    bool watched;
    long long mark; /* the counter last seen (-1: none) */
    long deltas;    /* of the turn being told: how many (its turn_end says so to receivers) */
    uint64_t polled_ms;
    struct pl_buf batch; /* instance id, then frames, each line ended by '\n' */
    size_t batch_frames;
    char sid[SESS_ID_LEN + 1];
};

/* ---- receiver: a session watched or with a caller here ---- */

struct desk_sub {
    struct desk_fanout *f;
    struct desk_sub *next;
    struct desk_remote_watch *watches;
    unsigned callers; /* caller connections here (desk_fanout_follow) */
    char sid[SESS_ID_LEN + 1];
};

struct desk_fanout {
    struct bot_server *srv;
    struct sess_store_opts live_opts; /* for the subscriber, opened at the first watch or caller */
    struct sess_live *live;
    struct pub_session *pubs;
    struct desk_sub *subs;
    uv_timer_t batch_timer; /* every DESK_BATCH_MS while a turn is followed */
    uv_timer_t check_timer; /* every DESK_CHECK_MS: turns elsewhere gone quiet (read back) */
    struct pl_buf frame;
    bool stopped;
    int handles_open; /* timers not closed yet (close callbacks run in any order) */
};

static void pub_unref(struct pub_session *p)
{
    if (--p->refs > 0)
        return;
    pl_buf_cleanup(&p->batch);
    pl_free(p);
}

static void pub_flush(struct pub_session *p)
{
    if (p->batch_frames == 0)
        return;
    struct desk_fanout *f = p->f;
    if (!f->stopped)
        sess_live_publish(f->srv->store, p->sid, p->batch.data, p->batch.len - 1, NULL, NULL);
    pl_buf_reset(&p->batch);
    p->batch_frames = 0;
}

/* Add the frame in f->frame to the session's batch (published by the batch timer). */
static void pub_add(struct pub_session *p)
{
    struct desk_fanout *f = p->f;
    if (!p->watched || f->frame.len == 0)
        return;
    if (p->batch.len == 0) {
        pl_buf_append_str(&p->batch, f->srv->instance_id);
        pl_buf_append(&p->batch, "\n", 1);
    }
    if (pl_buf_append(&p->batch, f->frame.data, f->frame.len) != PL_OK ||
        pl_buf_append(&p->batch, "\n", 1) != PL_OK) {
        pub_flush(p); /* full: out now, and this frame alone next */
        pl_buf_append_str(&p->batch, f->srv->instance_id);
        pl_buf_append(&p->batch, "\n", 1);
        pl_buf_append(&p->batch, f->frame.data, f->frame.len);
        pl_buf_append(&p->batch, "\n", 1);
    }
    p->batch_frames++;
}

static struct pl_buf *frame_buf(struct desk_fanout *f)
{
    pl_buf_reset(&f->frame);
    return &f->frame;
}

/* Add `,"KEY":VALUE` to the JSON object in f->frame. */
static void frame_add_long(struct desk_fanout *f, const char *key, long value)
{
    if (f->frame.len == 0 || f->frame.data[f->frame.len - 1] != '}')
        return;
    f->frame.len--;
    pl_buf_printf(&f->frame, ",\"%s\":%ld}", key, value);
}

static struct pub_session *pub_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct pub_session, listener);
}

static void pub_on_message(struct turn_listener *l, long turn, const char *text, size_t len)
{
    struct pub_session *p = pub_of(l);
    agent_event_message(frame_buf(p->f), "caller", turn, text, len);
    pub_add(p);
}

static void pub_on_turn_start(struct turn_listener *l, long turn)
{
    struct pub_session *p = pub_of(l);
    p->deltas = 0;
    chat_out_turn_start(frame_buf(p->f), turn);
    pub_add(p);
}

static void pub_on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    struct pub_session *p = pub_of(l);
    p->deltas = seq + 1;
    if (!p->watched)
        return; /* the per-token path: nothing at all while nobody watches */
    chat_out_delta(frame_buf(p->f), turn, seq, text, len);
    pub_add(p);
}

static void pub_on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    struct pub_session *p = pub_of(l);
    chat_out_error_retry_after(frame_buf(p->f), err->code, err->message, err->retry_after_ms);
    frame_add_long(p->f, "turn", turn); /* whose error it is, for the receivers' engines */
    pub_add(p);
}

static void pub_drop(struct pub_session *p)
{
    struct desk_fanout *f = p->f;
    for (struct pub_session **q = &f->pubs; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    if (p->listening) {
        turn_unlisten(&p->listener);
        p->listening = false;
    }
    pub_unref(p);
    if (!f->pubs && !f->stopped)
        uv_timer_stop(&f->batch_timer);
}

static void pub_on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct pub_session *p = pub_of(l);
    chat_out_turn_end(frame_buf(p->f), end);
    if (end->streamed) /* a receiver that has fewer reads the whole text back */
        frame_add_long(p->f, "deltas", end->text_len ? p->deltas : 0);
    pub_add(p);
    pub_flush(p);
    pub_drop(p); /* followed again when its next turn starts */
}

/* The message went to the agent who holds the session: no turn follows to end the following. */
static void pub_on_held(struct turn_listener *l, long turn)
{
    (void)turn;
    struct pub_session *p = pub_of(l);
    pub_flush(p);
    pub_drop(p);
}

static const struct turn_listener_ops pub_ops = {
    .only_here = true, /* what other instances answer is theirs to publish */
    .held = pub_on_held,
    .message = pub_on_message,
    .turn_start = pub_on_turn_start,
    .delta = pub_on_delta,
    .error = pub_on_error,
    .turn_end = pub_on_turn_end,
};

/* Someone besides this instance listens, or nobody (-1); a new counter means someone joined: the
 * turn is told again from its turn_start (receivers drop what they have). */
static void on_mark(void *ud, int status, long long value)
{
    struct pub_session *p = ud;
    if (status == PL_OK && p->listening && !p->f->stopped) {
        bool joined = value >= 0 && value != p->mark;
        p->watched = value >= 0;
        p->mark = value;
        if (joined) {
            turn_unlisten(&p->listener);
            turn_listen(p->f->srv->engine, p->sid, &p->listener, NULL);
        }
    }
    pub_unref(p);
}

static struct desk_sub *sub_find(struct desk_fanout *f, const char *sid);

/* This instance is among the subscribers of the session's channel (its own watchers and
 * callers do not need the turn published). */
static bool subscribed_here(struct desk_fanout *f, const char *sid)
{
    return f->live && sess_live_ready(f->live) && sub_find(f, sid);
}

static void pub_poll(struct pub_session *p, uint64_t now)
{
    p->polled_ms = now;
    if (sess_watch_read(p->f->srv->store, p->sid, subscribed_here(p->f, p->sid), on_mark, p) ==
        PL_OK)
        p->refs++;
}

static void on_batch_timer(uv_timer_t *t)
{
    struct desk_fanout *f = t->data;
    uint64_t now = uv_now(f->srv->loop);
    for (struct pub_session *p = f->pubs; p; p = p->next) {
        pub_flush(p);
        if (now - p->polled_ms >= DESK_POLL_MS)
            pub_poll(p, now);
    }
}

void desk_fanout_turn_starting(void *ud, const char *sid, long turn)
{
    (void)turn;
    struct desk_fanout *f = ud;
    if (!f || f->stopped)
        return;
    for (struct pub_session *p = f->pubs; p; p = p->next)
        if (strcmp(p->sid, sid) == 0)
            return; /* followed already */
    struct pub_session *p = pl_calloc(1, sizeof(*p));
    p->f = f;
    p->refs = 1;
    p->mark = -1;
    pl_buf_init(&p->batch, BATCH_BYTES_MAX);
    snprintf(p->sid, sizeof(p->sid), "%s", sid);
    p->listener.ops = &pub_ops;
    /* From now on: at a turn's start its turn_start follows this call and nothing before it is
     * replayed; at a submission (turn 0) the turn under way, if any, is replayed, and dropped
     * unless someone besides this instance listens. */
    const struct turn_replay from = {.turn = turn, .after_seq = LONG_MAX / 2};
    turn_listen(f->srv->engine, sid, &p->listener, &from);
    p->listening = true;
    p->next = f->pubs;
    f->pubs = p;
    pub_poll(p, uv_now(f->srv->loop));
    if (!uv_is_active((uv_handle_t *)&f->batch_timer))
        uv_timer_start(&f->batch_timer, on_batch_timer, DESK_BATCH_MS, DESK_BATCH_MS);
}

/* ---- receiver ---- */

/* One frame published by another instance: a turn's event told through the engine's listeners
 * here (caller connections, watches, HTTP streams alike), which drops what was told already; an
 * agent's action done here as there, for the callers and watchers connected here. */
static void sub_frame(struct desk_sub *s, const char *data, size_t len)
{
    struct bot_server *srv = s->f->srv;
    struct desk_frame fr;
    desk_frame_parse(data, len, &fr);
    if (fr.kind == DESK_FRAME_TURN && turn_tell_remote(srv->engine, s->sid, &fr.turn)) {
        /* A publish was missed: the answering instance tells the turn again from its start
         * when the counter rises. */
        sess_watch_join(srv->store, s->sid, DESK_JOINS_TTL_MS, NULL, NULL);
    } else if (fr.kind == DESK_FRAME_AGENT) {
        if (fr.agent.kind == TURN_AGENT_TAKEOVER)
            turn_cancel(srv->engine, s->sid, TURN_CANCEL_BY_TAKEOVER);
        turn_tell_agent(srv->engine, s->sid, &fr.agent);
    }
    desk_frame_cleanup(&fr);
}

static void on_live(void *ud, const char *sid, const char *data, size_t len)
{
    struct desk_fanout *f = ud;
    struct desk_sub *s = f->subs;
    while (s && strcmp(s->sid, sid) != 0)
        s = s->next;
    const char *end = data + len;
    const char *nl = memchr(data, '\n', len);
    if (!s || !nl)
        return;
    size_t id_len = (size_t)(nl - data);
    if (id_len == strlen(f->srv->instance_id) && memcmp(data, f->srv->instance_id, id_len) == 0)
        return; /* our own turns reach our watches through the turn engine */
    for (const char *p = nl + 1; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        if (e > p)
            sub_frame(s, p, (size_t)(e - p));
        p = e + 1;
    }
}

static struct desk_sub *sub_find(struct desk_fanout *f, const char *sid)
{
    struct desk_sub *s = f->subs;
    while (s && strcmp(s->sid, sid) != 0)
        s = s->next;
    return s;
}

/* The subscription of `sid` here, made if need be (NULL: it cannot be). */
static struct desk_sub *sub_get(struct desk_fanout *f, const char *sid)
{
    struct desk_sub *s = sub_find(f, sid);
    if (!s && !f->live) {
        /* The subscriber connection only once a watch or a caller is here. */
        char err[200];
        if (sess_live_create(f->srv->loop, &f->live_opts, &f->live, err, sizeof(err)) != PL_OK) {
            PL_LOG(PL_LOG_WARN, "desk", "no live events from other instances: %s", err);
            return NULL;
        }
    }
    if (!s) {
        s = pl_calloc(1, sizeof(*s));
        s->f = f;
        snprintf(s->sid, sizeof(s->sid), "%s", sid);
        if (sess_live_subscribe(f->live, sid, on_live, f) != PL_OK) {
            PL_LOG(PL_LOG_WARN, "desk", "sess=%s: cannot subscribe to its live events", sid);
            pl_free(s);
            return NULL;
        }
        s->next = f->subs;
        f->subs = s;
    }
    return s;
}

void desk_fanout_watch(struct desk_fanout *f, const char *sid, struct desk_remote_watch *w)
{
    w->_sub = NULL;
    w->_next = NULL;
    if (!f || f->stopped)
        return;
    struct desk_sub *s = sub_get(f, sid);
    if (!s)
        return;
    w->_sub = s;
    w->_next = s->watches;
    s->watches = w;
    /* a join: the answering instance tells the turn under way again, from its start */
    sess_watch_join(f->srv->store, sid, DESK_JOINS_TTL_MS, NULL, NULL);
}

static void sub_free(struct desk_sub *s)
{
    pl_free(s);
}

/* Unsubscribe once no watch and no caller here needs the session's channel. */
static void sub_release(struct desk_sub *s)
{
    if (s->watches || s->callers)
        return;
    struct desk_fanout *f = s->f;
    for (struct desk_sub **q = &f->subs; *q; q = &(*q)->next)
        if (*q == s) {
            *q = s->next;
            break;
        }
    sess_live_unsubscribe(f->live, s->sid);
    sub_free(s);
}

void desk_fanout_unwatch(struct desk_remote_watch *w)
{
    struct desk_sub *s = w->_sub;
    if (!s)
        return;
    for (struct desk_remote_watch **q = &s->watches; *q; q = &(*q)->_next)
        if (*q == w) {
            *q = w->_next;
            break;
        }
    w->_sub = NULL;
    w->_next = NULL;
    sub_release(s);
}

void desk_fanout_follow(struct desk_fanout *f, const char *sid)
{
    if (!f || f->stopped)
        return;
    struct desk_sub *s = sub_get(f, sid);
    if (!s)
        return;
    s->callers++;
    /* a join, as a watch's: a caller resuming here mid-turn gets the rest of the turn */
    sess_watch_join(f->srv->store, sid, DESK_JOINS_TTL_MS, NULL, NULL);
}

void desk_fanout_unfollow(struct desk_fanout *f, const char *sid)
{
    if (!f || f->stopped)
        return;
    struct desk_sub *s = f->subs;
    while (s && strcmp(s->sid, sid) != 0)
        s = s->next;
    if (!s || s->callers == 0)
        return;
    s->callers--;
    sub_release(s);
}

void desk_fanout_tell_agent(struct desk_fanout *f, const char *sid,
                            const struct turn_agent_event *ev)
{
    static const char *const kinds[] = {
        [TURN_AGENT_WATCH] = "watch",
        [TURN_AGENT_TAKEOVER] = "takeover",
        [TURN_AGENT_SAY] = "say",
        [TURN_AGENT_RELEASE] = "release",
    };
    if (!f || f->stopped)
        return;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "type", "agent", "kind", kinds[ev->kind],
                          "agent", ev->agent ? ev->agent : "", "turn", (json_int_t)ev->turn, "ts",
                          (json_int_t)ev->ts_ms);
    if (o && ev->text)
        json_object_set_new(o, "text", json_stringn(ev->text, ev->len));
    char *frame = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!frame)
        return;
    struct pl_buf *b = frame_buf(f);
    pl_buf_append_str(b, f->srv->instance_id);
    pl_buf_append(b, "\n", 1);
    pl_buf_append_str(b, frame);
    free(frame);
    sess_live_publish(f->srv->store, sid, b->data, b->len, NULL, NULL);
}

/* A turn answered elsewhere that went quiet (its turn_end missed) is read back: no Redis call
 * unless one did. */
static void on_check_timer(uv_timer_t *t)
{
    struct desk_fanout *f = t->data;
    for (struct desk_sub *s = f->subs, *next; s; s = next) {
        next = s->next;
        turn_remote_check(f->srv->engine, s->sid);
    }
}

/* ---- life ---- */

int desk_fanout_create(struct bot_server *srv, const struct sess_store_opts *so,
                       struct desk_fanout **out, char *err, size_t len)
{
    struct desk_fanout *f = pl_calloc(1, sizeof(*f));
    f->srv = srv;
    f->live_opts = *so;
    (void)err;
    (void)len;
    pl_buf_init(&f->frame, BATCH_BYTES_MAX);
    uv_timer_init(srv->loop, &f->batch_timer);
    uv_timer_init(srv->loop, &f->check_timer);
    f->batch_timer.data = f->check_timer.data = f;
    uv_timer_start(&f->check_timer, on_check_timer, DESK_CHECK_MS, DESK_CHECK_MS);
    *out = f;
    return PL_OK;
}

static void on_closed(uv_handle_t *h)
{
    struct desk_fanout *f = h->data;
    if (--f->handles_open == 0)
        pl_free(f);
}

void desk_fanout_destroy(struct desk_fanout *f)
{
    if (!f)
        return;
    while (f->pubs) {
        struct pub_session *p = f->pubs;
        pub_flush(p);
        pub_drop(p);
    }
    f->stopped = true;
    while (f->subs) {
        struct desk_sub *s = f->subs;
        f->subs = s->next;
        for (struct desk_remote_watch *w = s->watches; w;) {
            struct desk_remote_watch *next = w->_next;
            w->_sub = NULL;
            w->_next = NULL;
            w = next;
        }
        sub_free(s);
    }
    sess_live_destroy(f->live);
    f->live = NULL;
    pl_buf_cleanup(&f->frame);
    uv_timer_stop(&f->batch_timer);
    uv_timer_stop(&f->check_timer);
    f->handles_open = 2;
    uv_close((uv_handle_t *)&f->batch_timer, on_closed);
    uv_close((uv_handle_t *)&f->check_timer, on_closed);
}
