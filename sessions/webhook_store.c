/* The webhooks' keys and fields in Redis; see webhook_store.h. */
#include "sessions/webhook_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/wall_clock.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

#define HOOK_SIG_KEY_MAX 120
#define HOOK_SET_MAX     8

/* Get or create. The new record has the fields SESS_LUA_CREATE gives one (session_scripts.h),
 * and says which outside conversation it is. Only the session's key is touched (Cluster). */
static const char open_lua[] =
    "local session = KEYS[1]\n"
    "local id, now, ttl, channel, tenant, kind, ext, phone, attrs, existing = unpack(ARGV)\n"
    "local created = 0\n"
    "if redis.call('EXISTS', session) == 0 then\n"
    "  if existing == '1' then return false end\n"
    "  redis.call('HSET', session, 'id', id, 'created', now, 'updated', now,\n"
    "    'channel', channel, 'caller_id', '', 'caller_name', '', 'policy_number', '',\n"
    "    'state', 'bot', 'turns', 0, 'answered', 0, 'tenant', tenant,\n"
    "    'hook', kind, 'hook_id', ext)\n"
    "  created = 1\n"
    "end\n"
    "if phone ~= '' then redis.call('HSET', session, 'caller_phone', phone) end\n"
    "if attrs ~= '' then redis.call('HSET', session, 'contact_attributes', attrs) end\n"
    "redis.call('EXPIRE', session, ttl)\n"
    "local f = redis.call('HMGET', session, 'hook_pending', 'state', 'channel',\n"
    "  'policy_number', 'hook_verified', 'escalation_reason')\n"
    "return {created, f[1] or '', f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or ''}\n";

/* Fields of an existing session only: a late write never re-creates an expired one. */
static const char set_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                              "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
                              "return 1\n";

struct hook_op {
    void (*done)(void *ud, int status);
    void (*text)(void *ud, int status, const char *text, size_t len);
    hook_session_cb opened;
    void *ud;
};

static void on_remembered(void *ud, int status, redisReply *reply)
{
    struct hook_op *op = ud;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "webhook signature"))
            status = PL_EUPSTREAM;
        else if (reply->type == REDIS_REPLY_NIL)
            status = PL_EBUSY; /* NX: it was there */
        else if (reply->type != REDIS_REPLY_STATUS)
            status = PL_EUPSTREAM;
    }
    op->done(op->ud, status);
    pl_free(op);
}

int hook_signature_remember(struct sess_store *s, const char *sig, uint32_t ttl_s,
                            void (*cb)(void *ud, int status), void *ud)
{
    size_t n = strlen(sig);
    if (n == 0 || n > 64 || ttl_s == 0)
        return PL_EINVAL;
    char key[HOOK_SIG_KEY_MAX];
    snprintf(key, sizeof(key), "parley:webhook:sig:{%s}", sig);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
    size_t lens[] = {3, strlen(key), 1, 2, 2, strlen(ttl)};
    struct hook_op *op = pl_calloc(1, sizeof(*op));
    op->done = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_remembered, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void copy_str(char *out, size_t cap, const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, cap, "%.*s", (int)r->len, r->str);
    else
        out[0] = '\0';
}

static void on_opened(void *ud, int status, redisReply *reply)
{
    struct hook_op *op = ud;
    struct hook_session hs;
    memset(&hs, 0, sizeof(hs));
    if (status == PL_OK && reply && reply->type == REDIS_REPLY_NIL) {
        status = PL_ENOTFOUND;
    } else if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "webhook session") || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 7 || reply->element[0]->type != REDIS_REPLY_INTEGER) {
            status = PL_EUPSTREAM;
        } else {
            hs.created = reply->element[0]->integer == 1;
            char pending[24];
            copy_str(pending, sizeof(pending), reply->element[1]);
            hs.pending = strtol(pending, NULL, 10);
            copy_str(hs.state, sizeof(hs.state), reply->element[2]);
            copy_str(hs.channel, sizeof(hs.channel), reply->element[3]);
            copy_str(hs.policy_number, sizeof(hs.policy_number), reply->element[4]);
            char verified[4];
            copy_str(verified, sizeof(verified), reply->element[5]);
            hs.verified = !strcmp(verified, "1");
            copy_str(hs.escalation_reason, sizeof(hs.escalation_reason), reply->element[6]);
        }
    }
    op->opened(op->ud, status, status == PL_OK ? &hs : NULL);
    pl_free(op);
}

