/* The turn engine: one conversational turn of a live session, as a state machine.
 *   LOCKING   take the session's turn lock in Redis and read the record and recent history
 *             (already done by the append's script when the session had nothing else to answer)
 *   STREAMING the provider streams; each delta is kept (for resume) and sent to the callers
 *   STORING   the answer, stop reason and usage go to the transcript; the lock is released
 * then the next queued turn starts. Failures follow docs/architecture.md ("Failure rules, as
 * built"): storage trouble is retried with backoff (an acknowledged message and a finished answer
 * are never dropped while the process lives), upstream trouble before the first token was already
 * retried by the chain provider, and after the first token the turn ends with a stop reason that
 * says what happened. */
#include <stdio.h>
#include <string.h>

#include "bot/chat.h"
#include "bot/chat_proto.h"
#include "bot/live_session.h"
#include "common/alloc.h"
#include "common/api_error.h"
#include "common/err.h"
#include "common/log.h"
#include "prompts/prompt.h"
#include "sessions/conversation_order.h"

#define ANSWER_BYTES_MAX   (1024 * 1024)
#define LOCK_RETRY_MS      200
#define STORE_RETRY_MAX_MS 5000
#define STORE_DEADLINE_MS  (10 * 60 * 1000)

static void begin(struct bot_session *s);
static void on_begin(void *ud, struct sess_turn_context *ctx);
static void on_start_check(uv_check_t *check);
static void store(struct bot_session *s);
static void finish_turn(struct bot_session *s, enum llm_stop stop, const char *error_code,
                        const char *error_message, bool retryable);

static uint64_t now_ms(const struct bot_session *s)
{
    return uv_now(s->srv->loop);
}

void turn_free(struct bot_turn *t)
{
    if (!t)
        return;
    sess_turn_context_free(t->begun);
    pl_buf_cleanup(&t->answer);
    pl_free(t->delta_ends);
    pl_free(t);
}

static struct bot_turn *turn_new(long turn, uint64_t now)
{
    struct bot_turn *t = pl_calloc(1, sizeof(*t));
    t->turn = turn;
    t->state = TURN_LOCKING;
    t->started_ms = now;
    pl_buf_init(&t->answer, ANSWER_BYTES_MAX);
    return t;
}

static void begin_opts(const struct bot_session *s, struct sess_begin_opts *o)
{
    o->owner = s->srv->instance_id;
    o->lock_ttl_ms = s->srv->cfg->turn_lock_ms;
    o->max_entries = s->srv->cfg->history_entries;
    o->turn = s->active ? s->active->turn : 0;
}

bool turn_begin_with_append(const struct bot_session *s, struct sess_begin_opts *o)
{
    if (s->active || s->queue_len || s->appends_in_flight || s->srv->shutting_down)
        return false;
    begin_opts(s, o);
    return true;
}

/* Keep the context that came with the append (taking it) and start the turn from the
 * check handle: the other replies of this loop pass get their acks first, instead of each
 * waiting for the turns before it to build their prompts and open their requests. */
static void defer_begun(struct bot_session *s, struct sess_turn_context *begun)
{
    struct bot_turn *t = s->active;
    t->begun = begun;
    if (!s->srv->starting)
        uv_check_start(&s->srv->start_check, on_start_check);
    s->next_starting = s->srv->starting;
    s->srv->starting = s;
}

/* Start the oldest queued turn, with its lock and context when they came with the append. */
static void start_next(struct bot_session *s, struct sess_turn_context *begun)
{
    if (s->active || s->queue_len == 0)
        return;
    if (s->srv->shutting_down) {
        /* Not started: the messages stay unanswered in the transcript and are answered when
         * the caller comes back (to this or another instance). */
        if (begun && begun->status == PL_OK && begun->result == SESS_BEGIN_LOCKED)
            sess_turn_release(s->srv->store, s->sid, s->srv->instance_id, NULL, NULL);
        sess_turn_context_free(begun);
        while (s->queue_len) {
            s->queue_len--;
            live_session_unref(s);
        }
        return;
    }
    long turn = s->queue[0];
    memmove(s->queue, s->queue + 1, (s->queue_len - 1) * sizeof(*s->queue));
    s->queue_len--;
    s->active = turn_new(turn, now_ms(s));
    if (begun && begun->status == PL_OK && begun->result == SESS_BEGIN_LOCKED)
        defer_begun(s, begun);
    else if (begun)
        on_begin(s, begun); /* nothing to build: busy or failed, handled at once */
    else
        begin(s);
}

