/* The desk's list channel and mark, and subscribers of one fixed channel; see desk_channel.h.
 * Plain commands on the store's connection; a subscriber is an rconn subscriber connection of
 * its own. */
#include "sessions/desk_channel.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

struct done_op {
    sess_done_cb cb;
    void *ud;
};

struct read_op {
    sess_desk_read_cb cb;
    void *ud;
};

static void on_done(void *ud, int status, redisReply *reply)
{
    struct done_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "desk list"))
        status = PL_EUPSTREAM;
    if (op->cb)
        op->cb(op->ud, status);
    pl_free(op);
}

static int send_done(struct sess_store *s, int argc, const char **argv, const size_t *lens,
                     sess_done_cb cb, void *ud)
{
    struct done_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_done, op, argc, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

int sess_desk_mark(struct sess_store *s, uint32_t ttl_ms, sess_done_cb cb, void *ud)
{
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_ms ? ttl_ms : 1);
    const char *argv[] = {"SET", SESS_DESK_MARK, "1", "PX", ttl};
    size_t lens[] = {3, strlen(SESS_DESK_MARK), 1, 2, strlen(ttl)};
    return send_done(s, 5, argv, lens, cb, ud);
}

static void on_read(void *ud, int status, redisReply *reply)
{
    struct read_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "desk list mark"))
        status = PL_EUPSTREAM;
    bool listed = status == PL_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    op->cb(op->ud, status, listed);
    pl_free(op);
}

int sess_desk_read(struct sess_store *s, sess_desk_read_cb cb, void *ud)
{
    const char *argv[] = {"EXISTS", SESS_DESK_MARK};
    size_t lens[] = {6, strlen(SESS_DESK_MARK)};
    struct read_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_read, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

int sess_channel_publish(struct sess_store *s, const char *channel, const char *data, size_t len,
                         sess_done_cb cb, void *ud)
{
    const char *argv[] = {"PUBLISH", channel, data ? data : ""};
    size_t lens[] = {7, strlen(channel), data ? len : 0};
    return send_done(s, 3, argv, lens, cb, ud);
}

int sess_desk_publish(struct sess_store *s, const char *data, size_t len, sess_done_cb cb, void *ud)
{
    return sess_channel_publish(s, SESS_DESK_CHANNEL, data, len, cb, ud);
}

/* ---- a subscriber of one channel ---- */

struct sess_channel_sub {
    struct rconn *conn;
    char *channel;
    sess_channel_message_cb cb;
    void *ud;
};

static void on_message(void *ud, void *sub, const char *data, size_t len)
{
    (void)sub;
    struct sess_channel_sub *d = ud;
    d->cb(d->ud, data, len);
}

int sess_channel_sub_create(uv_loop_t *loop, const struct sess_store_opts *opts,
                            const char *channel, sess_channel_message_cb cb, void *ud,
                            struct sess_channel_sub **out, char *err, size_t errlen)
{
    struct sess_channel_sub *d = pl_calloc(1, sizeof(*d));
    d->cb = cb;
    d->ud = ud;
    d->channel = pl_strdup(channel);
    struct rconn_opts ro = {
        .url = opts->redis_url,
        .connect_timeout_ms = opts->connect_timeout_ms,
        .command_timeout_ms = opts->command_timeout_ms,
        .on_message = on_message,
        .message_ud = d,
    };
    int rc = rconn_create(loop, &ro, NULL, NULL, &d->conn, err, errlen);
    if (rc == PL_OK)
        rc = rconn_subscribe(d->conn, d->channel, d);
    if (rc) {
        rconn_destroy(d->conn);
        pl_free(d->channel);
        pl_free(d);
        return rc;
    }
    *out = d;
    return PL_OK;
}

void sess_channel_sub_destroy(struct sess_channel_sub *d)
{
    if (!d)
        return;
    rconn_unsubscribe(d->conn, d->channel);
    rconn_destroy(d->conn);
    pl_free(d->channel);
    pl_free(d);
}

bool sess_channel_sub_ready(const struct sess_channel_sub *d)
{
    return d && rconn_is_up(d->conn);
}

size_t sess_desk_parse(const char *data, size_t len, size_t max,
                       void (*each)(void *ud, const char *sid), void *ud)
{
    size_t given = 0, i = 0;
    while (i < len && given < max) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (end - i == SESS_ID_LEN) {
            char sid[SESS_ID_LEN + 1];
            memcpy(sid, data + i, SESS_ID_LEN);
            sid[SESS_ID_LEN] = '\0';
            if (sess_id_valid(sid)) {
                each(ud, sid);
                given++;
            }
        }
        i = end + 1;
    }
    return given;
}
