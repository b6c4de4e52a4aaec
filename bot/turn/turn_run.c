/* The state machine of one turn (states in turn_internal.h). Failures follow the rules of
 * docs/architecture.md: storage trouble is retried with backoff (an acknowledged message and a
 * finished answer are never dropped while the process lives), upstream trouble before the first
 * token was already retried by the chain provider, and after the first token the turn ends
 * with a stop reason that says what happened. Whatever happens, the turn ends with exactly one
 * turn_end on this instance's listeners. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/llm_prices.h"
#include "connectors/policy_source.h"
#include "knowledge/kb_index.h"
#include "sessions/policy_store.h"

#define ANSWER_BYTES_MAX   (1024 * 1024)
#define LOCK_RETRY_MS      200
#define BEGIN_RETRY_MS     100 /* then doubling, to BEGIN_RETRY_MAX_MS */
#define BEGIN_RETRY_MAX_MS 1600
#define STORE_RETRY_MS     200
#define STORE_RETRY_MAX_MS 5000
#define STORE_DEADLINE_MS  (10 * 60 * 1000)
/* A budget reservation outlives the turn's deadline by this much before any other turn of its
 * tenant may reclaim it (its instance stopped before settling it; docs/cost.md). */
#define RESERVATION_GRACE_MS (60 * 1000)

static void begin(struct turn_session *s);
static void on_begin(void *ud, struct sess_turn_context *ctx);
static void store(struct turn_session *s);
static void finish(struct turn_session *s);
static void start_next(struct turn_session *s, struct sess_turn_context *begun);

static struct turn_engine *engine_of(const struct turn_session *s)
{
    return s->engine;
}

static uint64_t now_ms(const struct turn_session *s)
{
    return uv_now(s->engine->opts.loop);
}

static void begin_opts(const struct turn_session *s, struct sess_begin_opts *o, long turn)
{
    const struct turn_engine *e = engine_of(s);
    o->owner = e->instance_id;
    o->lock_ttl_ms = e->opts.turn_lock_ms;
    o->max_entries = e->opts.history_entries;
    o->turn = turn;
}

bool turn_can_begin_with_append(const struct turn_session *s, struct sess_begin_opts *o)
{
    const struct turn_engine *e = engine_of(s);
    if (s->active || s->queue_len || s->appends_in_flight || e->draining || e->stopped)
        return false;
    begin_opts(s, o, 0);
    return true;
}

/* The active turn is done with: keep it as the session's last turn (for replay and polls) or
 * free it, take up the next queued turn, and drop the turn's reference on the session. */
static void done_with_active(struct turn_session *s, bool keep)
{
    struct turn *t = s->active;
    s->active = NULL;
    if (keep) {
        turn_free(s->last);
        s->last = t;
    } else {
        turn_free(t);
    }
    start_next(s, NULL);
    turn_session_unref(s);
}

/* A turn that never reached the model: told error and turn_end, nothing stored (the message
 * stays unanswered in the transcript, and a later turn's answer or a recovery answers it). */
static void fail_unstarted(struct turn_session *s, enum api_error err, const char *message)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld could not start: %s", s->sid, t->turn,
           message ? message : api_error_message(err));
    uv_timer_stop(&s->timer);
    if (t->locked && !e->stopped)
        sess_turn_release(e->opts.store, s->sid, e->instance_id, NULL, NULL);
    if (t->reservation[0] && !e->stopped)
        sess_unreserve(e->opts.store, t->tenant, t->day, t->reservation, NULL, NULL);
    t->reservation[0] = '\0';
    t->stop = LLM_STOP_UPSTREAM_ERROR;
    t->error = err;
    if (message)
        snprintf(t->error_message, sizeof(t->error_message), "%s", message);
    t->state = TURN_ENDED;
    turn_emit_error(s, t);
    turn_emit_end(s, t);
    done_with_active(s, false);
}

/* ---- queueing ---- */

static void on_defer_listed(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    if (!e->starting)
        uv_check_start(&e->start_check, turn_on_start_check);
    turn_session_ref(s); /* while listed */
    s->next_starting = e->starting;
    e->starting = s;
}