int turn_enqueue(struct bot_session *s, long turn, struct sess_turn_context *begun)
{
    if (begun && (s->active || s->queue_len)) {
        /* Not the next turn after all: it begins again in its place (the lock is re-entrant
         * for this instance, so holding it already does no harm). */
        sess_turn_context_free(begun);
        begun = NULL;
    }
    if (s->queue_len >= s->srv->cfg->max_queued_messages) {
        sess_turn_context_free(begun);
        return PL_EBUSY;
    }
    if (s->queue_len == s->queue_cap) {
        s->queue_cap = s->queue_cap ? s->queue_cap * 2 : 4;
        s->queue = pl_realloc(s->queue, s->queue_cap * sizeof(*s->queue));
    }
    s->queue[s->queue_len++] = turn;
    live_session_ref(s); /* a queued or active turn keeps the session live */
    start_next(s, begun);
    return PL_OK;
}

/* ---- LOCKING ---- */

static void on_timer_begin(uv_timer_t *t)
{
    begin(t->data);
}

static void retry_begin(struct bot_session *s, uint64_t delay, const char *why)
{
    struct bot_turn *t = s->active;
    if (now_ms(s) + delay - t->started_ms > s->srv->cfg->turn_timeout_ms) {
        bool busy = strcmp(why, "busy") == 0;
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld could not start: %s", s->sid, t->turn, why);
        finish_turn(s, LLM_STOP_UPSTREAM_ERROR, busy ? "busy" : "upstream_unavailable",
                    busy ? "another answer for this conversation is still in progress; "
                           "please retry"
                         : "conversation storage is unavailable; your message is saved and "
                           "will be answered when you retry",
                    true);
        return;
    }
    uv_timer_start(&s->timer, on_timer_begin, delay, 0);
}

static void on_text(void *ud, const char *text, size_t len)
{
    struct bot_session *s = ud;
    struct bot_turn *t = s->active;
    if (pl_buf_append(&t->answer, text, len) != PL_OK)
        return; /* past the answer cap: max_output_tokens keeps real answers far below it */
    if (t->n_deltas == t->cap_deltas) {
        t->cap_deltas = t->cap_deltas ? t->cap_deltas * 2 : 64;
        t->delta_ends = pl_realloc(t->delta_ends, t->cap_deltas * sizeof(*t->delta_ends));
    }
    long seq = (long)t->n_deltas;
    t->delta_ends[t->n_deltas++] = t->answer.len;
    struct pl_buf *frame = &s->srv->delta_frame;
    chat_frame_restart(frame);
    chat_out_delta(frame, t->turn, seq, text, len);
    chat_session_send(s, frame);
    s->srv->metrics.deltas_sent++;
}

static void on_deadline(uv_timer_t *timer)
{
    struct bot_session *s = timer->data;
    PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld reached the %u ms deadline", s->sid,
           s->active->turn, s->srv->cfg->turn_timeout_ms);
    turn_cancel_active(s, LLM_STOP_TIMEOUT);
}

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct bot_session *s = ud;
    struct bot_turn *t = s->active;
    t->call = NULL;
    uv_timer_stop(&s->timer);
    t->usage = o->usage;
    if (o->model)
        snprintf(t->model, sizeof(t->model), "%s", o->model);
    if (o->provider)
        snprintf(t->provider, sizeof(t->provider), "%s", o->provider);
    if (o->status == PL_OK) {
        finish_turn(s, o->stop, NULL, NULL, false);
    } else if (o->status == PL_ECANCELED) {
        finish_turn(s, t->cancel_reason, NULL, NULL, false);
    } else if (t->n_deltas > 0) {
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld ended after %zu deltas: %s", s->sid, t->turn,
               t->n_deltas, o->error_detail ? o->error_detail : pl_strerror(o->status));
        finish_turn(s, o->stop, NULL, NULL, false);
    } else {
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld failed before any text: %s", s->sid, t->turn,
               o->error_detail ? o->error_detail : pl_strerror(o->status));
        char msg[300];
        snprintf(msg, sizeof(msg), "the assistant could not answer (%s)%s",
                 o->error_detail ? o->error_detail : pl_strerror(o->status),
                 o->retryable ? "; please try again in a moment" : "");
        finish_turn(s, LLM_STOP_UPSTREAM_ERROR,
                    o->error != API_ERR_NONE ? api_error_code(o->error) : "upstream_unavailable",
                    msg, o->retryable);
    }
}

