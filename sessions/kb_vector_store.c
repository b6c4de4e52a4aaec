/* Chunk vectors in Redis; see kb_vector_store.h. */
#include "sessions/kb_vector_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/kb_store.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

#define KEY_VEC_PREFIX  "parley:{kb}:vec:"
#define KEY_LOCK_PREFIX "parley:{kb}:veclock:"
#define KEY_MAX         (sizeof(KEY_LOCK_PREFIX) + KB_STORE_NAME_MAX)

/* The vectors written, then the lock let go if it is still the writer's. */
static const char put_lua[] = "redis.call('DEL', KEYS[1])\n"
                              "redis.call('HSET', KEYS[1], 'sig', ARGV[2], 'model', ARGV[3], "
                              "'dims', ARGV[4], 'n', ARGV[5], 'v', ARGV[6])\n"
                              "if redis.call('GET', KEYS[2]) == ARGV[1] then\n"
                              "  redis.call('DEL', KEYS[2])\n"
                              "end\n"
                              "return 1\n";

/* Taken when free, or already this owner's (an embedding it gave up on, the document having
 * changed): 1; held by another: 0. */
static const char lock_lua[] = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
                               "  return 1\n"
                               "end\n"
                               "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                               "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                               "  return 1\n"
                               "end\n"
                               "return 0\n";

static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  return redis.call('DEL', KEYS[1])\n"
                                 "end\n"
                                 "return 0\n";

static const char delete_lua[] = "if redis.call('HGET', KEYS[1], 'sig') == ARGV[1] then\n"
                                 "  return redis.call('DEL', KEYS[1])\n"
                                 "end\n"
                                 "return 0\n";

struct vec_op {
    kb_vec_get_cb get;
    kb_vec_done_cb done;
    kb_vec_lock_cb lock;
    void *ud;
};

static bool key_of(char out[KEY_MAX], const char *prefix, const char *name)
{
    if (!kb_store_name_valid(name))
        return false;
    snprintf(out, KEY_MAX, "%s%s", prefix, name);
    return true;
}

static unsigned long reply_ul(const redisReply *r, bool *ok)
{
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 10) {
        *ok = false;
        return 0;
    }
    char tmp[16], *end;
    memcpy(tmp, r->str, r->len);
    tmp[r->len] = '\0';
    unsigned long v = strtoul(tmp, &end, 10);
    if (*end)
        *ok = false;
    return v;
}

static void on_get(void *ud, int status, redisReply *reply)
{
    struct vec_op *op = ud;
    if (status == PL_OK && (!rconn_reply_ok(reply, "knowledge vectors read") ||
                            reply->type != REDIS_REPLY_ARRAY || reply->elements != 4))
        status = PL_EUPSTREAM;
    if (status != PL_OK) {
        op->get(op->ud, status, NULL, 0, 0, NULL, 0);
    } else {
        redisReply **e = reply->element;
        bool ok = true;
        if (e[0]->type == REDIS_REPLY_NIL) {
            op->get(op->ud, PL_ENOTFOUND, NULL, 0, 0, NULL, 0);
        } else {
            unsigned long dims = reply_ul(e[1], &ok), n = reply_ul(e[2], &ok);
            ok = ok && e[0]->type == REDIS_REPLY_STRING && e[3]->type == REDIS_REPLY_STRING;
            if (ok)
                op->get(op->ud, PL_OK, e[0]->str, (unsigned)dims, (uint32_t)n, e[3]->str,
                        e[3]->len);
            else
                op->get(op->ud, PL_EUPSTREAM, NULL, 0, 0, NULL, 0);
        }
    }
    pl_free(op);
}

