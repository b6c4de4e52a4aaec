/* Summary jobs; see summary.h. A job: read the session, build the fold (the turns after the
 * stored summary up to `through`, the newest that fit the fold budget), ask the model, store
 * the summary with the call's usage, end. Its failures are never a caller's: it only logs and
 * counts them, and the next turn that finds turns left out asks again. */
#include "bot/summary.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/map.h"
#include "connectors/llm.h"
#include "connectors/llm_prices.h"
#include "connectors/llm_providers.h"
#include "prompts/prompt_builder.h"
#include "prompts/summary_prompt.h"
#include "sessions/session_store.h"

struct summary_job {
    struct summarizer *sm;
    char sid[SESS_ID_LEN + 1];
    long through; /* asked for (0: the last answered turn), then the one folded */
    summary_done_cb cb;
    void *ud;
    struct llm_call *call;
    bool in_start;      /* inside llm_start: an outcome is recorded, handled after */
    bool outcome_ready; /* the provider finished inside llm_start */
    struct pl_buf text;
    struct llm_usage usage;
    char model[128];
    int status;
    bool asked; /* the model was asked (else the stored summary already covered it) */
    bool stale; /* stored nothing: an equal or newer summary was there */
    char detail[200];
    char tenant[SESS_TENANT_MAX + 1];
    char day[11];
    struct summary_job *prev, *next;
};

struct summarizer {
    struct summarizer_opts opts;
    struct summary_prompts *prompts;
    struct pl_map running; /* sid -> its job */
    struct summary_job *jobs;
    bool stopped;
    struct summarizer_stats stats;
};

int summarizer_create(const struct summarizer_opts *opts, struct summarizer **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct summary_prompts *prompts = NULL;
    int rc = summary_prompts_load(opts->templates_dir, &prompts, err, errlen);
    if (rc != PL_OK)
        return rc;
    struct summarizer *sm = pl_calloc(1, sizeof(*sm));
    sm->opts = *opts;
    sm->opts.templates_dir = NULL; /* read now; not kept */
    if (!sm->opts.max_jobs)
        sm->opts.max_jobs = SUMMARY_JOBS_DEFAULT;
    /* The summary route's model may take less than the chat model: its request (template,
     * previous summary, turns) must fit its window with room for the answer. */
    const char *model = opts->llm ? strchr(llm_provider_name(opts->llm), ':') : NULL;
    uint32_t window = prompt_model_context_tokens(model ? model + 1 : NULL);
    size_t room = 2 * (size_t)opts->max_tokens + SUMMARY_TEMPLATE_TOKENS;
    if (window && window > room && sm->opts.fold_budget_tokens > window - room)
        sm->opts.fold_budget_tokens = window - room;
    sm->prompts = prompts;
    pl_map_init(&sm->running);
    *out = sm;
    return PL_OK;
}

/* The job is over: log how, tell its caller, forget it. */
static void finish(struct summary_job *job, int status)
{
    struct summarizer *sm = job->sm;
    if (status == PL_OK) {
        if (job->asked && !job->stale)
            PL_LOG(PL_LOG_NOTICE, "summary",
                   "summary sess=%s through=%ld stored: %zu bytes, model %s, input_tokens=%ld "
                   "output_tokens=%ld",
                   job->sid, job->through, job->text.len, job->model[0] ? job->model : "-",
                   job->usage.input_tokens, job->usage.output_tokens);
    } else if (status == PL_ECANCELED) {
        PL_LOG(PL_LOG_INFO, "summary", "summary sess=%s cancelled", job->sid);
    } else if (status != PL_ENOTFOUND) {
        sm->stats.failed++;
        PL_LOG(PL_LOG_WARN, "summary",
               "summary sess=%s through=%ld failed: %s; a later turn asks again", job->sid,
               job->through, job->detail[0] ? job->detail : pl_strerror(status));
    }
    if (job->cb)
        job->cb(job->ud, status, status == PL_OK ? (job->text.data ? job->text.data : "") : NULL,
                status == PL_OK ? job->through : 0);
    pl_map_remove(&sm->running, job->sid);
    if (job->prev)
        job->prev->next = job->next;
    else
        sm->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    sm->stats.running--;
    pl_buf_cleanup(&job->text);
    pl_free(job);
}

