/* Submit and wait; see turn_wait.h. The object lives while its owner may still cancel it or
 * its acknowledgement is outstanding, whichever is longer, then closes its timer. */
#include "bot/turn_wait.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "sessions/session_store.h"

struct turn_wait {
    struct turn_listener listener;
    struct turn_engine *engine;
    char sid[SESS_ID_LEN + 1];
    uint32_t wait_ms;
    turn_wait_cb cb;
    void *ud;
    long turn; /* 0 until acknowledged */
    bool duplicate;
    bool done; /* told, or cancelled */
    bool listening;
    int refs; /* the owner's (until told or cancelled) and the acknowledgement's */
    uv_timer_t timer;
};

static void on_timer_closed(uv_handle_t *h)
{
    pl_free(h->data);
}

static void wait_unref(struct turn_wait *w)
{
    if (--w->refs > 0)
        return;
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

/* No more telling: stop the deadline and the listener, let go of the owner's reference. */
static void wait_stop(struct turn_wait *w)
{
    w->done = true;
    uv_timer_stop(&w->timer);
    if (w->listening) {
        w->listening = false;
        turn_unlisten(&w->listener);
    }
    wait_unref(w);
}

static void tell(struct turn_wait *w, const struct turn_wait_result *r)
{
    if (w->done)
        return;
    turn_wait_cb cb = w->cb;
    void *ud = w->ud;
    w->refs++; /* the callback may not free us under our feet */
    wait_stop(w);
    cb(ud, r);
    wait_unref(w);
}

static void on_turn_end(struct turn_listener *l, const struct turn_end *end)
{
    struct turn_wait *w = PL_CONTAINER_OF(l, struct turn_wait, listener);
    if (end->turn != w->turn)
        return;
    const struct turn_wait_result r = {.turn = w->turn, .duplicate = w->duplicate, .end = end};
    tell(w, &r);
}

/* The message went to the human agent who holds the session: no answer will come, so the wait
 * ends now as pending instead of at its deadline. */
static void on_held(struct turn_listener *l, long turn)
{
    struct turn_wait *w = PL_CONTAINER_OF(l, struct turn_wait, listener);
    if (turn != w->turn)
        return;
    const struct turn_wait_result r = {.turn = w->turn, .duplicate = w->duplicate};
    tell(w, &r);
}

static const struct turn_listener_ops wait_ops = {.turn_end = on_turn_end, .held = on_held};

static void on_deadline(uv_timer_t *timer)
{
    struct turn_wait *w = timer->data;
    const struct turn_wait_result r = {.turn = w->turn, .duplicate = w->duplicate};
    tell(w, &r);
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    struct turn_wait *w = ud;
    if (!w->done) {
        if (ack->err) {
            const struct turn_wait_result r = {.err = ack->err,
                                               .retry_after_ms = ack->retry_after_ms};
            tell(w, &r);
        } else if (w->wait_ms == 0) {
            const struct turn_wait_result r = {.turn = ack->turn, .duplicate = ack->duplicate};
            tell(w, &r);
        } else {
            w->turn = ack->turn;
            w->duplicate = ack->duplicate;
            uv_timer_start(&w->timer, on_deadline, w->wait_ms, 0);
            /* From this turn's start: a repeated id whose turn is being answered, or has just
             * been, is told from where it is (its turn_end may come before this returns). */
            const struct turn_replay from = {.turn = ack->turn, .after_seq = -1};
            w->listening = true;
            turn_listen(w->engine, w->sid, &w->listener, &from);
        }
    }
    wait_unref(w); /* the acknowledgement's reference */
}

enum api_error turn_wait_submit(struct turn_engine *engine, uv_loop_t *loop,
                                const struct turn_wait_request *req, turn_wait_cb cb, void *ud,
                                struct turn_wait **out)
{
    struct turn_wait *w = pl_calloc(1, sizeof(*w));
    w->listener.ops = &wait_ops;
    w->engine = engine;
    snprintf(w->sid, sizeof(w->sid), "%s", req->sid);
    w->wait_ms = req->wait_ms;
    w->cb = cb;
    w->ud = ud;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->refs = 2;
    enum api_error err =
        turn_submit(engine, req->sid, req->address, req->client_id, req->text, req->len, on_ack, w);
    if (err) {
        w->refs = 1;
        w->done = true;
        wait_unref(w);
        return err;
    }
    *out = w;
    return API_ERR_NONE;
}

void turn_wait_cancel(struct turn_wait *w)
{
    if (w && !w->done)
        wait_stop(w);
}
