/* The chain provider: tries its providers in order. A retryable failure before any text is
 * retried on the same provider with exponential backoff and jitter (or the upstream's
 * retry-after), then the next provider is tried, all within one first-token deadline. Once the
 * caller has seen text nothing is retried: the outcome goes up as it is. Each provider's circuit
 * breaker (llm_breaker.h) is asked before every attempt and told every outcome: an open one is
 * skipped for the next provider without waiting. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/llm_breaker.h"
#include "connectors/llm_internal.h"

struct chain_provider {
    struct llm_provider super;
    uv_loop_t *loop;
    struct llm_provider **providers;
    struct llm_breaker **breakers; /* per provider; NULL entries: none */
    size_t n;
    struct llm_retry_policy policy;
};

struct chain_call {
    struct llm_call super;
    struct chain_provider *chain;
    struct llm_sink sink;
    /* Deep copy of what providers read of the request, for retries (the citations are the
     * caller's business, not the providers'). */
    char *system;
    struct prompt_message *messages;
    size_t n_messages;
    int max_tokens;
    char *user_id;
    struct prompt_document *documents; /* the offline provider answers from them */
    size_t n_documents;
    enum prompt_purpose purpose;
    struct prompt_fold *fold; /* a summary request's input (the offline provider's too) */
    size_t index;             /* provider in use */
    unsigned attempts;        /* on that provider */
    uint64_t deadline;
    struct llm_call *inner; /* NULL while waiting to retry */
    bool probe;             /* the attempt in flight is its breaker's half-open probe */
    uv_timer_t timer;
    bool any_text;
};

static void attempt(struct chain_call *c);

static struct prompt_fold *fold_copy(const struct prompt_fold *f)
{
    if (!f)
        return NULL;
    struct prompt_fold *c = pl_calloc(1, sizeof(*c));
    struct prompt_history_item *items = pl_calloc(f->n_items ? f->n_items : 1, sizeof(*items));
    for (size_t i = 0; i < f->n_items; i++) {
        items[i] = f->items[i];
        items[i].text = pl_strndup(f->items[i].text ? f->items[i].text : "",
                                   f->items[i].text ? f->items[i].text_len : 0);
    }
    *c = (struct prompt_fold){pl_strdup(f->previous), f->previous_through, items, f->n_items,
                              f->through};
    return c;
}

static void fold_free(struct prompt_fold *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_items; i++)
        pl_free((char *)f->items[i].text);
    pl_free((void *)f->items);
    pl_free((char *)f->previous);
    pl_free(f);
}

static void on_closed(uv_handle_t *h)
{
    struct chain_call *c = h->data;
    pl_free(c->system);
    for (size_t i = 0; i < c->n_messages; i++) {
        pl_free((char *)c->messages[i].role);
        pl_free((char *)c->messages[i].text);
    }
    pl_free(c->messages);
    for (size_t i = 0; i < c->n_documents; i++) {
        pl_free((char *)c->documents[i].id);
        pl_free((char *)c->documents[i].source);
        pl_free((char *)c->documents[i].title);
        pl_free((char *)c->documents[i].doc_title);
        pl_free((char *)c->documents[i].text);
    }
    pl_free(c->documents);
    fold_free(c->fold);
    pl_free(c->user_id);
    pl_free(c);
}

static void deliver(struct chain_call *c, const struct llm_outcome *o)
{
    uv_timer_stop(&c->timer);
    c->sink.on_finish(c->sink.ud, o);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}

static void on_text(void *ud, const char *text, size_t len)
{
    struct chain_call *c = ud;
    c->any_text = true;
    c->sink.on_text(c->sink.ud, text, len);
}

/* The upstream's retry-after wins; otherwise 500 ms doubling per attempt, capped, shortened by
 * up to a quarter so that retries from many turns spread out. */
static uint32_t backoff_ms(const struct chain_call *c, const struct llm_outcome *o)
{
    if (o->retry_after_ms >= 0)
        return o->retry_after_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)o->retry_after_ms;
    return pl_backoff_ms(c->attempts, 500, c->chain->policy.backoff_max_ms, 25);
}

