/* The escalation signals' observer; see escalation_watch.h. */
#include "bot/escalation_watch.h"

#include <stdio.h>

#include "bot/escalate.h"
#include "bot/escalation_signals.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/session_signals.h"
#include "sessions/session_store.h"

/* One turn being decided: everything it needs is copied, so nothing outlives its owner. */
struct watch_op {
    struct bot_server *srv;
    unsigned signals;
    long turn;
    struct esc_observation obs;
    char sid[SESS_ID_LEN + 1];
};

static void on_escalated(void *ud, int status, enum sess_escalate_result result)
{
    struct watch_op *op = ud;
    if (status != PL_OK && status != PL_ENOTFOUND)
        PL_LOG(PL_LOG_WARN, "escalation", "sess=%s: escalation not stored (%s)", op->sid,
               pl_strerror(status));
    else if (status == PL_OK && result == SESS_ESCALATED)
        PL_LOG(PL_LOG_NOTICE, "escalation", "sess=%s waits for a human agent after turn %ld",
               op->sid, op->turn);
    pl_free(op);
}

static void decide(struct watch_op *op, const struct sess_signal_counts *c)
{
    const char *reason = esc_decide(op->signals, &op->obs, c);
    if (!reason) {
        pl_free(op);
        return;
    }
    PL_LOG(PL_LOG_INFO, "escalation", "sess=%s turn=%ld: %s", op->sid, op->turn, reason);
    if (bot_escalate(op->srv, op->sid, reason, on_escalated, op) != PL_OK) {
        PL_LOG(PL_LOG_WARN, "escalation", "sess=%s: escalation not stored (storage unavailable)",
               op->sid);
        pl_free(op);
    }
}

static void on_noted(void *ud, int status, const struct sess_signal_counts *counts)
{
    struct watch_op *op = ud;
    if (status != PL_OK) {
        /* No memory, no decision: Redis is where the escalation would go too. */
        if (status != PL_ENOTFOUND)
            PL_LOG(PL_LOG_INFO, "escalation", "sess=%s turn=%ld: signals not noted (%s)", op->sid,
                   op->turn, pl_strerror(status));
        pl_free(op);
        return;
    }
    decide(op, counts);
}

void escalation_watch_turn_finished(void *ud, const char *sid, const struct turn_finished *f)
{
    const struct escalation_watch *w = ud;
    if (!w->signals || f->end->turn <= 0)
        return;
    struct watch_op *op = pl_calloc(1, sizeof(*op));
    op->srv = w->srv;
    op->signals = w->signals;
    op->turn = f->end->turn;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    esc_observe(w->signals, w->unsure_phrases, f, &op->obs);
    if (!esc_needs_memory(w->signals)) {
        decide(op, NULL);
        return;
    }
    const struct sess_signal_note note = {.turn = op->turn,
                                          .unsure = op->obs.unsure,
                                          .miss = op->obs.miss,
                                          .question = op->obs.question};
    if (sess_signal_note(w->srv->store, sid, &note, on_noted, op) != PL_OK) {
        PL_LOG(PL_LOG_INFO, "escalation",
               "sess=%s turn=%ld: signals not noted (storage unavailable)", sid, op->turn);
        pl_free(op);
    }
}
