/* Commands to one instance; see instance_control.h. */
#include "bot/instance_control.h"

#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/desk_channel.h"
#include "sessions/instance_channel.h"

#define CANCEL_TAKEOVER "cancel takeover "

struct instance_control {
    struct bot_server *srv;
    struct sess_store_opts sub_opts; /* for the subscriber, opened once Redis answers */
    struct sess_channel_sub *sub;
};

struct takeover_op {
    struct bot_server *srv;
    char sid[SESS_ID_LEN + 1];
};

int instance_command_parse(const char *data, size_t len, char sid[SESS_ID_LEN + 1])
{
    size_t n = sizeof(CANCEL_TAKEOVER) - 1;
    if (!data || len != n + SESS_ID_LEN || memcmp(data, CANCEL_TAKEOVER, n) != 0)
        return PL_EINVAL;
    memcpy(sid, data + n, SESS_ID_LEN);
    sid[SESS_ID_LEN] = '\0';
    return sess_id_valid(sid) ? PL_OK : PL_EINVAL;
}

static void on_command(void *ud, const char *data, size_t len)
{
    struct instance_control *ic = ud;
    char sid[SESS_ID_LEN + 1];
    if (instance_command_parse(data, len, sid) != PL_OK) {
        PL_LOG(PL_LOG_WARN, "control", "an unknown command on this instance's channel (%zu bytes)",
               len);
        return;
    }
    bool stopped = turn_cancel(ic->srv->engine, sid, TURN_CANCEL_BY_TAKEOVER);
    PL_LOG(PL_LOG_INFO, "control", "sess=%s taken over on another instance: %s", sid,
           stopped ? "the answer here stopped" : "no answer here to stop");
}

static void on_owner(void *ud, int status, const char *owner)
{
    struct takeover_op *op = ud;
    struct bot_server *srv = op->srv;
    if (status != PL_OK) {
        PL_LOG(PL_LOG_WARN, "control", "sess=%s: who answers it could not be read (%s)", op->sid,
               pl_strerror(status));
    } else if (owner[0] && strcmp(owner, srv->instance_id) != 0 && !srv->shutting_down) {
        char channel[SESS_INSTANCE_CHANNEL_MAX], cmd[sizeof(CANCEL_TAKEOVER) + SESS_ID_LEN];
        sess_instance_channel(channel, owner);
        int n = snprintf(cmd, sizeof(cmd), CANCEL_TAKEOVER "%s", op->sid);
        if (sess_channel_publish(srv->store, channel, cmd, (size_t)n, NULL, NULL) != PL_OK)
            PL_LOG(PL_LOG_WARN, "control", "sess=%s: %s not told to stop (Redis unavailable)",
                   op->sid, owner);
    }
    pl_free(op);
}

void instance_control_takeover(struct instance_control *ic, const char *sid)
{
    if (!ic || !sess_id_valid(sid))
        return;
    struct takeover_op *op = pl_calloc(1, sizeof(*op));
    op->srv = ic->srv;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    if (sess_turn_owner(ic->srv->store, sid, on_owner, op) != PL_OK) {
        PL_LOG(PL_LOG_WARN, "control",
               "sess=%s: who answers it could not be read (Redis "
               "unavailable)",
               sid);
        pl_free(op);
    }
}

int instance_control_start(struct bot_server *srv, const struct sess_store_opts *so,
                           struct instance_control **out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct instance_control *ic = pl_calloc(1, sizeof(*ic));
    ic->srv = srv;
    ic->sub_opts = *so;
    *out = ic;
    return PL_OK;
}

void instance_control_redis_up(struct instance_control *ic)
{
    if (!ic || ic->sub)
        return;
    char channel[SESS_INSTANCE_CHANNEL_MAX], err[256];
    sess_instance_channel(channel, ic->srv->instance_id);
    if (sess_channel_sub_create(ic->srv->loop, &ic->sub_opts, channel, on_command, ic, &ic->sub,
                                err, sizeof(err)) != PL_OK)
        PL_LOG(PL_LOG_WARN, "control", "no control channel: %s", err);
}

void instance_control_stop(struct instance_control *ic)
{
    if (!ic)
        return;
    sess_channel_sub_destroy(ic->sub);
    pl_free(ic);
}
