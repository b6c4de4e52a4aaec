/* Live updates of the desk's session list; see desk_list.h. */
#include "bot/desk_list.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/desk_channel.h"

#define FOLLOW_BUCKETS 256

typedef char sid_t[SESS_ID_LEN + 1];

/* A set of at most DESK_LIST_PENDING_MAX session ids, each once. */
struct sid_set {
    sid_t ids[DESK_LIST_PENDING_MAX];
    size_t n;
};

/* Adds `sid` unless it is there; false when the set is full. */
static bool sid_set_add(struct sid_set *s, const char *sid)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->ids[i], sid, SESS_ID_LEN) == 0)
            return true;
    if (s->n == DESK_LIST_PENDING_MAX)
        return false;
    memcpy(s->ids[s->n++], sid, sizeof(sid_t));
    return true;
}

/* A session whose messages and answers are followed here (publisher). */
struct followed {
    struct turn_listener listener;
    struct desk_list *dl;
    struct followed *next; /* in its bucket */
    uint64_t last_ms;
    char sid[SESS_ID_LEN + 1];
};

struct desk_list {
    struct bot_server *srv;
    struct sess_store_opts sub_opts;
    int refs; /* the owner's, one per Redis call in flight, one per open timer */
    bool stopped;
    /* publisher */
    struct followed *buckets[FOLLOW_BUCKETS];
    size_t n_followed;
    struct sid_set changed; /* gathered for the next batch */
    struct sid_set reading; /* a batch waiting for the mark's answer */
    bool mark_reading;      /* `reading` is in use */
    uint64_t mark_seen_ms;  /* when the mark was last seen there (0: never) */
    uv_timer_t batch_timer; /* one-shot: DESK_LIST_BATCH_MS after the first change */
    uv_timer_t house_timer; /* every DESK_LIST_REFRESH_MS: marks, idle follows */
    /* receiver */
    struct desk_list_follower *followers;
    struct sess_channel_sub *sub;
    struct sid_set to_read;
    bool rows_reading;
    struct pl_buf publish;
};

static void dl_unref(struct desk_list *dl)
{
    if (--dl->refs == 0) {
        pl_buf_cleanup(&dl->publish);
        pl_free(dl);
    }
}

static uint64_t now_ms(struct desk_list *dl)
{
    return uv_now(dl->srv->loop);
}

/* ---- publisher ---- */

static void publish(struct desk_list *dl, const struct sid_set *s)
{
    if (s->n == 0)
        return;
    pl_buf_reset(&dl->publish);
    for (size_t i = 0; i < s->n; i++) {
        pl_buf_append(&dl->publish, s->ids[i], SESS_ID_LEN);
        pl_buf_append(&dl->publish, "\n", 1);
    }
    if (sess_desk_publish(dl->srv->store, dl->publish.data, dl->publish.len, NULL, NULL) != PL_OK)
        PL_LOG(PL_LOG_DEBUG, "desk", "%zu list updates not published (Redis unavailable)", s->n);
}

static void on_mark_read(void *ud, int status, bool listed)
{
    struct desk_list *dl = ud;
    if (!dl->stopped) {
        if (status == PL_OK && listed) {
            dl->mark_seen_ms = now_ms(dl);
            publish(dl, &dl->reading);
        }
        dl->reading.n = 0;
        dl->mark_reading = false;
    }
    dl_unref(dl);
}

/* The batch is due: publish it if someone lists, reading the mark unless it was seen lately. */
static void flush(struct desk_list *dl)
{
    if (dl->changed.n == 0)
        return;
    if (dl->mark_seen_ms && now_ms(dl) - dl->mark_seen_ms < DESK_LIST_MARK_TRUST_MS) {
        publish(dl, &dl->changed);
        dl->changed.n = 0;
        return;
    }
    if (dl->mark_reading)
        return; /* the batch waits for the read in flight; the timer comes back */
    dl->reading = dl->changed;
    dl->changed.n = 0;
    if (sess_desk_read(dl->srv->store, on_mark_read, dl) != PL_OK) {
        dl->reading.n = 0; /* Redis is down: nobody could read the rows either */
        return;
    }
    dl->mark_reading = true;
    dl->refs++;
}

static void on_batch_timer(uv_timer_t *t)
{
    struct desk_list *dl = t->data;
    flush(dl);
    if (dl->changed.n)
        uv_timer_start(&dl->batch_timer, on_batch_timer, DESK_LIST_BATCH_MS, 0);
}