int hook_session_open(struct sess_store *s, const struct hook_session_open *o, hook_session_cb cb,
                      void *ud)
{
    if (!sess_id_valid(o->sid))
        return PL_EINVAL;
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, open_lua);
    char key[SESS_KEY_MAX], now[24], ttl[16];
    sess_key(key, o->sid, "session");
    snprintf(now, sizeof(now), "%lld", pl_wall_ms());
    snprintf(ttl, sizeof(ttl), "%u", o->ttl_s);
    char tenant[SESS_TENANT_MAX + 1];
    sess_tenant_name(tenant, o->tenant);
    const char *phone = o->caller_phone ? o->caller_phone : "";
    const char *attrs = o->attributes ? o->attributes : "";
    const char *argv[] = {
        "1",    key,     o->sid,         now,   ttl,   o->channel,
        tenant, o->kind, o->external_id, phone, attrs, o->existing_only ? "1" : "0"};
    size_t lens[PL_ARRAY_LEN(argv)];
    for (size_t i = 0; i < PL_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    struct hook_op *op = pl_calloc(1, sizeof(*op));
    op->opened = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_opened, op, (int)PL_ARRAY_LEN(argv), argv,
                        lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_set(void *ud, int status, redisReply *reply)
{
    struct hook_op *op = ud;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "webhook session fields") || reply->type != REDIS_REPLY_INTEGER)
            status = PL_EUPSTREAM;
        else if (reply->integer == 0)
            status = PL_ENOTFOUND;
    }
    if (op->done)
        op->done(op->ud, status);
    pl_free(op);
}

int hook_session_set(struct sess_store *s, const char *sid, const char *const *names,
                     const char *const *values, size_t n, void (*cb)(void *ud, int status),
                     void *ud)
{
    if (!sess_id_valid(sid) || n == 0 || n > HOOK_SET_MAX)
        return PL_EINVAL;
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, set_lua);
    char key[SESS_KEY_MAX];
    sess_key(key, sid, "session");
    const char *argv[2 + 2 * HOOK_SET_MAX];
    size_t lens[2 + 2 * HOOK_SET_MAX];
    argv[0] = "1";
    argv[1] = key;
    for (size_t i = 0; i < n; i++) {
        argv[2 + 2 * i] = names[i];
        argv[3 + 2 * i] = values[i];
    }
    int argc = (int)(2 + 2 * n);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    struct hook_op *op = pl_calloc(1, sizeof(*op));
    op->done = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_set, op, argc, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_handoff(void *ud, int status, redisReply *reply)
{
    struct hook_op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "handoff read"))
        status = PL_EUPSTREAM;
    if (status != PL_OK)
        op->text(op->ud, status, NULL, 0);
    else if (reply->type == REDIS_REPLY_STRING)
        op->text(op->ud, PL_OK, reply->str, reply->len);
    else
        op->text(op->ud, PL_OK, NULL, 0);
    pl_free(op);
}

int hook_session_handoff(struct sess_store *s, const char *sid,
                         void (*cb)(void *ud, int status, const char *text, size_t len), void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[SESS_KEY_MAX];
    sess_key(key, sid, "session");
    const char *argv[] = {"HGET", key, "handoff"};
    size_t lens[] = {4, strlen(key), 7};
    struct hook_op *op = pl_calloc(1, sizeof(*op));
    op->text = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_handoff, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
