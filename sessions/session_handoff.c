/* A handoff's facts; see session_handoff.h. */
#include "sessions/session_handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"

struct facts_op {
    sess_handoff_cb cb;
    void *ud;
};

static void copy_field(char *dst, size_t size, const redisReply *r)
{
    dst[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, size, "%.*s", (int)(r->len < size - 1 ? r->len : size - 1), r->str);
}

static void on_facts(void *ud, int status, redisReply *reply)
{
    struct facts_op *op = ud;
    struct sess_handoff_facts f = {0};
    if (status == PL_OK && (!rconn_reply_ok(reply, "handoff facts") ||
                            reply->type != REDIS_REPLY_ARRAY || reply->elements != 5))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->element[0]->type != REDIS_REPLY_STRING)
        status = PL_ENOTFOUND; /* no id: no record */
    if (status == PL_OK) {
        char n[32];
        copy_field(f.escalation_reason, sizeof(f.escalation_reason), reply->element[1]);
        copy_field(n, sizeof(n), reply->element[2]);
        f.waiting_since_ms = strtoll(n, NULL, 10);
        copy_field(f.hook, sizeof(f.hook), reply->element[3]);
        copy_field(n, sizeof(n), reply->element[4]);
        f.hook_verified = strcmp(n, "1") == 0;
    }
    op->cb(op->ud, status, status == PL_OK ? &f : NULL);
    pl_free(op);
}

int sess_handoff_facts(struct sess_store *s, const char *sid, sess_handoff_cb cb, void *ud)
{
    if (!sess_id_valid(sid) || !cb)
        return PL_EINVAL;
    char key[SESS_KEY_MAX];
    sess_key(key, sid, "session");
    const char *argv[] = {"HMGET",         key,    "id",           "escalation_reason",
                          "waiting_since", "hook", "hook_verified"};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    struct facts_op *op = pl_calloc(1, sizeof(*op));
    op->cb = cb;
    op->ud = ud;
    int rc = rconn_command_argv(sess_store_rconn(s), on_facts, op, 7, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