void desk_list_changed(struct desk_list *dl, const char *sid)
{
    if (!dl || dl->stopped || !sess_id_valid(sid))
        return;
    if (!sid_set_add(&dl->changed, sid)) {
        flush(dl); /* full: this batch goes now (or joins the read in flight's) */
        if (!sid_set_add(&dl->changed, sid))
            return; /* a mark read is in flight with a full batch: dropped (bounded) */
    }
    if (!uv_is_active((uv_handle_t *)&dl->batch_timer))
        uv_timer_start(&dl->batch_timer, on_batch_timer, DESK_LIST_BATCH_MS, 0);
}

static struct followed *followed_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct followed, listener);
}

static void on_message(struct turn_listener *l, long turn, const char *text, size_t len)
{
    (void)turn;
    (void)text;
    (void)len;
    struct followed *fw = followed_of(l);
    fw->last_ms = now_ms(fw->dl);
    desk_list_changed(fw->dl, fw->sid);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    (void)end;
    struct followed *fw = followed_of(l);
    fw->last_ms = now_ms(fw->dl);
    desk_list_changed(fw->dl, fw->sid);
}

static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    (void)turn;
    (void)seq;
    (void)text;
    (void)len;
    followed_of(l)->last_ms = now_ms(followed_of(l)->dl); /* busy, not idle */
}

static const struct turn_listener_ops follow_ops = {
    .only_here = true, /* changes here: the answering instance publishes its own */
    .message = on_message,
    .delta = on_delta,
    .turn_end = on_turn_end,
};

static size_t bucket_of(const char *sid)
{
    return (size_t)strtoul((char[3]){sid[0], sid[1], '\0'}, NULL, 16) % FOLLOW_BUCKETS;
}

static void house_start(struct desk_list *dl);

void desk_list_turn_starting(void *ud, const char *sid, long turn)
{
    struct desk_list *dl = ud;
    if (!dl || dl->stopped || !sess_id_valid(sid))
        return;
    struct followed **head = &dl->buckets[bucket_of(sid)];
    for (struct followed *fw = *head; fw; fw = fw->next)
        if (strcmp(fw->sid, sid) == 0) {
            fw->last_ms = now_ms(dl);
            return;
        }
    struct followed *fw = pl_calloc(1, sizeof(*fw));
    fw->dl = dl;
    fw->last_ms = now_ms(dl);
    snprintf(fw->sid, sizeof(fw->sid), "%s", sid);
    fw->listener.ops = &follow_ops;
    /* Nothing of a turn under way is wanted: only what is stored from now on. */
    const struct turn_replay from = {.turn = turn, .after_seq = LONG_MAX / 2};
    turn_listen(dl->srv->engine, sid, &fw->listener, &from);
    fw->next = *head;
    *head = fw;
    dl->n_followed++;
    house_start(dl);
}

/* Stop following sessions idle for DESK_LIST_IDLE_MS (all of them when `all`). */
static void sweep(struct desk_list *dl, bool all)
{
    uint64_t now = now_ms(dl);
    for (size_t b = 0; b < FOLLOW_BUCKETS; b++) {
        struct followed **pp = &dl->buckets[b];
        while (*pp) {
            struct followed *fw = *pp;
            if (all || now - fw->last_ms >= DESK_LIST_IDLE_MS) {
                *pp = fw->next;
                turn_unlisten(&fw->listener);
                pl_free(fw);
                dl->n_followed--;
            } else {
                pp = &fw->next;
            }
        }
    }
}

/* ---- receiver ---- */

static void read_rows(struct desk_list *dl);

static void on_rows(void *ud, int status, const struct sess_list_row *rows, size_t n)
{
    struct desk_list *dl = ud;
    if (!dl->stopped) {
        dl->rows_reading = false;
        if (status == PL_OK && n > 0) {
            for (struct desk_list_follower *fl = dl->followers, *next; fl; fl = next) {
                next = fl->_next;
                fl->rows(fl, rows, n);
            }
        } else if (status != PL_OK) {
            PL_LOG(PL_LOG_DEBUG, "desk", "list updates not read (%s)", pl_strerror(status));
        }
        if (dl->to_read.n)
            read_rows(dl);
    }
    dl_unref(dl);
}

