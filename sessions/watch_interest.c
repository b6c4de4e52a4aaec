/* Watch interest marks; see watch_interest.h. Plain commands on the store's connection. */
#include "sessions/watch_interest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

/* The mark is raised and given its life in one script, so it never stays without expiry. */
static const char mark_script_text[] = "local v = redis.call('INCR', KEYS[1])\n"
                                       "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
                                       "return v\n";

struct done_op {
    sess_done_cb cb;
    void *ud;
};

struct read_op {
    sess_watch_cb cb;
    void *ud;
};

static void watch_key(char *key, size_t size, const char *sid)
{
    snprintf(key, size, "parley:{%s}:watched", sid);
}

static void on_done(void *ud, int status, redisReply *reply)
{
    struct done_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "watch mark"))
        status = PL_EUPSTREAM;
    if (op->cb)
        op->cb(op->ud, status);
    pl_free(op);
}

int sess_watch_mark(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                    void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, mark_script_text);
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[64], ttl[16];
    watch_key(key, sizeof(key), sid);
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

int sess_watch_refresh(struct sess_store *s, const char *sid, uint32_t ttl_ms, sess_done_cb cb,
                       void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[64], ttl[16];
    watch_key(key, sizeof(key), sid);
    snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
    const char *argv[] = {"PEXPIRE", key, ttl};
    size_t lens[] = {7, strlen(key), strlen(ttl)};
    struct done_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_done, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_read(void *ud, int status, redisReply *reply)
{
    struct read_op *op = ud;
    long long value = -1;
    if (status == PL_OK && !rconn_reply_ok(reply, "watch mark read"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_STRING)
        value = strtoll(reply->str, NULL, 10);
    op->cb(op->ud, status, value);
    pl_free(op);
}

int sess_watch_read(struct sess_store *s, const char *sid, sess_watch_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[64];
    watch_key(key, sizeof(key), sid);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    struct read_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_read, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