/* Take up the oldest queued turn, with its lock and context when they came with the append. */
static void start_next(struct turn_session *s, struct sess_turn_context *begun)
{
    struct turn_engine *e = engine_of(s);
    if (s->active || s->queue_len == 0) {
        sess_turn_context_free(begun);
        return;
    }
    if (e->draining || e->stopped) {
        if (begun && begun->status == PL_OK && begun->result == SESS_BEGIN_LOCKED && !e->stopped)
            sess_turn_release(e->opts.store, s->sid, e->instance_id, NULL, NULL);
        sess_turn_context_free(begun);
        turn_drop_queue(s);
        return;
    }
    long turn = s->queue[0];
    memmove(s->queue, s->queue + 1, (s->queue_len - 1) * sizeof(*s->queue));
    s->queue_len--;
    s->active = turn_new(turn, now_ms(s));
    if (begun && begun->status == PL_OK && begun->result == SESS_BEGIN_LOCKED) {
        /* Start from the check handle: the other replies of this loop pass get their acks
         * first, instead of each waiting for the turns before it to build their prompts. */
        s->active->begun = begun;
        s->active->locked = true;
        on_defer_listed(s);
    } else if (begun) {
        on_begin(s, begun); /* held elsewhere, answered or failed: nothing to build */
    } else {
        begin(s);
    }
}

void turn_enqueue(struct turn_session *s, long turn, struct sess_turn_context *begun)
{
    if (turn_session_has_turn(s, turn)) {
        sess_turn_context_free(begun);
        return;
    }
    if (begun && (s->active || s->queue_len)) {
        /* Not the next turn after all: it begins again in its place (the lock is re-entrant
         * for this instance, so holding it already does no harm). */
        sess_turn_context_free(begun);
        begun = NULL;
    }
    if (s->queue_len == s->queue_cap) {
        s->queue_cap = s->queue_cap ? s->queue_cap * 2 : 4;
        s->queue = pl_realloc(s->queue, s->queue_cap * sizeof(*s->queue));
    }
    s->queue[s->queue_len++] = turn;
    turn_session_ref(s); /* a queued or active turn keeps the session live */
    start_next(s, begun);
}

void turn_drop_queue(struct turn_session *s)
{
    turn_session_ref(s);
    while (s->queue_len) {
        long turn = s->queue[0];
        memmove(s->queue, s->queue + 1, (s->queue_len - 1) * sizeof(*s->queue));
        s->queue_len--;
        struct turn *t = turn_new(turn, now_ms(s));
        t->stop = LLM_STOP_UPSTREAM_ERROR;
        t->error = API_ERR_SHUTTING_DOWN;
        t->state = TURN_ENDED;
        turn_emit_error(s, t);
        turn_emit_end(s, t);
        turn_free(t);
        turn_session_unref(s); /* the queued turn's reference */
    }
    turn_session_unref(s);
}

/* ---- LOCKING ---- */

static void on_timer_begin(uv_timer_t *timer)
{
    begin(timer->data);
}

static void retry_begin(struct turn_session *s, uint64_t delay, enum api_error err)
{
    struct turn *t = s->active;
    if (now_ms(s) + delay - t->taken_ms > engine_of(s)->opts.turn_timeout_ms) {
        fail_unstarted(s, err, NULL);
        return;
    }
    uv_timer_start(&s->timer, on_timer_begin, delay, 0);
}

static void retry_begin_after_storage_error(struct turn_session *s)
{
    struct turn *t = s->active;
    t->begin_attempts++;
    retry_begin(s, pl_backoff_ms(t->begin_attempts, BEGIN_RETRY_MS, BEGIN_RETRY_MAX_MS, 25),
                API_ERR_STORAGE_UNAVAILABLE);
}

static void begin(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    if (e->stopped) {
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
        return;
    }
    struct sess_begin_opts o;
    begin_opts(s, &o, t->turn);
    t->begin_in_flight = true;
    if (sess_turn_begin(e->opts.store, s->sid, &o, on_begin, s) != PL_OK) {
        t->begin_in_flight = false;
        retry_begin_after_storage_error(s);
    }
}

/* Another answer (stored by another instance, or by a turn whose prompt included this
 * message) already covers this turn: end it with that answer, taking no lock. */
