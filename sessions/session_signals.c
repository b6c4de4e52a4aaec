/* The escalation signals' memory; see session_signals.h. */
#include "sessions/session_signals.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

/* {0}: no such session; {1, noted, unsure, misses, repeated}. */
static const char note_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end\n"
    "local f = redis.call('HMGET', KEYS[1], 'signal_turn', 'signal_unsure', 'signal_misses',\n"
    "                     'signal_question')\n"
    "local last = tonumber(f[1]) or 0\n"
    "local unsure = tonumber(f[2]) or 0\n"
    "local misses = tonumber(f[3]) or 0\n"
    "local turn = tonumber(ARGV[1])\n"
    "if turn <= last then return {1, 0, unsure, misses, 0} end\n"
    "local repeated = 0\n"
    "if ARGV[4] ~= '' and last == turn - 1 and f[4] == ARGV[4] then repeated = 1 end\n"
    "if ARGV[2] == '1' then unsure = unsure + 1 end\n"
    "if ARGV[3] == '1' then misses = misses + 1 elseif ARGV[3] == '0' then misses = 0 end\n"
    "redis.call('HSET', KEYS[1], 'signal_turn', turn, 'signal_unsure', unsure,\n"
    "           'signal_misses', misses, 'signal_question', ARGV[4])\n"
    "return {1, 1, unsure, misses, repeated}\n";

struct note_op {
    sess_signal_cb cb;
    void *ud;
};

static bool integer_at(const redisReply *r, size_t i, long long *out)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    *out = r->element[i]->integer;
    return true;
}

static void on_noted(void *ud, int status, redisReply *reply)
{
    struct note_op *op = ud;
    struct sess_signal_counts c = {0};
    long long v[5] = {0};
    if (status == PL_OK && (!rconn_reply_ok(reply, "signal note") ||
                            reply->type != REDIS_REPLY_ARRAY || !integer_at(reply, 0, &v[0])))
        status = PL_EUPSTREAM;
    if (status == PL_OK && v[0] == 0) {
        status = PL_ENOTFOUND;
    } else if (status == PL_OK) {
        for (size_t i = 1; i < 5; i++)
            if (!integer_at(reply, i, &v[i]))
                status = PL_EUPSTREAM;
        c.noted = v[1] == 1;
        c.unsure = (long)v[2];
        c.misses = (long)v[3];
        c.repeated = v[4] == 1;
    }
    op->cb(op->ud, status, status == PL_OK ? &c : NULL);
    pl_free(op);
}

int sess_signal_note(struct sess_store *s, const char *sid, const struct sess_signal_note *n,
                     sess_signal_cb cb, void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, note_lua);
    if (!sess_id_valid(sid) || n->turn <= 0 || !cb)
        return PL_EINVAL;
    char key[SESS_KEY_MAX], turn[24];
    sess_key(key, sid, "session");
    snprintf(turn, sizeof(turn), "%ld", n->turn);
    const char *miss = n->miss > 0 ? "1" : n->miss == 0 ? "0" : "-1";
    const char *question = n->question ? n->question : "";
    const char *argv[] = {"1", key, turn, n->unsure ? "1" : "0", miss, question};
    size_t lens[] = {1, strlen(key), strlen(turn), 1, strlen(miss), strlen(question)};
    struct note_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_noted, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