static void on_stored(void *ud, int status, enum sess_summary_result result)
{
    struct summary_job *job = ud;
    if (status == PL_OK && result == SESS_SUMMARY_STALE) {
        job->stale = true;
        job->sm->stats.stale++;
        PL_LOG(PL_LOG_INFO, "summary", "summary sess=%s through=%ld not stored: a newer one is",
               job->sid, job->through);
    } else if (status == PL_OK) {
        job->sm->stats.stored++;
    }
    finish(job, status);
}

/* Leading and trailing whitespace off the answer. */
static void trim(struct pl_buf *b)
{
    size_t start = 0;
    while (start < b->len && strchr(" \t\r\n", b->data[start]))
        start++;
    size_t end = b->len;
    while (end > start && strchr(" \t\r\n", b->data[end - 1]))
        end--;
    if (b->data && start > 0)
        memmove(b->data, b->data + start, end - start);
    b->len = end - start;
    if (b->data)
        b->data[b->len] = '\0';
}

/* Count the call's usage on this instance; then, when it gave a summary, store it (with the
 * usage, to the session and its tenant). True when the store was sent: on_stored ends the job. */
static bool count_and_store(struct summary_job *job)
{
    struct summarizer *sm = job->sm;
    const struct llm_usage *u = &job->usage;
    uint64_t cost = llm_cost_micros(llm_prices_find(sm->opts.prices, job->model), u);
    sm->stats.input_tokens += u->input_tokens > 0 ? (uint64_t)u->input_tokens : 0;
    sm->stats.output_tokens += u->output_tokens > 0 ? (uint64_t)u->output_tokens : 0;
    sm->stats.cache_read_input_tokens +=
        u->cache_read_input_tokens > 0 ? (uint64_t)u->cache_read_input_tokens : 0;
    sm->stats.cache_creation_input_tokens +=
        u->cache_creation_input_tokens > 0 ? (uint64_t)u->cache_creation_input_tokens : 0;
    sm->stats.cost_micros += cost;
    if (sm->stopped)
        job->status = PL_ECANCELED;
    if (job->status != PL_OK)
        return false;
    trim(&job->text);
    if (job->text.len == 0) {
        job->status = PL_EUPSTREAM;
        snprintf(job->detail, sizeof(job->detail), "the model's summary was empty");
        return false;
    }
    const struct sess_summary sum = {
        .through = job->through,
        .text = job->text.data,
        .text_len = job->text.len,
        .model = job->model,
        .input_tokens = u->input_tokens,
        .output_tokens = u->output_tokens,
        .cache_read_input_tokens = u->cache_read_input_tokens,
        .cache_creation_input_tokens = u->cache_creation_input_tokens,
        .cost_micros = (long long)cost,
        .tenant = job->tenant,
        .day = job->day,
    };
    job->status = sess_summary_store(sm->opts.store, job->sid, &sum, on_stored, job);
    return job->status == PL_OK;
}

/* The model answered (or not): count it, then store it or end the job. */
static void after_call(struct summary_job *job)
{
    if (!count_and_store(job))
        finish(job, job->status);
}

static void on_text(void *ud, const char *text, size_t len)
{
    struct summary_job *job = ud;
    pl_buf_append(&job->text, text, len); /* past SUMMARY_TEXT_MAX: dropped */
}

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct summary_job *job = ud;
    job->call = NULL;
    job->usage = o->usage;
    if (o->model)
        snprintf(job->model, sizeof(job->model), "%s", o->model);
    job->status = o->status;
    if (o->status != PL_OK)
        snprintf(job->detail, sizeof(job->detail), "%s",
                 o->error_detail ? o->error_detail : pl_strerror(o->status));
    if (job->in_start) {
        job->outcome_ready = true;
        return;
    }
    after_call(job);
}

/* The items to fold: of turns after `after` up to `through`, the newest whose texts fit
 * `budget` estimated tokens (at least one). Returns the index of the first; *n_out how many. */
static size_t fold_range(const struct prompt_history_item *items, size_t n, long after,
                         long through, size_t budget, size_t *n_out)
{
    size_t end = 0, start = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].turn > after && items[i].turn <= through)
            end = i + 1;
    size_t used = 0;
    start = end;
    while (start > 0 && items[start - 1].turn > after) {
        size_t cost = (items[start - 1].text_len + 3) / 4;
        if (start < end && used + cost > budget)
            break;
        used += cost;
        start--;
    }
    *n_out = end - start;
    return start;
}