static void end_covered(struct turn_session *s, const struct sess_turn_context *ctx)
{
    struct turn *t = s->active;
    if (!ctx->answer)
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld: its answer is no longer in the transcript",
               s->sid, t->turn);
    turn_take_answer(t, ctx->answer, ctx->rec.answered);
    PL_LOG(PL_LOG_INFO, "turn", "sess=%s turn=%ld already answered (by turn %ld)", s->sid, t->turn,
           t->answered_in);
    t->state = TURN_ENDED;
    if (t->error)
        turn_emit_error(s, t);
    turn_emit_end(s, t);
    done_with_active(s, true);
}

/* A human agent holds the session: the message is theirs (its message event went out with its
 * acknowledgement), so the turn ends here with no answer, no turn_end and nothing stored. */
static void to_the_agent(struct turn_session *s)
{
    struct turn *t = s->active;
    PL_LOG(PL_LOG_INFO, "turn", "sess=%s turn=%ld goes to the agent who holds the session", s->sid,
           t->turn);
    uv_timer_stop(&s->timer);
    t->state = TURN_ENDED;
    turn_emit_held(s, t->turn);
    done_with_active(s, false);
}

static void on_text(void *ud, const char *text, size_t len);
static void on_finish(void *ud, const struct llm_outcome *o);

static void on_deadline(uv_timer_t *timer)
{
    struct turn_session *s = timer->data;
    struct turn *t = s->active;
    PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld reached the %u ms deadline", s->sid, t->turn,
           engine_of(s)->opts.turn_timeout_ms);
    t->cancel_requested = true;
    t->cancel_stop = LLM_STOP_TIMEOUT;
    if (t->call)
        llm_cancel(t->call); /* on_finish runs now and ends the turn */
}

static void call_llm(struct turn_session *s);
static void reserve(struct turn_session *s);

/* YYYY-MM-DD of now, UTC: the day a turn's usage counts to. */
static void utc_day(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Until the next 00:00 UTC, when every tenant's daily budget starts again. */
static uint32_t ms_to_utc_midnight(void)
{
    long long day_ms = 86400LL * 1000;
    return (uint32_t)(day_ms - wall_ms() % day_ms);
}

static bool budgets_on(const struct turn_engine *e)
{
    return e->opts.budget_tokens || e->opts.budget_micros;
}

/* The caller's latest message up to `turn`: what the knowledge base is searched with (the
 * earlier ones are in the history, but their words would pull in passages of older topics). */
static const struct prompt_history_item *latest_question(const struct prompt_history_item *items,
                                                         size_t n, long turn)
{
    const struct prompt_history_item *q = NULL;
    for (size_t i = 0; i < n; i++)
        if (items[i].role == PROMPT_ROLE_CALLER && items[i].turn <= turn && items[i].text_len)
            q = &items[i];
    return q;
}

static void start_llm(struct turn_session *s, const struct sess_turn_context *ctx,
                      const char *policy_record)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    struct prompt_history_item *items = pl_calloc(ctx->n ? ctx->n : 1, sizeof(*items));
    size_t n = turn_history_items(ctx, items);
    struct turn_kb_passages passages;
    const struct prompt_history_item *question = latest_question(items, n, t->turn);
    turn_kb_find(e->opts.kb, e->opts.kb_dense, t->kb_qvec, e->opts.kb_passages,
                 question ? question->text : NULL, question ? question->text_len : 0, &passages);
    t->question = question ? pl_strndup(question->text, question->text_len) : NULL;
    t->question_len = question ? question->text_len : 0;
    t->kb_searched = question && e->opts.kb && e->opts.kb_passages && kb_index_chunks(e->opts.kb);
    t->kb_found = passages.n;
    const struct prompt_caller caller = {.session_id = s->sid,
                                         .name = ctx->rec.caller_name,
                                         .policy_number = ctx->rec.policy_number,
                                         .channel = ctx->rec.channel,
                                         .policy_record = policy_record,
                                         .documents = passages.docs,
                                         .n_documents = passages.n,
                                         .summary = ctx->summary,
                                         .summary_through = ctx->rec.summary_through};
    int rc = prompt_build(e->opts.prompts, &caller, items, n, t->turn, &t->prompt);
    turn_kb_cleanup(&passages);
    pl_free(items);
    if (rc != PL_OK) {
        PL_LOG(PL_LOG_ERR, "turn", "sess=%s turn=%ld: cannot build the prompt (%s)", s->sid,
               t->turn, pl_strerror(rc));
        fail_unstarted(s, API_ERR_INTERNAL, "the prompt could not be built");
        return;
    }
    t->has_prompt = true;
    t->summary_due = t->prompt.summary_due_through;
    turn_citations_copy(&t->citations, t->prompt.citations, t->prompt.n_citations);
    snprintf(t->tenant, sizeof(t->tenant), "%s", ctx->rec.tenant);
    utc_day(t->day);
    if (budgets_on(e) && !t->cancel_requested)
        reserve(s);
    else
        call_llm(s);
}

