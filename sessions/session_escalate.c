/* Escalation to a human agent; see session_escalate.h. */
#include "sessions/session_escalate.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "common/wall_clock.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

#define REASON_MAX 255

/* 0: no such session; 1: escalated; 2: waiting already; 3: with an agent or closed. */
static const char escalate_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local state = redis.call('HGET', KEYS[1], 'state')\n"
    "if state == 'waiting_agent' then return 2 end\n"
    "if state == 'agent' or state == 'closed' then return 3 end\n"
    "redis.call('HSET', KEYS[1], 'state', 'waiting_agent', 'escalation_reason', ARGV[1],\n"
    "           'waiting_since', ARGV[2], 'updated', ARGV[2])\n"
    "return 1\n";

struct escalate_op {
    sess_escalate_cb cb;
    void *ud;
};

static void on_escalated(void *ud, int status, redisReply *reply)
{
    struct escalate_op *op = ud;
    enum sess_escalate_result result = SESS_WITH_AGENT;
    if (status == PL_OK && (!rconn_reply_ok(reply, "escalate") ||
                            reply->type != REDIS_REPLY_INTEGER || reply->integer > 3))
        status = PL_EUPSTREAM;
    if (status == PL_OK) {
        if (reply->integer == 0)
            status = PL_ENOTFOUND;
        else if (reply->integer == 1)
            result = SESS_ESCALATED;
        else if (reply->integer == 2)
            result = SESS_ALREADY_WAITING;
    }
    if (op->cb)
        op->cb(op->ud, status, result);
    pl_free(op);
}

int sess_escalate(struct sess_store *s, const char *sid, const char *reason, sess_escalate_cb cb,
                  void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, escalate_lua);
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char key[SESS_KEY_MAX], now[24];
    sess_key(key, sid, "session");
    snprintf(now, sizeof(now), "%lld", pl_wall_ms());
    /* cut to whole UTF-8 characters within REASON_MAX bytes */
    size_t len = reason ? strlen(reason) : 0, cut = 0, k;
    while (cut < len && (k = pl_utf8_seq_len(reason + cut, len - cut)) > 0 && cut + k <= REASON_MAX)
        cut += k;
    const char *argv[] = {"1", key, reason ? reason : "", now};
    size_t lens[] = {1, strlen(key), cut, strlen(now)};
    struct escalate_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_escalated, op, 4, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