static void utc_day(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static void on_read(void *ud, struct sess_turn_context *ctx)
{
    struct summary_job *job = ud;
    struct summarizer *sm = job->sm;
    if (sm->stopped || ctx->status != PL_OK) {
        int status = sm->stopped ? PL_ECANCELED : ctx->status;
        sess_turn_context_free(ctx);
        finish(job, status);
        return;
    }
    long after = ctx->rec.summary_through;
    if (job->through <= 0)
        job->through = ctx->rec.answered;
    if (job->through <= after) {
        /* Already covered: the stored summary is the answer. */
        pl_buf_append_str(&job->text, ctx->summary ? ctx->summary : "");
        job->through = after;
        sess_turn_context_free(ctx);
        finish(job, after > 0 ? PL_OK : PL_ENOTFOUND);
        return;
    }
    struct prompt_history_item *items = pl_calloc(ctx->n ? ctx->n : 1, sizeof(*items));
    size_t n = turn_history_items(ctx, items), n_fold = 0;
    size_t first = fold_range(items, n, after, job->through, sm->opts.fold_budget_tokens, &n_fold);
    if (n_fold == 0) {
        pl_free(items);
        sess_turn_context_free(ctx);
        finish(job, PL_ENOTFOUND);
        return;
    }
    if (items[first].turn > after + 1)
        PL_LOG(PL_LOG_WARN, "summary",
               "summary sess=%s: turns %ld to %ld are no longer readable or do not fit one "
               "request: left out of the summary",
               job->sid, after + 1, items[first].turn - 1);
    snprintf(job->tenant, sizeof(job->tenant), "%s", ctx->rec.tenant);
    utc_day(job->day);
    const struct prompt_fold fold = {.previous = ctx->summary,
                                     .previous_through = after,
                                     .items = items + first,
                                     .n_items = n_fold,
                                     .through = job->through};
    struct prompt p;
    int rc = summary_prompt_build(sm->prompts, &fold, (int)sm->opts.max_tokens, job->sid, &p);
    if (rc != PL_OK) {
        pl_free(items);
        sess_turn_context_free(ctx);
        snprintf(job->detail, sizeof(job->detail), "the summary prompt could not be built (%s)",
                 pl_strerror(rc));
        finish(job, rc);
        return;
    }
    sm->stats.started++;
    job->asked = true;
    struct llm_sink sink = {.on_text = on_text, .on_finish = on_finish, .ud = job};
    job->in_start = true;
    job->call = llm_start(sm->opts.llm, &p, &sink);
    job->in_start = false;
    summary_prompt_cleanup(&p); /* providers copied what they keep */
    pl_free(items);
    sess_turn_context_free(ctx);
    if (job->outcome_ready) {
        after_call(job);
    } else if (!job->call) {
        snprintf(job->detail, sizeof(job->detail), "the model request was rejected");
        finish(job, PL_EINVAL);
    }
}

static int start(struct summarizer *sm, const char *sid, long through, summary_done_cb cb, void *ud)
{
    struct summary_job *job = pl_calloc(1, sizeof(*job));
    job->sm = sm;
    snprintf(job->sid, sizeof(job->sid), "%s", sid);
    job->through = through;
    job->cb = cb;
    job->ud = ud;
    pl_buf_init(&job->text, SUMMARY_TEXT_MAX);
    /* The newest entries are read: two a turn (question, answer), twice over, so that the turns
     * after the stored summary up to `through` are among them, plus slack for agents' words. */
    size_t entries = through > 0 && (size_t)through < SUMMARY_READ_MAX / 4
                         ? (size_t)through * 4 + 64
                         : SUMMARY_READ_MAX;
    int rc = sess_summary_read(sm->opts.store, sid, entries, on_read, job);
    if (rc != PL_OK) {
        pl_buf_cleanup(&job->text);
        pl_free(job);
        return rc;
    }
    pl_map_put(&sm->running, job->sid, job);
    job->next = sm->jobs;
    if (sm->jobs)
        sm->jobs->prev = job;
    sm->jobs = job;
    sm->stats.running++;
    return PL_OK;
}

bool summarizer_request(struct summarizer *sm, const char *sid, long through)
{
    if (!sm || sm->stopped || through < 1 || !sess_id_valid(sid) || pl_map_get(&sm->running, sid))
        return false;
    if (sm->stats.running >= sm->opts.max_jobs) {
        sm->stats.skipped++;
        return false;
    }
    return start(sm, sid, through, NULL, NULL) == PL_OK;
}

void summarizer_on_due(void *ud, const char *sid, long through)
{
    summarizer_request(ud, sid, through);
}

/* A run refused because a job of the session runs: told from the loop, never from inside
 * summarizer_run. */
struct busy_reply {
    uv_idle_t idle;
    summary_done_cb cb;
    void *ud;
};

static void on_busy_closed(uv_handle_t *h)
{
    pl_free(h->data);
}

static void on_busy_idle(uv_idle_t *idle)
{
    struct busy_reply *b = idle->data;
    uv_idle_stop(idle);
    b->cb(b->ud, PL_EBUSY, NULL, 0);
    uv_close((uv_handle_t *)idle, on_busy_closed);
}

int summarizer_run(struct summarizer *sm, const char *sid, long through, summary_done_cb cb,
                   void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    if (sm->stopped)
        return PL_ECANCELED;
    if (pl_map_get(&sm->running, sid)) {
        struct busy_reply *b = pl_calloc(1, sizeof(*b));
        b->cb = cb;
        b->ud = ud;
        uv_idle_init(sm->opts.loop, &b->idle);
        b->idle.data = b;
        uv_idle_start(&b->idle, on_busy_idle);
        return PL_OK;
    }
    return start(sm, sid, through, cb, ud);
}

void summarizer_stats(const struct summarizer *sm, struct summarizer_stats *out)
{
    *out = sm->stats;
}

void summarizer_metrics(const struct summarizer *sm, struct pl_buf *out)
{
    if (!sm)
        return;
    const struct summarizer_stats *s = &sm->stats;
    pl_buf_printf(
        out,
        "# HELP parley_summaries_total Conversation summary jobs, by outcome.\n"
        "# TYPE parley_summaries_total counter\n"
        "parley_summaries_total{result=\"stored\"} %llu\n"
        "parley_summaries_total{result=\"stale\"} %llu\n"
        "parley_summaries_total{result=\"failed\"} %llu\n"
        "parley_summaries_total{result=\"skipped\"} %llu\n"
        "# HELP parley_summary_tokens_total Model tokens of summary requests, by kind "
        "(not in parley_llm_tokens_total).\n"
        "# TYPE parley_summary_tokens_total counter\n"
        "parley_summary_tokens_total{kind=\"input\"} %llu\n"
        "parley_summary_tokens_total{kind=\"output\"} %llu\n"
        "parley_summary_tokens_total{kind=\"cache_read\"} %llu\n"
        "parley_summary_tokens_total{kind=\"cache_write\"} %llu\n"
        "# HELP parley_summary_cost_usd_micros_total Their cost, USD micro-dollars.\n"
        "# TYPE parley_summary_cost_usd_micros_total counter\n"
        "parley_summary_cost_usd_micros_total %llu\n",
        (unsigned long long)s->stored, (unsigned long long)s->stale, (unsigned long long)s->failed,
        (unsigned long long)s->skipped, (unsigned long long)s->input_tokens,
        (unsigned long long)s->output_tokens, (unsigned long long)s->cache_read_input_tokens,
        (unsigned long long)s->cache_creation_input_tokens, (unsigned long long)s->cost_micros);
}

void summarizer_stop(struct summarizer *sm)
{
    if (!sm || sm->stopped)
        return;
    sm->stopped = true;
    for (struct summary_job *job = sm->jobs, *next; job; job = next) {
        next = job->next;
        if (job->call)
            llm_cancel(job->call); /* on_finish ends the job now */
    }
}

void summarizer_free(struct summarizer *sm)
{
    if (!sm)
        return;
    while (sm->jobs) {
        struct summary_job *job = sm->jobs;
        sm->jobs = job->next;
        pl_buf_cleanup(&job->text);
        pl_free(job);
    }
    pl_map_cleanup(&sm->running);
    summary_prompts_free(sm->prompts);
    pl_free(sm);
}

/* ---- the SIGHUP reload's part ---- */

static int reload_load(const char *dir, void **out, char *err, size_t errlen)
{
    struct summary_prompts *p = NULL;
    int rc = summary_prompts_load(dir, &p, err, errlen);
    *out = p;
    return rc;
}

static void reload_swap(void *ud, void *obj)
{
    struct summarizer *sm = ud;
    summary_prompts_free(sm->prompts);
    sm->prompts = obj;
}

static void reload_discard(void *obj)
{
    summary_prompts_free(obj);
}

struct prompt_reload_part summarizer_reload_part(struct summarizer *sm)
{
    return (struct prompt_reload_part){.name = "summary",
                                       .load = reload_load,
                                       .swap = reload_swap,
                                       .discard = reload_discard,
                                       .ud = sm};
}
