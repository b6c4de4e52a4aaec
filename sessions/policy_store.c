/* Policy records in Redis; see policy_store.h. */
#include "sessions/policy_store.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

#define POLICY_KEY_MAX (sizeof("parley:policy:{}") + SESS_POLICY_NUMBER_MAX)

/* Store the record and say whether the key was new, in one step (two PUTs of a new number
 * cannot both be told they created it). */
static const char put_lua[] = "local existed = redis.call('EXISTS', KEYS[1])\n"
                              "redis.call('SET', KEYS[1], ARGV[1])\n"
                              "return existed\n";

/* A session takes the number if it has none; one bound to another number keeps it. */
static const char bind_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
                               "local cur = redis.call('HGET', KEYS[1], 'policy_number')\n"
                               "if cur and cur ~= '' and cur ~= ARGV[1] then return 0 end\n"
                               "redis.call('HSET', KEYS[1], 'policy_number', ARGV[1])\n"
                               "return 1\n";

struct policy_op {
    void (*bound)(void *ud, int status);
    sess_policy_put_cb put;
    sess_policy_get_cb get;
    void *ud;
};

bool sess_policy_number_valid(const char *number)
{
    if (!number)
        return false;
    size_t n = strlen(number);
    if (n == 0 || n > SESS_POLICY_NUMBER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = number[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* parley:policy:{NUMBER}: the number as hash tag (docs/redis-keys.md). */
static void policy_key(char out[POLICY_KEY_MAX], const char *number)
{
    snprintf(out, POLICY_KEY_MAX, "parley:policy:{%s}", number);
}

static void on_put(void *ud, int status, redisReply *reply)
{
    struct policy_op *op = ud;
    bool created = false;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "policy record write") || reply->type != REDIS_REPLY_INTEGER)
            status = PL_EUPSTREAM;
        else
            created = reply->integer == 0;
    }
    op->put(op->ud, status, created);
    pl_free(op);
}

int sess_policy_put(struct sess_store *s, const char *number, const char *record, size_t len,
                    sess_policy_put_cb cb, void *ud)
{
    if (!sess_policy_number_valid(number))
        return PL_EINVAL;
    if (len == 0 || len > SESS_POLICY_RECORD_MAX)
        return PL_ETOOBIG;
    /* One text for the whole process: only its SHA1 goes to Redis once it has it. */
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, put_lua);
    char key[POLICY_KEY_MAX];
    policy_key(key, number);
    const char *argv[] = {"1", key, record};
    size_t lens[] = {1, strlen(key), len};
    struct policy_op *op = pl_calloc(1, sizeof(*op));
    op->put = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_put, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_get(void *ud, int status, redisReply *reply)
{
    struct policy_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "policy record read"))
        status = PL_EUPSTREAM;
    if (status != PL_OK)
        op->get(op->ud, status, NULL, 0);
    else if (reply->type == REDIS_REPLY_NIL)
        op->get(op->ud, PL_ENOTFOUND, NULL, 0);
    else if (reply->type == REDIS_REPLY_STRING)
        op->get(op->ud, PL_OK, reply->str, reply->len);
    else
        op->get(op->ud, PL_EUPSTREAM, NULL, 0);
    pl_free(op);
}

int sess_policy_get(struct sess_store *s, const char *number, sess_policy_get_cb cb, void *ud)
{
    if (!sess_policy_number_valid(number))
        return PL_EINVAL;
    char key[POLICY_KEY_MAX];
    policy_key(key, number);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    struct policy_op *op = pl_calloc(1, sizeof(*op));
    op->get = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_get, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_bound(void *ud, int status, redisReply *reply)
{
    struct policy_op *op = ud;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "policy binding") || reply->type != REDIS_REPLY_INTEGER)
            status = PL_EUPSTREAM;
        else
            status = reply->integer == 1   ? PL_OK
                     : reply->integer == 0 ? PL_EFORBIDDEN
                                           : PL_ENOTFOUND;
    }
    op->bound(op->ud, status);
    pl_free(op);
}

int sess_policy_bind(struct sess_store *s, const char *sid, const char *number,
                     void (*cb)(void *ud, int status), void *ud)
{
    if (!sess_id_valid(sid) || !sess_policy_number_valid(number))
        return PL_EINVAL;
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, bind_lua);
    char key[SESS_KEY_MAX];
    sess_key(key, sid, "session");
    const char *argv[] = {"1", key, number};
    size_t lens[] = {1, strlen(key), strlen(number)};
    struct policy_op *op = pl_calloc(1, sizeof(*op));
    op->bound = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_bound, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
