/* A human agent's actions on a session; see session_agent.h. */
#include "sessions/session_agent.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "common/wall_clock.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

/* KEYS: session, transcript. ARGV: action, agent, override, now, text, preview.
 * Returns {code, turns}: code 0 no such session, 1 done, 2 held by another agent, 3 not held,
 * 4 closed. */
static const char agent_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end\n"
    "local action, agent, override, now = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]\n"
    "local f = redis.call('HMGET', KEYS[1], 'state', 'agent', 'turns')\n"
    "local state, holder, turns = f[1] or 'bot', f[2] or '', tonumber(f[3]) or 0\n"
    "if action == 'takeover' then\n"
    "  if state == 'closed' then return {4, turns} end\n"
    "  if state == 'agent' and holder ~= agent and not override then return {2, turns} end\n"
    "  redis.call('HSET', KEYS[1], 'state', 'agent', 'agent', agent, 'updated', now)\n"
    "elseif action == 'say' or action == 'release' then\n"
    "  if state ~= 'agent' then return {3, turns} end\n"
    "  if holder ~= agent and not override then return {2, turns} end\n"
    "  if action == 'release' then\n"
    "    local answered = tonumber(redis.call('HGET', KEYS[1], 'answered')) or 0\n"
    "    if answered < turns then redis.call('HSET', KEYS[1], 'answered', turns) end\n"
    "    redis.call('HSET', KEYS[1], 'state', 'bot', 'updated', now)\n"
    "    redis.call('HDEL', KEYS[1], 'agent')\n"
    "  end\n"
    "end\n"
    "if action == 'say' then\n"
    "  redis.call('XADD', KEYS[2], '*', 'role', 'agent', 'turn', turns, 'text', ARGV[5],\n"
    "    'ts', now, 'agent', agent)\n"
    "  redis.call('HSET', KEYS[1], 'updated', now, 'last_text', ARGV[6])\n"
    "else\n"
    "  redis.call('XADD', KEYS[2], '*', 'role', 'audit', 'turn', turns, 'text', action,\n"
    "    'ts', now, 'agent', agent)\n"
    "end\n"
    "return {1, turns}\n";

struct agent_op {
    sess_agent_cb cb;
    void *ud;
};

const char *sess_agent_action_name(enum sess_agent_action a)
{
    switch (a) {
    case SESS_AGENT_WATCH:
        return "watch";
    case SESS_AGENT_TAKEOVER:
        return "takeover";
    case SESS_AGENT_SAY:
        return "say";
    case SESS_AGENT_RELEASE:
        return "release";
    }
    return "?";
}

static void on_acted(void *ud, int status, redisReply *reply)
{
    struct agent_op *op = ud;
    enum sess_agent_result result = SESS_AGENT_DONE;
    long turn = 0;
    if (status == PL_OK &&
        (!rconn_reply_ok(reply, "agent action") || reply->type != REDIS_REPLY_ARRAY ||
         reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_INTEGER ||
         reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer > 4))
        status = PL_EUPSTREAM;
    if (status == PL_OK) {
        turn = (long)reply->element[1]->integer;
        switch (reply->element[0]->integer) {
        case 0:
            status = PL_ENOTFOUND;
            break;
        case 2:
            result = SESS_AGENT_HELD_BY_OTHER;
            break;
        case 3:
            result = SESS_AGENT_NOT_HELD;
            break;
        case 4:
            result = SESS_AGENT_CLOSED;
            break;
        default:
            break;
        }
    }
    if (op->cb)
        op->cb(op->ud, status, result, turn);
    pl_free(op);
}

int sess_agent_act(struct sess_store *s, const char *sid, enum sess_agent_action action,
                   const char *agent, bool override, const char *text, size_t len, sess_agent_cb cb,
                   void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, agent_lua);
    if (!sess_id_valid(sid) || !agent || !agent[0])
        return PL_EINVAL;
    if (action != SESS_AGENT_SAY || !text) {
        text = "";
        len = 0;
    }
    char session[SESS_KEY_MAX], transcript[SESS_KEY_MAX], now[24];
    sess_key(session, sid, "session");
    sess_key(transcript, sid, "transcript");
    snprintf(now, sizeof(now), "%lld", pl_wall_ms());
    const char *name = sess_agent_action_name(action);
    const char *argv[] = {"2", session, transcript, name, agent, override ? "1" : "0",
                          now, text,    text};
    size_t lens[] = {1,
                     strlen(session),
                     strlen(transcript),
                     strlen(name),
                     strlen(agent),
                     1,
                     strlen(now),
                     len,
                     pl_utf8_cut(text, len, SESS_PREVIEW_BYTES)};
    struct agent_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_acted, op, 9, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
