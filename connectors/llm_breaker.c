/* Circuit breakers per provider and model; see llm_breaker.h. */
#include "connectors/llm_breaker.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

struct llm_breaker {
    struct llm_breakers *reg;
    char *kind;
    char *model;
    char *name; /* kind:model, for the log */
    struct breaker_state st;
};

struct llm_breakers {
    uv_loop_t *loop;
    struct llm_breaker_options opts;
    struct llm_breaker **items;
    size_t n;
};

struct llm_breakers *llm_breakers_create(uv_loop_t *loop, const struct llm_breaker_options *o)
{
    struct llm_breakers *r = pl_calloc(1, sizeof(*r));
    r->loop = loop;
    r->opts = *o;
    return r;
}

void llm_breakers_destroy(struct llm_breakers *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        pl_free(r->items[i]->kind);
        pl_free(r->items[i]->model);
        pl_free(r->items[i]->name);
        pl_free(r->items[i]);
    }
    pl_free(r->items);
    pl_free(r);
}

struct llm_breaker *llm_breakers_get(struct llm_breakers *r, const char *kind, const char *model)
{
    if (!r || r->opts.failures == 0)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->items[i]->kind, kind) && !strcmp(r->items[i]->model, model))
            return r->items[i];
    }
    struct llm_breaker *b = pl_calloc(1, sizeof(*b));
    b->reg = r;
    b->kind = pl_strdup(kind);
    b->model = pl_strdup(model);
    size_t n = strlen(kind) + strlen(model) + 2;
    b->name = pl_malloc(n);
    snprintf(b->name, n, "%s:%s", kind, model);
    breaker_init(&b->st, r->opts.failures, r->opts.cooldown_ms, r->opts.window_ms);
    r->items = pl_realloc(r->items, (r->n + 1) * sizeof(*r->items));
    r->items[r->n++] = b;
    return b;
}

static void log_change(const struct llm_breaker *b, enum breaker_change ch)
{
    switch (ch) {
    case BREAKER_NO_CHANGE:
        break;
    case BREAKER_OPENED:
        PL_LOG(PL_LOG_WARN, "llm",
               "circuit breaker of %s opened after %u failures in a row: turns skip it for %u ms",
               b->name, b->st.threshold, (unsigned)b->st.cooldown_ms);
        break;
    case BREAKER_HALF_OPENED:
        PL_LOG(PL_LOG_INFO, "llm", "circuit breaker of %s half-open: one probe request goes to it",
               b->name);
        break;
    case BREAKER_CLOSED_AGAIN:
        PL_LOG(PL_LOG_NOTICE, "llm", "circuit breaker of %s closed: the probe succeeded", b->name);
        break;
    case BREAKER_REOPENED:
        PL_LOG(PL_LOG_WARN, "llm",
               "circuit breaker of %s opened again: the probe failed; turns skip it for %u ms",
               b->name, (unsigned)b->st.cooldown_ms);
        break;
    }
}

enum breaker_verdict llm_breaker_admit(struct llm_breaker *b)
{
    enum breaker_change ch;
    enum breaker_verdict v = breaker_admit(&b->st, uv_now(b->reg->loop), &ch);
    log_change(b, ch);
    return v;
}

enum breaker_result llm_breaker_result(const struct llm_outcome *o)
{
    if (o->status == PL_OK)
        return BREAKER_SUCCESS;
    if (o->status == PL_ECANCELED)
        return BREAKER_NEUTRAL;
    if (o->error == API_ERR_UPSTREAM_UNAVAILABLE || o->error == API_ERR_RATE_LIMITED ||
        o->status == PL_ETIMEDOUT || o->status == PL_EPROTO || o->status == PL_EIO ||
        o->stop == LLM_STOP_UPSTREAM_CUT || o->stop == LLM_STOP_TIMEOUT || o->http_status == 429 ||
        o->http_status >= 500)
        return BREAKER_FAILURE;
    return BREAKER_SUCCESS;
}

void llm_breaker_record(struct llm_breaker *b, bool probe, const struct llm_outcome *o)
{
    log_change(b, breaker_record(&b->st, uv_now(b->reg->loop), probe, llm_breaker_result(o)));
}

uint64_t llm_breaker_remaining_ms(const struct llm_breaker *b)
{
    return breaker_remaining_ms(&b->st, uv_now(b->reg->loop));
}

static void put_line(struct pl_buf *out, const char *family, const struct llm_breaker *b,
                     unsigned long long value)
{
    pl_buf_printf(out, "%s{provider=\"", family);
    pl_buf_append_prom_label(out, b->kind);
    pl_buf_append_str(out, "\",model=\"");
    pl_buf_append_prom_label(out, b->model);
    pl_buf_printf(out, "\"} %llu\n", value);
}

void llm_breakers_metrics(const struct llm_breakers *r, struct pl_buf *out)
{
    if (!r || r->n == 0)
        return;
    uint64_t now = uv_now(r->loop);
    pl_buf_append_str(out, "# HELP parley_llm_breaker_state Circuit breaker per provider and "
                           "model: 0 closed, 1 open, 2 half-open.\n"
                           "# TYPE parley_llm_breaker_state gauge\n");
    for (size_t i = 0; i < r->n; i++)
        put_line(out, "parley_llm_breaker_state", r->items[i],
                 (unsigned long long)breaker_mode_at(&r->items[i]->st, now));
    pl_buf_append_str(out, "# HELP parley_llm_breaker_opened_total Times a provider's circuit "
                           "breaker opened.\n"
                           "# TYPE parley_llm_breaker_opened_total counter\n");
    for (size_t i = 0; i < r->n; i++)
        put_line(out, "parley_llm_breaker_opened_total", r->items[i],
                 (unsigned long long)r->items[i]->st.opened_total);
}