static void read_rows(struct desk_list *dl)
{
    if (dl->rows_reading || dl->to_read.n == 0 || !dl->followers)
        return;
    struct sid_set batch = dl->to_read;
    dl->to_read.n = 0;
    if (sess_list_read(dl->srv->store, (const sid_t *)batch.ids, batch.n, on_rows, dl) != PL_OK)
        return; /* Redis is down: these updates are lost, as a publish would be */
    dl->rows_reading = true;
    dl->refs++;
}

static void add_to_read(void *ud, const char *sid)
{
    sid_set_add(&((struct desk_list *)ud)->to_read, sid); /* full: dropped (bounded) */
}

static void on_desk_message(void *ud, const char *data, size_t len)
{
    struct desk_list *dl = ud;
    if (dl->stopped || !dl->followers)
        return;
    sess_desk_parse(data, len, DESK_LIST_PENDING_MAX, add_to_read, dl);
    read_rows(dl);
}

static void on_house_timer(uv_timer_t *t)
{
    struct desk_list *dl = t->data;
    if (dl->followers)
        sess_desk_mark(dl->srv->store, DESK_LIST_MARK_TTL_MS, NULL, NULL);
    sweep(dl, false);
    if (!dl->followers && dl->n_followed == 0)
        uv_timer_stop(t);
}

static void house_start(struct desk_list *dl)
{
    if (!uv_is_active((uv_handle_t *)&dl->house_timer))
        uv_timer_start(&dl->house_timer, on_house_timer, DESK_LIST_REFRESH_MS,
                       DESK_LIST_REFRESH_MS);
}

void desk_list_follow(struct desk_list *dl, struct desk_list_follower *fl)
{
    if (!dl || dl->stopped || fl->_dl)
        return;
    if (!dl->sub) {
        char err[256];
        if (sess_channel_sub_create(dl->srv->loop, &dl->sub_opts, SESS_DESK_CHANNEL,
                                    on_desk_message, dl, &dl->sub, err, sizeof(err)) != PL_OK)
            PL_LOG(PL_LOG_WARN, "desk", "no live list updates: %s", err);
    }
    fl->_dl = dl;
    fl->_prev = NULL;
    fl->_next = dl->followers;
    if (dl->followers)
        dl->followers->_prev = fl;
    dl->followers = fl;
    /* The mark goes before the agent's list is read (same connection, in order): a change
     * after the read is published. */
    sess_desk_mark(dl->srv->store, DESK_LIST_MARK_TTL_MS, NULL, NULL);
    house_start(dl);
}

void desk_list_unfollow(struct desk_list_follower *fl)
{
    struct desk_list *dl = fl->_dl;
    if (!dl)
        return;
    if (fl->_prev)
        fl->_prev->_next = fl->_next;
    else
        dl->followers = fl->_next;
    if (fl->_next)
        fl->_next->_prev = fl->_prev;
    fl->_dl = NULL;
    fl->_prev = fl->_next = NULL;
    /* The subscription and the mark stay until the instance stops or the mark runs out: an
     * agent reconnecting finds them there. */
}

/* ---- life ---- */

int desk_list_create(struct bot_server *srv, const struct sess_store_opts *so,
                     struct desk_list **out, char *err, size_t len)
{
    (void)err;
    (void)len;
    struct desk_list *dl = pl_calloc(1, sizeof(*dl));
    dl->srv = srv;
    dl->sub_opts = *so;
    dl->refs = 1;
    pl_buf_init(&dl->publish, (size_t)DESK_LIST_PENDING_MAX * (SESS_ID_LEN + 1) + 1);
    uv_timer_init(srv->loop, &dl->batch_timer);
    uv_timer_init(srv->loop, &dl->house_timer);
    dl->batch_timer.data = dl->house_timer.data = dl;
    *out = dl;
    return PL_OK;
}

static void on_closed(uv_handle_t *h)
{
    dl_unref(h->data);
}

void desk_list_destroy(struct desk_list *dl)
{
    if (!dl)
        return;
    dl->stopped = true;
    sweep(dl, true);
    while (dl->followers)
        desk_list_unfollow(dl->followers);
    sess_channel_sub_destroy(dl->sub);
    dl->sub = NULL;
    dl->refs += 2;
    uv_close((uv_handle_t *)&dl->batch_timer, on_closed);
    uv_close((uv_handle_t *)&dl->house_timer, on_closed);
    dl_unref(dl);
}