/* The prompt is built (and its budget reserved): ask the model. */
static void call_llm(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    t->state = TURN_STREAMING;
    e->stats.turns_started++;
    if (e->opts.turn_starting)
        e->opts.turn_starting(e->opts.turn_starting_ud, s->sid, t->turn);
    turn_emit_start(s, t->turn);
    uint64_t elapsed = now_ms(s) - t->taken_ms;
    uint32_t timeout = e->opts.turn_timeout_ms;
    uv_timer_start(&s->timer, on_deadline, timeout > elapsed ? timeout - elapsed : 1, 0);
    if (t->cancel_requested) {
        /* Cancelled as it began (a listener's turn_start did it): nothing to ask. */
        uv_timer_stop(&s->timer);
        t->stop = t->cancel_stop;
        finish(s);
        return;
    }
    /* A provider may finish inside llm_start (a chain whose every provider refuses the
     * request): on_finish then only records the outcome, handled once llm_start returns. */
    struct llm_sink sink = {.on_text = on_text, .on_finish = on_finish, .ud = s};
    t->in_llm_start = true;
    struct llm_call *call = llm_start(e->opts.llm, &t->prompt, &sink);
    t->in_llm_start = false;
    prompt_cleanup(&t->prompt);
    t->has_prompt = false;
    if (t->outcome_ready) {
        uv_timer_stop(&s->timer);
        finish(s);
    } else if (!call) {
        uv_timer_stop(&s->timer);
        t->stop = LLM_STOP_UPSTREAM_ERROR;
        t->error = API_ERR_INTERNAL;
        snprintf(t->error_message, sizeof(t->error_message), "the model request was rejected");
        finish(s);
    } else {
        t->call = call;
        if (t->cancel_requested)
            llm_cancel(call);
    }
}

static void on_policy(void *ud, int status, const char *record, size_t len)
{
    struct turn_session *s = ud;
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    t->begin_in_flight = false;
    struct sess_turn_context *ctx = t->policy_ctx;
    t->policy_ctx = NULL;
    const char *number = ctx->rec.policy_number;
    if (t->shutting_down || e->stopped) {
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
    } else if (status != PL_OK && status != PL_ENOTFOUND) {
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld: cannot read policy %s (%s)", s->sid, t->turn,
               number, pl_strerror(status));
        /* Redis is the conversation's own storage; another source is a service of its own. */
        if (!strcmp(policy_source_kind(e->opts.policy), "redis"))
            fail_unstarted(s, API_ERR_STORAGE_UNAVAILABLE, NULL);
        else
            fail_unstarted(s, API_ERR_UPSTREAM_UNAVAILABLE,
                           "your policy record cannot be read right now; please try again in a "
                           "moment");
    } else if (t->cancel_requested) {
        t->stop = t->cancel_stop;
        t->state = TURN_STREAMING;
        finish(s);
    } else {
        if (status == PL_ENOTFOUND && !s->policy_missing_logged) {
            s->policy_missing_logged = true;
            PL_LOG(PL_LOG_NOTICE, "turn",
                   "sess=%s is bound to policy %s, which has no record: answering without it",
                   s->sid, number);
        }
        char *text = status == PL_OK ? pl_strndup(record, len) : NULL;
        start_llm(s, ctx, text);
        pl_free(text);
    }
    sess_turn_context_free(ctx);
}

/* The record of the policy the session is bound to (docs/security.md "Policy records"), read
 * before the prompt is built; only the session record names it, never the conversation.
 * Takes `ctx` over. */