/* The prompt of caller turn `turn`: the transcript in conversation order, as prompts/ reads it,
 * and what the system template may say about the caller. */
static int build_prompt(const struct bot_server *srv, const struct sess_record *rec,
                        const struct sess_entry *entries, size_t n, long turn, struct prompt *out)
{
    const struct sess_entry **ordered = pl_calloc(n, sizeof(*ordered));
    struct prompt_history_item *items = pl_calloc(n, sizeof(*items));
    sess_conversation_order(entries, n, ordered);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sess_entry *e = ordered[i];
        enum prompt_role role;
        if (strcmp(e->role, "caller") == 0)
            role = PROMPT_ROLE_CALLER;
        else if (strcmp(e->role, "assistant") == 0)
            role = PROMPT_ROLE_ASSISTANT;
        else if (strcmp(e->role, "agent") == 0)
            role = PROMPT_ROLE_AGENT;
        else
            continue;
        items[k++] = (struct prompt_history_item){role, e->turn, e->text, e->text_len};
    }
    const struct prompt_caller caller = {.session_id = rec->id,
                                         .name = rec->caller_name,
                                         .policy_number = rec->policy_number,
                                         .channel = rec->channel};
    int rc = prompt_build(srv->prompts, &caller, items, k, turn, out);
    pl_free(items);
    pl_free(ordered);
    return rc;
}

static void start_llm(struct bot_session *s, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct bot_turn *t = s->active;
    struct prompt prompt;
    int rc = build_prompt(s->srv, rec, entries, n, t->turn, &prompt);
    if (rc) {
        PL_LOG(PL_LOG_ERR, "turn", "sess=%s turn=%ld: cannot build the prompt (%s)", s->sid,
               t->turn, pl_strerror(rc));
        finish_turn(s, LLM_STOP_UPSTREAM_ERROR, "internal", "the prompt could not be built", false);
        return;
    }
    struct llm_sink sink = {.on_text = on_text, .on_finish = on_finish, .ud = s};
    t->state = TURN_STREAMING;
    struct pl_buf frame;
    chat_frame_begin(&frame);
    chat_out_turn_start(&frame, t->turn);
    chat_session_send(s, &frame);
    pl_buf_cleanup(&frame);
    s->srv->metrics.turns_started++;
    uint64_t elapsed = now_ms(s) - t->started_ms;
    uint64_t left =
        s->srv->cfg->turn_timeout_ms > elapsed ? s->srv->cfg->turn_timeout_ms - elapsed : 1;
    uv_timer_start(&s->timer, on_deadline, left, 0);
    t->call = llm_start(s->srv->llm, &prompt, &sink);
    prompt_cleanup(&prompt);
    if (!t->call) {
        uv_timer_stop(&s->timer);
        finish_turn(s, LLM_STOP_UPSTREAM_ERROR, "internal", "the model request was rejected",
                    false);
    }
}

