/* A session asks for a human agent; see escalate.h. */
#include "bot/escalate.h"

#include <stdio.h>

#include "bot/desk_list.h"
#include "common/alloc.h"
#include "common/err.h"

struct escalate_op {
    struct bot_server *srv;
    sess_escalate_cb cb;
    void *ud;
    char sid[SESS_ID_LEN + 1];
};

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    struct escalate_op *op = ud;
    if (status == PL_OK && result == SESS_ESCALATED)
        desk_list_changed(op->srv->desk_list, op->sid);
    if (op->cb)
        op->cb(op->ud, status, result);
    pl_free(op);
}

int bot_escalate(struct bot_server *srv, const char *sid, const char *reason, sess_escalate_cb cb,
                 void *ud)
{
    struct escalate_op *op = pl_calloc(1, sizeof(*op));
    op->srv = srv;
    op->cb = cb;
    op->ud = ud;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    int rc = sess_escalate(srv->store, sid, reason, on_escalated, op);
    if (rc != PL_OK)
        pl_free(op);
    return rc;
}