static void load_policy(struct turn_session *s, struct sess_turn_context *ctx)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    if (!sess_policy_number_valid(ctx->rec.policy_number)) {
        start_llm(s, ctx, NULL); /* none bound (or one no record can have) */
        sess_turn_context_free(ctx);
        return;
    }
    t->policy_ctx = ctx;
    t->begin_in_flight = true;
    int rc = policy_source_get(e->opts.policy, ctx->rec.policy_number, on_policy, s);
    if (rc != PL_OK)
        on_policy(s, rc, NULL, 0);
}

/* The question's embedding is in, or failed (turn_kb.c): on as on_begin goes. */
static void after_question_embedded(struct turn_session *s, struct sess_turn_context *ctx)
{
    struct turn *t = s->active;
    if (t->shutting_down || engine_of(s)->stopped) {
        sess_turn_context_free(ctx);
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
    } else if (t->cancel_requested) {
        sess_turn_context_free(ctx);
        t->stop = t->cancel_stop;
        t->state = TURN_STREAMING;
        finish(s);
    } else {
        load_policy(s, ctx);
    }
}

static void on_begin(void *ud, struct sess_turn_context *ctx)
{
    struct turn_session *s = ud;
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    t->begin_in_flight = false;
    int status = ctx->status;
    enum sess_begin_result result = ctx->result;
    if (status == PL_OK && result == SESS_BEGIN_LOCKED)
        t->locked = true;
    if (t->shutting_down || e->stopped) {
        sess_turn_context_free(ctx);
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
    } else if (status == PL_ENOTFOUND) {
        sess_turn_context_free(ctx);
        fail_unstarted(s, API_ERR_SESSION_GONE, NULL);
    } else if (status != PL_OK) {
        sess_turn_context_free(ctx);
        retry_begin_after_storage_error(s);
    } else if (result == SESS_BEGIN_HELD_ELSEWHERE) {
        sess_turn_context_free(ctx);
        retry_begin(s, LOCK_RETRY_MS, API_ERR_LOCKED_ELSEWHERE);
    } else if (result == SESS_BEGIN_ANSWERED) {
        end_covered(s, ctx);
        sess_turn_context_free(ctx);
    } else if (result == SESS_BEGIN_WITH_AGENT) {
        sess_turn_context_free(ctx);
        to_the_agent(s);
    } else if (t->cancel_requested) {
        /* Cancelled while it waited for its lock: it ends now, stored as cancelled. */
        sess_turn_context_free(ctx);
        t->lease_ms = now_ms(s);
        t->stop = t->cancel_stop;
        t->state = TURN_STREAMING;
        finish(s);
    } else {
        t->lease_ms = now_ms(s);
        turn_kb_embed_question(s, ctx, after_question_embedded);
    }
}

/* ---- budgets (docs/cost.md) ---- */

/* Tokens of a text as the reservation estimates them: bytes / 4, rounded up. */
static uint64_t estimate(const char *text)
{
    return text ? (strlen(text) + 3) / 4 : 0;
}

/* "N tokens" or "USD D.DD" for a refusal's message. */
static void budget_text(char *out, size_t cap, const struct turn_engine *e, bool usd)
{
    if (!usd) {
        snprintf(out, cap, "%llu tokens", (unsigned long long)e->opts.budget_tokens);
        return;
    }
    unsigned long long m = e->opts.budget_micros;
    snprintf(out, cap, "USD %llu.%06llu", m / 1000000, m % 1000000);
    size_t n = strlen(out);
    while (n > 3 && out[n - 1] == '0' && out[n - 3] != '.')
        out[--n] = '\0'; /* USD 25.50, not 25.500000 */
}