static void handle_begin(struct bot_session *s, const struct sess_turn_context *ctx)
{
    struct bot_turn *t = s->active;
    int status = ctx->status;
    if (status == PL_ENOTFOUND) {
        finish_turn(s, LLM_STOP_UPSTREAM_ERROR, "not_found",
                    "this conversation no longer exists (it may have expired)", false);
        return;
    }
    if (status != PL_OK) {
        t->begin_attempts++;
        uint64_t delay = 100u << (t->begin_attempts > 4 ? 4 : t->begin_attempts);
        retry_begin(s, delay, "storage unavailable");
        return;
    }
    if (ctx->result == SESS_BEGIN_HELD_ELSEWHERE) {
        retry_begin(s, LOCK_RETRY_MS, "busy");
        return;
    }
    if (ctx->result == SESS_BEGIN_ANSWERED) {
        /* Answered meanwhile (by another instance, after a reconnect there): nothing to do. */
        PL_LOG(PL_LOG_INFO, "turn", "sess=%s turn=%ld already answered", s->sid, t->turn);
        t->state = TURN_STORING;
        store(s);
        return;
    }
    t->lease_ms = now_ms(s);
    start_llm(s, &ctx->rec, ctx->entries, ctx->n);
}

static void on_begin(void *ud, struct sess_turn_context *ctx)
{
    handle_begin(ud, ctx);
    sess_turn_context_free(ctx);
}

static void begin(struct bot_session *s)
{
    struct bot_turn *t = s->active;
    struct sess_begin_opts o;
    begin_opts(s, &o);
    int rc = sess_turn_begin(s->srv->store, s->sid, &o, on_begin, s);
    if (rc) {
        t->begin_attempts++;
        retry_begin(s, 100u << (t->begin_attempts > 4 ? 4 : t->begin_attempts),
                    "storage unavailable");
    }
}

/* ---- end of a turn ---- */

static void finish_turn(struct bot_session *s, enum llm_stop stop, const char *error_code,
                        const char *error_message, bool retryable)
{
    struct bot_turn *t = s->active;
    bool started = t->state == TURN_STREAMING;
    t->stop = stop;
    t->error_code = error_code;
    if (error_code) {
        chat_session_send_error(s, error_code, error_message, retryable);
        s->srv->metrics.turns_failed++;
    }
    /* turn_end goes out once the answer is stored (or its first store attempt failed), so a
     * caller who saw it can count on finding the answer in the history. */
    t->end_pending = started;
    t->state = TURN_STORING;
    if (!started && error_code) {
        /* Never started: nothing to store, the message stays unanswered in the transcript
         * (a later hello re-queues it). Release the lock if we took it. */
        sess_turn_release(s->srv->store, s->sid, s->srv->instance_id, NULL, NULL);
        t->state = TURN_DONE;
        turn_free(s->active);
        s->active = NULL;
        start_next(s, NULL);
        live_session_unref(s);
        return;
    }
    store(s);
}

static void on_timer_store(uv_timer_t *timer)
{
    store(timer->data);
}

static void send_turn_end(struct bot_session *s, struct bot_turn *t)
{
    struct pl_buf frame;
    chat_frame_begin(&frame);
    chat_out_turn_end(&frame, t->turn, llm_stop_name(t->stop), t->usage.input_tokens,
                      t->usage.output_tokens, NULL, 0);
    chat_session_send(s, &frame);
    pl_buf_cleanup(&frame);
    t->end_pending = false;
    t->end_sent = true;
    s->srv->metrics.turns_completed++;
}

static void on_stored(void *ud, int status)
{
    struct bot_session *s = ud;
    struct bot_turn *t = s->active;
    if (t->end_pending)
        send_turn_end(s, t);
    if (status != PL_OK && status != PL_ENOTFOUND && status != PL_ECANCELED) {
        t->store_attempts++;
        s->srv->metrics.stores_retried++;
        if (now_ms(s) - t->started_ms > STORE_DEADLINE_MS) {
            PL_LOG(PL_LOG_ERR, "turn", "sess=%s turn=%ld: answer could not be stored for %d s",
                   s->sid, t->turn, STORE_DEADLINE_MS / 1000);
        } else {
            uint64_t delay = 200u << (t->store_attempts > 5 ? 5 : t->store_attempts);
            if (delay > STORE_RETRY_MAX_MS)
                delay = STORE_RETRY_MAX_MS;
            PL_LOG(PL_LOG_WARN, "turn",
                   "sess=%s turn=%ld: storing the answer failed (%s); "
                   "retrying in %llu ms",
                   s->sid, t->turn, pl_strerror(status), (unsigned long long)delay);
            uv_timer_start(&s->timer, on_timer_store, delay, 0);
            return;
        }
    }
    t->state = TURN_DONE;
    turn_free(s->last);
    s->last = t;
    s->active = NULL;
    start_next(s, NULL);
    live_session_unref(s);
}

