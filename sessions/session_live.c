/* Live events over pub/sub; see session_live.h. The subscriber is an rconn subscriber
 * connection (redis_conn.h), which keeps the subscriptions across reconnects and delivers each
 * message with its subscription; sess_live_publish is in session_store.c, on the store's
 * connection. */
#include "sessions/session_live.h"

#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_keys.h"

#define MAX_SUBSCRIPTIONS_DEFAULT 100000

struct live_sub {
    sess_live_cb cb;
    void *ud;
    char sid[SESS_ID_LEN + 1];
    struct live_sub *prev, *next;
};

struct sess_live {
    struct rconn *conn;
    size_t max;
    struct live_sub *subs; /* every subscription, to free them on destroy */
};

static void on_message(void *ud, void *sub, const char *data, size_t len)
{
    (void)ud;
    struct live_sub *x = sub;
    x->cb(x->ud, x->sid, data, len);
}

int sess_live_create(uv_loop_t *loop, const struct sess_store_opts *opts, struct sess_live **out,
                     char *err, size_t errlen)
{
    struct sess_live *l = pl_calloc(1, sizeof(*l));
    l->max =
        opts->live_max_subscriptions ? opts->live_max_subscriptions : MAX_SUBSCRIPTIONS_DEFAULT;
    struct rconn_opts ro = {
        .url = opts->redis_url,
        .connect_timeout_ms = opts->connect_timeout_ms,
        .command_timeout_ms = opts->command_timeout_ms,
        .on_message = on_message,
        .message_ud = l,
    };
    int rc = rconn_create(loop, &ro, NULL, NULL, &l->conn, err, errlen);
    if (rc) {
        pl_free(l);
        return rc;
    }
    *out = l;
    return PL_OK;
}

void sess_live_destroy(struct sess_live *l)
{
    if (!l)
        return;
    rconn_destroy(l->conn);
    for (struct live_sub *x = l->subs, *next; x; x = next) {
        next = x->next;
        pl_free(x);
    }
    pl_free(l);
}

bool sess_live_ready(const struct sess_live *l)
{
    return rconn_is_up(l->conn);
}

int sess_live_subscribe(struct sess_live *l, const char *sid, sess_live_cb cb, void *ud)
{
    if (!sess_id_valid(sid) || !cb)
        return PL_EINVAL;
    if (rconn_subscriptions(l->conn) >= l->max)
        return PL_EBUSY;
    struct live_sub *x = pl_calloc(1, sizeof(*x));
    x->cb = cb;
    x->ud = ud;
    memcpy(x->sid, sid, sizeof(x->sid));
    char channel[SESS_KEY_MAX];
    sess_key(channel, sid, "live");
    int rc = rconn_subscribe(l->conn, channel, x);
    if (rc) {
        pl_free(x);
        return rc;
    }
    x->next = l->subs;
    if (l->subs)
        l->subs->prev = x;
    l->subs = x;
    return PL_OK;
}

int sess_live_unsubscribe(struct sess_live *l, const char *sid)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char channel[SESS_KEY_MAX];
    sess_key(channel, sid, "live");
    struct live_sub *x = rconn_unsubscribe(l->conn, channel);
    if (!x)
        return PL_ENOTFOUND;
    if (x->prev)
        x->prev->next = x->next;
    else
        l->subs = x->next;
    if (x->next)
        x->next->prev = x->prev;
    pl_free(x);
    return PL_OK;
}