static void on_reserved(void *ud, int status, enum sess_reserve_result result, bool warn)
{
    struct turn_session *s = ud;
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    t->begin_in_flight = false;
    if (warn) {
        e->stats.budget_warnings++;
        PL_LOG(PL_LOG_WARN, "budget", "tenant %s has used %u%% of its daily budget for %s",
               t->tenant, e->opts.budget_warn_percent, t->day);
    }
    if (status != PL_OK || result != SESS_RESERVED)
        t->reservation[0] = '\0'; /* nothing held */
    if (t->shutting_down || e->stopped) {
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
    } else if (status != PL_OK) {
        PL_LOG(PL_LOG_WARN, "budget", "sess=%s turn=%ld: no budget reservation (%s)", s->sid,
               t->turn, pl_strerror(status));
        fail_unstarted(s, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else if (result != SESS_RESERVED) {
        char budget[64];
        budget_text(budget, sizeof(budget), e, result == SESS_REFUSED_USD);
        e->stats.budget_refused++;
        t->stop = LLM_STOP_UPSTREAM_ERROR;
        t->error = API_ERR_RATE_LIMITED;
        snprintf(t->error_message, sizeof(t->error_message),
                 "tenant %s has used its daily budget of %s; it resets at 00:00 UTC", t->tenant,
                 budget);
        t->retry_after_ms = ms_to_utc_midnight();
        PL_LOG(PL_LOG_NOTICE, "budget", "sess=%s turn=%ld refused: %s", s->sid, t->turn,
               t->error_message);
        t->state = TURN_STREAMING;
        finish(s); /* stored as a failed answer: the caller's message stays */
    } else if (t->cancel_requested) {
        t->stop = t->cancel_stop;
        t->state = TURN_STREAMING;
        finish(s);
    } else {
        call_llm(s);
    }
}

/* Reserve what the turn may use at most (its prompt as estimated, plus max_tokens of answer)
 * in its tenant's day, before the model is asked. */
static void reserve(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    const struct prompt *p = &t->prompt;
    struct llm_usage most = {.input_tokens = (long)estimate(p->system),
                             .output_tokens = p->max_tokens > 0 ? p->max_tokens : 0};
    for (size_t i = 0; i < p->n_messages; i++)
        most.input_tokens += (long)estimate(p->messages[i].text);
    /* Priced as if no prompt token came from the cache: the most it can cost. */
    const struct llm_price *price = llm_prices_find(e->opts.prices, e->opts.reserve_model);
    uint64_t tokens = (uint64_t)most.input_tokens + (uint64_t)most.output_tokens;
    uint64_t micros = llm_cost_micros(price, &most);
    snprintf(t->reservation, sizeof(t->reservation), "%s:%ld:%llu:%llu", s->sid, t->turn,
             (unsigned long long)tokens, (unsigned long long)micros);
    struct sess_reservation r = {
        .tenant = t->tenant,
        .day = t->day,
        .member = t->reservation,
        .expires_ms = wall_ms() + e->opts.turn_timeout_ms + RESERVATION_GRACE_MS,
        .tokens = tokens,
        .micros = micros,
        .budget_tokens = e->opts.budget_tokens,
        .budget_micros = e->opts.budget_micros,
        .warn_percent = e->opts.budget_warn_percent,
    };
    t->begin_in_flight = true;
    if (sess_reserve(e->opts.store, &r, on_reserved, s) != PL_OK)
        on_reserved(s, PL_EIO, SESS_RESERVED, false);
}

/* The answer's cost, and this instance's counters of usage. */
static void count_usage(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    const struct llm_usage *u = &t->usage;
    t->cost_micros = (long long)llm_cost_micros(llm_prices_find(e->opts.prices, t->model), u);
    e->stats.input_tokens += u->input_tokens > 0 ? (uint64_t)u->input_tokens : 0;
    e->stats.output_tokens += u->output_tokens > 0 ? (uint64_t)u->output_tokens : 0;
    e->stats.cache_read_input_tokens +=
        u->cache_read_input_tokens > 0 ? (uint64_t)u->cache_read_input_tokens : 0;
    e->stats.cache_creation_input_tokens +=
        u->cache_creation_input_tokens > 0 ? (uint64_t)u->cache_creation_input_tokens : 0;
    e->stats.cost_micros += (uint64_t)t->cost_micros;
}

/* ---- STREAMING ---- */

static void on_text(void *ud, const char *text, size_t len)
{
    struct turn_session *s = ud;
    struct turn *t = s->active;
    if (pl_buf_append(&t->answer, text, len) != PL_OK)
        return; /* past the answer cap: max_output_tokens keeps real answers far below it */
    if (t->n_deltas == t->cap_deltas) {
        t->cap_deltas = t->cap_deltas ? t->cap_deltas * 2 : 64;
        t->delta_ends = pl_realloc(t->delta_ends, t->cap_deltas * sizeof(*t->delta_ends));
    }
    long seq = (long)t->n_deltas;
    t->delta_ends[t->n_deltas++] = t->answer.len;
    turn_emit_delta(s, t->turn, seq, text, len);
}

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct turn_session *s = ud;
    struct turn *t = s->active;
    t->call = NULL;
    t->usage = o->usage;
    if (o->model)
        snprintf(t->model, sizeof(t->model), "%s", o->model);
    if (o->provider)
        snprintf(t->provider, sizeof(t->provider), "%s", o->provider);
    count_usage(s);
    const char *detail = o->error_detail ? o->error_detail : pl_strerror(o->status);
    if (o->status == PL_OK) {
        t->stop = o->stop;
    } else if (o->status == PL_ECANCELED) {
        t->stop = t->cancel_stop;
    } else if (t->n_deltas > 0) {
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld ended after %zu deltas: %s", s->sid, t->turn,
               t->n_deltas, detail);
        t->stop = o->stop;
    } else {
        PL_LOG(PL_LOG_WARN, "turn", "sess=%s turn=%ld failed before any text: %s", s->sid, t->turn,
               detail);
        t->stop = LLM_STOP_UPSTREAM_ERROR;
        t->error = o->error != API_ERR_NONE ? o->error : API_ERR_UPSTREAM_UNAVAILABLE;
        snprintf(t->error_message, sizeof(t->error_message),
                 "the assistant could not answer (%s)%s", detail,
                 api_error_retryable(t->error) ? "; please try again in a moment" : "");
        /* The provider's hint (a rate limit's retry-after, the breakers' cool-down). */
        if (o->retry_after_ms > 0)
            t->retry_after_ms =
                o->retry_after_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)o->retry_after_ms;
    }
    if (t->in_llm_start) {
        t->outcome_ready = true;
        return;
    }
    uv_timer_stop(&s->timer);
    finish(s);
}

