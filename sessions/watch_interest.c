/* Watch interest marks; see watch_interest.h. On the store's connection: each instance's mark
 * is a field "i:ID" holding its expiry (ms since the epoch, the marking instance's clock: marks
 * live three times as long as they are refreshed, so clocks a few seconds apart do no harm), the
 * counter the field "joins"; the key lives as long as its latest mark. A read is a plain HGETALL
 * (no script: it runs every second while a turn is answered). */
#include "sessions/watch_interest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

/* KEYS[1] the hash; ARGV: ttl ms, the instance's field, "1" to raise the counter, now (ms).
 * Expired marks are dropped on the way, and the key gets the life of the latest one left. */
static const char mark_script_text[] =
    "local now = tonumber(ARGV[4])\n"
    "local ttl = tonumber(ARGV[1])\n"
    "if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'joins', 1) end\n"
    "redis.call('HSET', KEYS[1], ARGV[2], now + ttl)\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local last = now + ttl\n"
    "for i = 1, #all, 2 do\n"
    "  if all[i] ~= 'joins' then\n"
    "    local exp = tonumber(all[i + 1]) or 0\n"
    "    if exp <= now then redis.call('HDEL', KEYS[1], all[i])\n"
    "    elseif exp > last then last = exp end\n"
    "  end\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], last - now)\n"
    "return 1\n";

struct done_op {
    sess_done_cb cb;
    void *ud;
};

struct read_op {
    sess_watch_cb cb;
    void *ud;
    char self[96]; /* the reader's field */
};

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void watch_key(char *key, size_t size, const char *sid)
{
    snprintf(key, size, "parley:{%s}:watchers", sid);
}

static void instance_field(char *field, size_t size, const char *instance)
{
    snprintf(field, size, "i:%s", instance);
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

int sess_watch_mark(struct sess_store *s, const char *sid, const char *instance, uint32_t ttl_ms,
                    bool join, sess_done_cb cb, void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, mark_script_text);
    if (!sess_id_valid(sid) || !instance)
        return PL_EINVAL;
    char key[64], ttl[16], field[96], now[24];
    watch_key(key, sizeof(key), sid);
    instance_field(field, sizeof(field), instance);
    snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
    snprintf(now, sizeof(now), "%lld", wall_ms());
    const char *argv[] = {"1", key, ttl, field, join ? "1" : "0", now};
    size_t lens[] = {1, strlen(key), strlen(ttl), strlen(field), 1, strlen(now)};
    struct done_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_done, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

int sess_watch_clear(struct sess_store *s, const char *sid, const char *instance, sess_done_cb cb,
                     void *ud)
{
    if (!sess_id_valid(sid) || !instance)
        return PL_EINVAL;
    char key[64], field[96];
    watch_key(key, sizeof(key), sid);
    instance_field(field, sizeof(field), instance);
    const char *argv[] = {"HDEL", key, field};
    size_t lens[] = {4, strlen(key), strlen(field)};
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
    if (status == PL_OK && reply->type == REDIS_REPLY_ARRAY) {
        long long now = wall_ms(), joins = 0;
        bool other = false;
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            const redisReply *k = reply->element[i], *v = reply->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            long long n = strtoll(v->str, NULL, 10);
            if (strcmp(k->str, "joins") == 0)
                joins = n;
            else if (strcmp(k->str, op->self) != 0 && n > now)
                other = true;
        }
        value = other ? joins : -1;
    }
    op->cb(op->ud, status, value);
    pl_free(op);
}

int sess_watch_read(struct sess_store *s, const char *sid, const char *self, sess_watch_cb cb,
                    void *ud)
{
    if (!sess_id_valid(sid) || !self)
        return PL_EINVAL;
    char key[64];
    watch_key(key, sizeof(key), sid);
    const char *argv[] = {"HGETALL", key};
    size_t lens[] = {7, strlen(key)};
    struct read_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    instance_field(op->self, sizeof(op->self), self);
    int rc = rconn_command_argv(sess_store_rconn(s), on_read, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