static void on_retry_timer(uv_timer_t *t)
{
    attempt(t->data);
}

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct chain_call *c = ud;
    c->inner = NULL;
    struct llm_breaker *b = c->chain->breakers[c->index];
    if (b)
        llm_breaker_record(b, c->probe, o);
    c->probe = false;
    if (o->status == PL_OK || o->status == PL_ECANCELED || c->any_text || o->any_text) {
        deliver(c, o);
        return;
    }
    uint64_t now = uv_now(c->chain->loop);
    uint32_t wait = backoff_ms(c, o);
    bool in_time = now + wait < c->deadline;
    bool breaker_open = b && llm_breaker_remaining_ms(b) > 0; /* no retry would be let through */
    if (o->retryable && !breaker_open && c->attempts <= c->chain->policy.max_retries && in_time) {
        PL_LOG(PL_LOG_NOTICE, "llm", "%s failed (%s); retry %u in %u ms",
               c->chain->providers[c->index]->name, o->error_detail ? o->error_detail : "",
               c->attempts, wait);
        uv_timer_start(&c->timer, on_retry_timer, wait, 0);
        return;
    }
    if (c->index + 1 < c->chain->n && now < c->deadline) {
        PL_LOG(PL_LOG_WARN, "llm", "%s failed (%s); falling back to %s",
               c->chain->providers[c->index]->name, o->error_detail ? o->error_detail : "",
               c->chain->providers[c->index + 1]->name);
        c->index++;
        c->attempts = 0;
        attempt(c);
        return;
    }
    deliver(c, o);
}

/* Move c->index past providers whose breaker is open. False (and the call delivered as
 * upstream_unavailable) when none is left. */
static bool admitted(struct chain_call *c)
{
    uint64_t wait = UINT64_MAX;
    for (;;) {
        struct llm_breaker *b = c->chain->breakers[c->index];
        enum breaker_verdict v = b ? llm_breaker_admit(b) : BREAKER_PASS;
        if (v != BREAKER_SKIP) {
            c->probe = v == BREAKER_PROBE;
            return true;
        }
        uint64_t left = llm_breaker_remaining_ms(b);
        wait = left < wait ? left : wait;
        if (c->index + 1 >= c->chain->n)
            break;
        PL_LOG(PL_LOG_DEBUG, "llm", "%s skipped: its circuit breaker is open",
               c->chain->providers[c->index]->name);
        c->index++;
        c->attempts = 0;
    }
    char detail[160];
    snprintf(detail, sizeof(detail),
             "circuit breaker open for every provider (next probe in %llu ms)",
             (unsigned long long)wait);
    struct llm_outcome o = {.status = PL_EUPSTREAM,
                            .stop = LLM_STOP_UPSTREAM_ERROR,
                            .provider = c->chain->providers[c->index]->kind,
                            .model = c->chain->providers[c->index]->model,
                            .error = API_ERR_UPSTREAM_UNAVAILABLE,
                            .error_detail = detail,
                            .retryable = true,
                            .retry_after_ms = (long)wait};
    deliver(c, &o);
    return false;
}

static void attempt(struct chain_call *c)
{
    if (!admitted(c))
        return;
    struct prompt req = {
        .system = c->system,
        .messages = c->messages,
        .n_messages = c->n_messages,
        .max_tokens = c->max_tokens,
        .user_id = c->user_id,
        .documents = c->documents,
        .n_documents = c->n_documents,
        .purpose = c->purpose,
        .fold = c->fold,
    };
    struct llm_sink inner = {.on_text = on_text, .on_finish = on_finish, .ud = c};
    c->attempts++;
    c->inner = llm_start(c->chain->providers[c->index], &req, &inner);
    if (!c->inner) {
        if (c->probe) /* nothing was asked of the upstream: the next call probes */
            llm_breaker_record(c->chain->breakers[c->index], true,
                               &(struct llm_outcome){.status = PL_ECANCELED});
        struct llm_outcome o = {.status = PL_EINVAL,
                                .error = API_ERR_INTERNAL,
                                .error_detail = "request rejected by the provider",
                                .retry_after_ms = -1};
        deliver(c, &o);
    }
}

