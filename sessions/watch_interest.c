/* Interest in a session's live events; see watch_interest.h. Plain commands on the store's
 * connection: PUBSUB NUMSUB for who listens and GET of the join counter, together (reads, every
 * second while a turn is answered). */
#include "sessions/watch_interest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

/* The counter is raised and given its life in one script, so it never stays without expiry. */
static const char join_script_text[] = "local v = redis.call('INCR', KEYS[1])\n"
                                       "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
                                       "return v\n";

struct done_op {
    sess_done_cb cb;
    void *ud;
};

struct read_op {
    sess_watch_cb cb;
    void *ud;
    bool self_subscribed;
    int pending; /* replies still to come */
    int status;
    long long count, joins;
};

static void joins_key(char *key, size_t size, const char *sid)
{
    snprintf(key, size, "parley:{%s}:watched", sid);
}

static void on_done(void *ud, int status, redisReply *reply)
{
    struct done_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "watch join"))
        status = PL_EUPSTREAM;
    if (op->cb)
        op->cb(op->ud, status);
    pl_free(op);
}

int sess_watch_join(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                    void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, join_script_text);
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[64], ttl[16];
    joins_key(key, sizeof(key), sid);
    snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
    const char *argv[] = {"1", key, ttl};
    size_t lens[] = {1, strlen(key), strlen(ttl)};
    struct done_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_done, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

/* Both replies are in: tell. */
static void read_reply(struct read_op *op)
{
    if (--op->pending > 0)
        return;
    long long value = op->count > (op->self_subscribed ? 1 : 0) ? op->joins : -1;
    op->cb(op->ud, op->status, op->status == PL_OK ? value : -1);
    pl_free(op);
}

/* NUMSUB answers [channel, count]. */
static void on_numsub(void *ud, int status, redisReply *reply)
{
    struct read_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "live subscribers"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_INTEGER)
        op->count = reply->element[1]->integer;
    if (status != PL_OK)
        op->status = status;
    read_reply(op);
}

static void on_joins(void *ud, int status, redisReply *reply)
{
    struct read_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "watch counter read"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_STRING)
        op->joins = strtoll(reply->str, NULL, 10);
    if (status != PL_OK)
        op->status = status;
    read_reply(op);
}

int sess_watch_read(struct sess_store *s, const char *sid, bool self_subscribed, sess_watch_cb cb,
                    void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char channel[SESS_KEY_MAX], key[64];
    sess_key(channel, sid, "live");
    joins_key(key, sizeof(key), sid);
    const char *numsub[] = {"PUBSUB", "NUMSUB", channel};
    size_t numsub_lens[] = {6, 6, strlen(channel)};
    const char *get[] = {"GET", key};
    size_t get_lens[] = {3, strlen(key)};
    struct read_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    op->self_subscribed = self_subscribed;
    /* Both at once: their replies come before those of the commands sent after this call (a
     * caller message's append), so the answer is known before that message's events. */
    int rc = rconn_command_argv(sess_store_rconn(s), on_numsub, op, 3, numsub, numsub_lens);
    if (rc) {
        pl_free(op);
        return rc;
    }
    op->pending = 2;
    if (rconn_command_argv(sess_store_rconn(s), on_joins, op, 2, get, get_lens) != PL_OK) {
        op->status = PL_EIO;
        op->pending = 1; /* NUMSUB's reply tells */
    }
    return PL_OK;
}