/* ---- STORING ---- */

/* The answer (or its failure) is final: tell the error, store it, then tell turn_end. */
static void finish(struct turn_session *s)
{
    struct turn *t = s->active;
    if (t->error)
        turn_emit_error(s, t);
    /* turn_end goes out once the answer is stored (or its first store attempt failed), so a
     * listener who saw it can count on finding the answer in the history. */
    t->state = TURN_STORING;
    turn_citations_narrow(&t->citations, t->answer.data);
    store(s);
}

static void on_timer_store(uv_timer_t *timer)
{
    store(timer->data);
}

static void on_stored(void *ud, int status)
{
    struct turn_session *s = ud;
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    if (!t->end_sent)
        turn_emit_end(s, t);
    if (status != PL_OK && status != PL_ENOTFOUND && status != PL_ECANCELED && !e->stopped) {
        t->store_attempts++;
        e->stats.stores_retried++;
        if (now_ms(s) - t->taken_ms > STORE_DEADLINE_MS) {
            PL_LOG(PL_LOG_ERR, "turn", "sess=%s turn=%ld: answer could not be stored for %d s",
                   s->sid, t->turn, STORE_DEADLINE_MS / 1000);
        } else {
            uint32_t delay =
                pl_backoff_ms(t->store_attempts, STORE_RETRY_MS, STORE_RETRY_MAX_MS, 25);
            PL_LOG(PL_LOG_WARN, "turn",
                   "sess=%s turn=%ld: storing the answer failed (%s); retrying in %u ms", s->sid,
                   t->turn, pl_strerror(status), delay);
            uv_timer_start(&s->timer, on_timer_store, delay, 0);
            return;
        }
    }
    if (status == PL_OK && t->summary_due > 0 && e->opts.summary_due && !e->stopped)
        e->opts.summary_due(e->opts.summary_ud, s->sid, t->summary_due);
    if (status == PL_OK && e->opts.turn_finished && !e->stopped) {
        struct turn_end end;
        turn_end_of(t, &end);
        const struct turn_finished f = {.end = &end,
                                        .question = t->question ? t->question : "",
                                        .question_len = t->question_len,
                                        .passages = t->kb_searched ? (int)t->kb_found : -1};
        e->opts.turn_finished(e->opts.turn_finished_ud, s->sid, &f);
    }
    t->state = TURN_ENDED;
    done_with_active(s, true);
}

