/* Commands for one instance; see instance_channel.h. */
#include "sessions/instance_channel.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

struct owner_op {
    sess_owner_cb cb;
    void *ud;
};

void sess_instance_channel(char out[SESS_INSTANCE_CHANNEL_MAX], const char *id)
{
    snprintf(out, SESS_INSTANCE_CHANNEL_MAX, "parley:instance:%s:control", id);
}

static void on_owner(void *ud, int status, redisReply *reply)
{
    struct owner_op *op = ud;
    char owner[SESS_INSTANCE_CHANNEL_MAX] = "";
    if (status == PL_OK && !rconn_reply_ok(reply, "turn lock owner"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_STRING && reply->len < sizeof(owner))
        memcpy(owner, reply->str, reply->len);
    op->cb(op->ud, status, owner);
    pl_free(op);
}

int sess_turn_owner(struct sess_store *s, const char *sid, sess_owner_cb cb, void *ud)
{
    if (!sess_id_valid(sid) || !cb)
        return PL_EINVAL;
    char key[SESS_KEY_MAX];
    sess_key(key, sid, "lock");
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    struct owner_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_owner, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
