/* Live sessions of this instance: lookup by id and reference counting; see live_session.h. */
#include "bot/live_session.h"

#include <stdio.h>

#include "bot/chat.h"
#include "common/alloc.h"

static void on_timer_closed(uv_handle_t *h)
{
    struct bot_session *s = h->data;
    turn_free(s->active);
    turn_free(s->last);
    pl_free(s->queue);
    pl_free(s);
}

struct bot_session *live_session_get(struct bot_server *srv, const char *sid)
{
    struct bot_session *s = pl_map_get(&srv->sessions, sid);
    if (s) {
        live_session_ref(s);
        return s;
    }
    s = pl_calloc(1, sizeof(*s));
    s->srv = srv;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    s->refs = 1;
    uv_timer_init(srv->loop, &s->timer);
    s->timer.data = s;
    pl_map_put(&srv->sessions, s->sid, s);
    return s;
}

void live_session_ref(struct bot_session *s)
{
    s->refs++;
}

void live_session_unref(struct bot_session *s)
{
    if (--s->refs > 0)
        return;
    pl_map_remove(&s->srv->sessions, s->sid);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

bool live_session_has_turn(const struct bot_session *s, long turn)
{
    if (s->active && s->active->turn == turn)
        return true;
    if (s->last && s->last->turn >= turn)
        return true; /* answered here already */
    for (size_t i = 0; i < s->queue_len; i++) {
        if (s->queue[i] == turn)
            return true;
    }
    return false;
}