static void store(struct turn_session *s)
{
    struct turn_engine *e = engine_of(s);
    struct turn *t = s->active;
    if (e->stopped) {
        on_stored(s, PL_ECANCELED); /* shut down past the drain deadline */
        return;
    }
    char *citations = turn_citations_json(&t->citations);
    struct sess_answer a = {
        .turn = t->turn,
        .text = t->answer.data ? t->answer.data : "",
        .text_len = t->answer.len,
        .stop_reason = llm_stop_name(t->stop),
        .error = t->error ? api_error_code(t->error) : NULL,
        .input_tokens = t->usage.input_tokens,
        .output_tokens = t->usage.output_tokens,
        .cache_read_input_tokens = t->usage.cache_read_input_tokens,
        .cache_creation_input_tokens = t->usage.cache_creation_input_tokens,
        .cost_micros = t->cost_micros,
        .tenant = t->tenant,
        .day = t->day,
        .reservation = t->reservation,
        .model = t->model,
        .provider = t->provider,
        .citations = citations,
    };
    int rc = sess_turn_end(e->opts.store, s->sid, e->instance_id, &a, on_stored, s);
    pl_free(citations);
    if (rc != PL_OK)
        on_stored(s, rc);
}

/* ---- cancelling, shutting down ---- */

bool turn_cancel_active(struct turn_session *s, enum llm_stop stop)
{
    struct turn *t = s->active;
    if (!t || t->state == TURN_STORING || t->state == TURN_ENDED)
        return false;
    if (t->cancel_requested)
        return true;
    t->cancel_requested = true;
    t->cancel_stop = stop;
    if (t->state == TURN_STREAMING && t->call)
        llm_cancel(t->call); /* on_finish runs now and ends the turn */
    return true;
}

void turn_end_now(struct turn_session *s)
{
    struct turn *t = s->active;
    if (!t)
        return;
    if (t->state == TURN_STREAMING) {
        turn_cancel_active(s, LLM_STOP_CANCELLED);
    } else if (t->state == TURN_LOCKING) {
        if (t->begin_in_flight) {
            t->shutting_down = true; /* ended when Redis answers (or the store goes) */
            return;
        }
        sess_turn_context_free(t->begun); /* a deferred begin: its lock is released below */
        t->begun = NULL;
        fail_unstarted(s, API_ERR_SHUTTING_DOWN, NULL);
    }
}

/* ---- the engine's handles ---- */

static void renew_one(struct turn_engine *e, struct turn_session *s, uint64_t now)
{
    struct turn *t = s->active;
    if (!t || (t->state != TURN_STREAMING && t->state != TURN_STORING) || !t->locked)
        return;
    /* Only leases at least a third old: most answers end long before, and renewing every
     * running turn at once made a burst of Redis calls on every tick. Checked every third of
     * the lease, a lease is renewed before two thirds of it have passed. */
    if (now - t->lease_ms < e->opts.turn_lock_ms / 3)
        return;
    t->lease_ms = now;
    sess_turn_renew(e->opts.store, s->sid, e->instance_id, e->opts.turn_lock_ms, NULL, NULL);
}

void turn_on_lease_timer(uv_timer_t *timer)
{
    struct turn_engine *e = timer->data;
    uint64_t now = uv_now(e->opts.loop);
    for (struct turn_session *s = e->all; s; s = s->next)
        renew_one(e, s, now);
}

void turn_on_start_check(uv_check_t *check)
{
    struct turn_engine *e = check->data;
    struct turn_session *list = e->starting;
    e->starting = NULL;
    uv_check_stop(check);
    while (list) {
        struct turn_session *s = list;
        list = s->next_starting;
        s->next_starting = NULL;
        struct turn *t = s->active;
        if (t && t->begun) {
            struct sess_turn_context *ctx = t->begun;
            t->begun = NULL;
            on_begin(s, ctx);
        }
        turn_session_unref(s); /* listed */
    }
}