int kb_vec_store_get(struct sess_store *s, const char *name, kb_vec_get_cb cb, void *ud)
{
    char key[KEY_MAX];
    if (!key_of(key, KEY_VEC_PREFIX, name))
        return PL_EINVAL;
    const char *argv[] = {"HMGET", key, "sig", "dims", "n", "v"};
    size_t lens[] = {5, strlen(key), 3, 4, 1, 1};
    struct vec_op *op = pl_calloc(1, sizeof(*op));
    op->get = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_get, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_done(void *ud, int status, redisReply *reply)
{
    struct vec_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "knowledge vectors write"))
        status = PL_EUPSTREAM;
    if (op->done)
        op->done(op->ud, status);
    pl_free(op);
}

static int eval_done(struct sess_store *s, struct rconn_script *script, const char *text, int argc,
                     const char **argv, const size_t *lens, kb_vec_done_cb cb, void *ud)
{
    if (!script->text)
        rconn_script_init(script, text);
    struct vec_op *op = pl_calloc(1, sizeof(*op));
    op->done = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), script, on_done, op, argc, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

int kb_vec_store_put(struct sess_store *s, const char *name, const char *owner, const char *sig,
                     const char *model, unsigned dims, uint32_t n, const void *blob, size_t len,
                     kb_vec_done_cb cb, void *ud)
{
    char key[KEY_MAX], lock[KEY_MAX], d[16], c[16];
    if (!key_of(key, KEY_VEC_PREFIX, name) || !key_of(lock, KEY_LOCK_PREFIX, name))
        return PL_EINVAL;
    snprintf(d, sizeof(d), "%u", dims);
    snprintf(c, sizeof(c), "%u", (unsigned)n);
    static struct rconn_script script;
    const char *argv[] = {"2", key, lock, owner, sig, model, d, c, (const char *)blob};
    size_t lens[] = {1,           strlen(key),   strlen(lock), strlen(owner),
                     strlen(sig), strlen(model), strlen(d),    strlen(c),
                     len};
    return eval_done(s, &script, put_lua, 9, argv, lens, cb, ud);
}

static void on_lock(void *ud, int status, redisReply *reply)
{
    struct vec_op *op = ud;
    bool taken = false;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "knowledge vectors lock"))
            status = PL_EUPSTREAM;
        else
            taken = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    }
    op->lock(op->ud, status, taken);
    pl_free(op);
}

int kb_vec_store_lock(struct sess_store *s, const char *name, const char *owner, uint32_t ttl_ms,
                      kb_vec_lock_cb cb, void *ud)
{
    char lock[KEY_MAX], ttl[16];
    if (!key_of(lock, KEY_LOCK_PREFIX, name))
        return PL_EINVAL;
    snprintf(ttl, sizeof(ttl), "%u", (unsigned)ttl_ms);
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, lock_lua);
    const char *argv[] = {"1", lock, owner, ttl};
    size_t lens[] = {1, strlen(lock), strlen(owner), strlen(ttl)};
    struct vec_op *op = pl_calloc(1, sizeof(*op));
    op->lock = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_lock, op, 4, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

int kb_vec_store_unlock(struct sess_store *s, const char *name, const char *owner,
                        kb_vec_done_cb cb, void *ud)
{
    char lock[KEY_MAX];
    if (!key_of(lock, KEY_LOCK_PREFIX, name))
        return PL_EINVAL;
    static struct rconn_script script;
    const char *argv[] = {"1", lock, owner};
    size_t lens[] = {1, strlen(lock), strlen(owner)};
    return eval_done(s, &script, unlock_lua, 3, argv, lens, cb, ud);
}

int kb_vec_store_delete(struct sess_store *s, const char *name, const char *sig, kb_vec_done_cb cb,
                        void *ud)
{
    char key[KEY_MAX];
    if (!key_of(key, KEY_VEC_PREFIX, name))
        return PL_EINVAL;
    static struct rconn_script script;
    const char *argv[] = {"1", key, sig};
    size_t lens[] = {1, strlen(key), strlen(sig)};
    return eval_done(s, &script, delete_lua, 3, argv, lens, cb, ud);
}