static void store(struct bot_session *s)
{
    struct bot_turn *t = s->active;
    if (!s->srv->store) {
        on_stored(s, PL_ECANCELED); /* shut down past the drain deadline */
        return;
    }
    struct sess_answer a = {
        .turn = t->turn,
        .text = t->answer.data ? t->answer.data : "",
        .text_len = t->answer.len,
        .stop_reason = llm_stop_name(t->stop),
        .error = t->error_code,
        .input_tokens = t->usage.input_tokens,
        .output_tokens = t->usage.output_tokens,
        .model = t->model,
        .provider = t->provider,
    };
    int rc = sess_turn_end(s->srv->store, s->sid, s->srv->instance_id, &a, on_stored, s);
    if (rc)
        on_stored(s, rc);
}

bool turn_cancel_active(struct bot_session *s, enum llm_stop why)
{
    struct bot_turn *t = s->active;
    if (!t || t->state != TURN_STREAMING || !t->call || t->cancelled)
        return false;
    t->cancelled = true;
    t->cancel_reason = why;
    llm_cancel(t->call); /* on_finish runs now and ends the turn */
    return true;
}

/* ---- lock leases ---- */

static void renew_one(const char *sid, void *value, void *ud)
{
    (void)sid;
    struct bot_session *s = value;
    struct bot_server *srv = ud;
    struct bot_turn *t = s->active;
    if (!t || t->state == TURN_LOCKING || t->state == TURN_DONE || !srv->store)
        return;
    /* Only leases at least a third old: most answers end long before, and renewing every
     * running turn at once made a burst of Redis calls on every tick. Checked every third of
     * the lease, a lease is renewed before two thirds of it have passed. */
    uint64_t now = uv_now(srv->loop);
    if (now - t->lease_ms < srv->cfg->turn_lock_ms / 3)
        return;
    t->lease_ms = now;
    sess_turn_renew(srv->store, s->sid, srv->instance_id, srv->cfg->turn_lock_ms, NULL, NULL);
}

static void on_lease_timer(uv_timer_t *timer)
{
    struct bot_server *srv = timer->data;
    pl_map_each(&srv->sessions, renew_one, srv);
}

/* ---- turns begun with their append ---- */

static void on_start_check(uv_check_t *check)
{
    struct bot_server *srv = check->data;
    struct bot_session *list = srv->starting;
    srv->starting = NULL;
    uv_check_stop(check);
    while (list) {
        struct bot_session *s = list;
        list = s->next_starting;
        s->next_starting = NULL;
        struct bot_turn *t = s->active; /* still the deferred one: LOCKING turns don't end */
        struct sess_turn_context *ctx = t->begun;
        t->begun = NULL;
        on_begin(s, ctx);
    }
}

void turn_engine_start(struct bot_server *srv)
{
    uint64_t every = srv->cfg->turn_lock_ms / 3;
    uv_timer_init(srv->loop, &srv->lease_timer);
    srv->lease_timer.data = srv;
    uv_timer_start(&srv->lease_timer, on_lease_timer, every, every);
    uv_check_init(srv->loop, &srv->start_check);
    srv->start_check.data = srv;
    chat_frame_begin(&srv->delta_frame);
    srv->turn_engine_open = true;
}

void turn_engine_stop(struct bot_server *srv)
{
    if (!srv->turn_engine_open)
        return;
    srv->turn_engine_open = false;
    uv_timer_stop(&srv->lease_timer);
    uv_close((uv_handle_t *)&srv->lease_timer, NULL);
    uv_check_stop(&srv->start_check);
    uv_close((uv_handle_t *)&srv->start_check, NULL);
    pl_buf_cleanup(&srv->delta_frame);
}
