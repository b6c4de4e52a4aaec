/* A caller asking for a person; see caller_escalation.h. */
#include "bot/caller_escalation.h"

#include <stdio.h>

#include "bot/config.h"
#include "bot/desk_list.h"
#include "bot/escalation.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/session_escalate.h"

struct escalate_op {
    struct bot_server *srv;
    char sid[SESS_ID_LEN + 1];
};

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    struct escalate_op *op = ud;
    if (status != PL_OK) {
        PL_LOG(PL_LOG_WARN, "chat", "sess=%s: escalation not stored (%s)", op->sid,
               pl_strerror(status));
    } else if (result == SESS_ESCALATED) {
        PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s waits for a human agent", op->sid);
        desk_list_changed(op->srv->desk_list, op->sid);
    }
    pl_free(op);
}

void caller_escalate(struct bot_server *srv, const char *sid, const char *reason)
{
    struct escalate_op *op = pl_calloc(1, sizeof(*op));
    op->srv = srv;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    if (sess_escalate(srv->store, sid, reason, on_escalated, op) != PL_OK) {
        PL_LOG(PL_LOG_WARN, "chat", "sess=%s: escalation not stored (storage unavailable)", sid);
        pl_free(op);
    }
}

void caller_escalate_on_words(struct bot_server *srv, const char *sid, const char *text, size_t len)
{
    char phrase[80];
    if (!escalation_phrase_match(srv->cfg->escalation_phrases, text, len, phrase, sizeof(phrase)))
        return;
    char reason[120];
    snprintf(reason, sizeof(reason), "the caller said \"%s\"", phrase);
    caller_escalate(srv, sid, reason);
}