static struct llm_call *chain_start(struct llm_provider *p, const struct prompt *req,
                                    const struct llm_sink *sink)
{
    struct chain_provider *cp = (struct chain_provider *)p;
    struct chain_call *c = pl_calloc(1, sizeof(*c));
    c->super.provider = p;
    c->chain = cp;
    c->sink = *sink;
    c->system = pl_strdup(req->system);
    c->messages = pl_calloc(req->n_messages, sizeof(*c->messages));
    for (size_t i = 0; i < req->n_messages; i++) {
        c->messages[i].role = pl_strdup(req->messages[i].role);
        c->messages[i].text = pl_strdup(req->messages[i].text);
    }
    c->n_messages = req->n_messages;
    if (req->n_documents)
        c->documents = pl_calloc(req->n_documents, sizeof(*c->documents));
    for (size_t i = 0; i < req->n_documents; i++) {
        const struct prompt_document *d = &req->documents[i];
        c->documents[i] =
            (struct prompt_document){pl_strdup(d->id), pl_strdup(d->source), pl_strdup(d->title),
                                     pl_strdup(d->doc_title), pl_strdup(d->text)};
    }
    c->n_documents = req->n_documents;
    c->purpose = req->purpose;
    c->fold = fold_copy(req->fold);
    c->max_tokens = req->max_tokens;
    c->user_id = pl_strdup(req->user_id);
    c->deadline = uv_now(cp->loop) + cp->policy.first_token_deadline_ms;
    uv_timer_init(cp->loop, &c->timer);
    c->timer.data = c;
    attempt(c);
    return &c->super;
}

static void chain_cancel(struct llm_call *call)
{
    struct chain_call *c = (struct chain_call *)call;
    if (c->inner) {
        llm_cancel(c->inner); /* its on_finish delivers the cancellation */
        return;
    }
    struct llm_outcome o = {.status = PL_ECANCELED,
                            .stop = LLM_STOP_CANCELLED,
                            .provider = c->chain->providers[c->index]->kind,
                            .retry_after_ms = -1};
    deliver(c, &o);
}

static void chain_destroy(struct llm_provider *p)
{
    struct chain_provider *cp = (struct chain_provider *)p;
    for (size_t i = 0; i < cp->n; i++)
        llm_provider_destroy(cp->providers[i]);
    pl_free(cp->providers);
    pl_free(cp->breakers);
    llm__provider_cleanup(p);
    pl_free(cp);
}

static void chain_metrics(const struct llm_provider *p, struct pl_buf *out)
{
    const struct chain_provider *cp = (const struct chain_provider *)p;
    for (size_t i = 0; i < cp->n; i++)
        llm_provider_metrics(cp->providers[i], out);
}

static const struct llm_provider_ops chain_ops = {
    .kind = "chain",
    .start = chain_start,
    .cancel = chain_cancel,
    .destroy = chain_destroy,
    .write_metrics = chain_metrics,
};

struct llm_provider *llm_chain_create(uv_loop_t *loop, struct llm_provider **providers, size_t n,
                                      const struct llm_retry_policy *policy)
{
    struct chain_provider *cp = pl_calloc(1, sizeof(*cp));
    llm__provider_init(&cp->super, &chain_ops, providers[0]->kind, providers[0]->model);
    cp->loop = loop;
    cp->providers = pl_calloc(n, sizeof(*providers));
    memcpy(cp->providers, providers, n * sizeof(*providers));
    cp->breakers = pl_calloc(n, sizeof(*cp->breakers));
    for (size_t i = 0; i < n; i++)
        cp->breakers[i] =
            llm_breakers_get(policy->breakers, providers[i]->kind, providers[i]->model);
    cp->n = n;
    cp->policy = *policy;
    if (!cp->policy.backoff_max_ms)
        cp->policy.backoff_max_ms = 8000;
    return &cp->super;
}
