/* A caller asking for a person; see caller_escalation.h. */
#include "bot/caller_escalation.h"

#include <stdio.h>

#include "bot/config.h"
#include "bot/escalate.h"
#include "bot/escalation.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    char *sid = ud;
    if (status != PL_OK)
        PL_LOG(PL_LOG_WARN, "chat", "sess=%s: escalation not stored (%s)", sid,
               pl_strerror(status));
    else if (result == SESS_ESCALATED)
        PL_LOG(PL_LOG_NOTICE, "chat", "sess=%s waits for a human agent", sid);
    pl_free(sid);
}

void caller_escalate(struct bot_server *srv, const char *sid, const char *reason)
{
    char *copy = pl_strdup(sid);
    if (bot_escalate(srv, sid, reason, on_escalated, copy) != PL_OK) {
        PL_LOG(PL_LOG_WARN, "chat", "sess=%s: escalation not stored (storage unavailable)", copy);
        pl_free(copy);
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
