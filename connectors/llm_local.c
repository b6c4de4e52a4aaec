/* The offline default provider: no network, a deterministic answer (local_reply.h: an
 * extractive summary for a summary request, the prompt's knowledge passages quoted when it has
 * some, else a canned reply) streamed word
 * by word on a loop timer at a human-readable pace, so the whole product works without
 * credentials and says plainly that no model is configured. */
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_internal.h"
#include "connectors/llm_providers.h"
#include "connectors/local_reply.h"

struct local_provider {
    struct llm_provider super;
    uv_loop_t *loop;
    uint32_t pace_ms;
};

struct local_call {
    struct llm_call super;
    uv_timer_t timer;
    struct llm_sink sink;
    char *text;
    size_t len;
    size_t offset;
    long chunks;
    long input_tokens;
};

static void on_timer_closed(uv_handle_t *h)
{
    struct local_call *c = h->data;
    pl_free(c->text);
    pl_free(c);
}

static void finish(struct local_call *c, int status, enum llm_stop stop)
{
    uv_timer_stop(&c->timer);
    struct llm_outcome o = {
        .status = status,
        .stop = stop,
        .usage = {.input_tokens = c->input_tokens, .output_tokens = c->chunks},
        .model = c->super.provider->model,
        .provider = c->super.provider->kind,
        .any_text = c->chunks > 0,
        .retry_after_ms = -1,
    };
    c->sink.on_finish(c->sink.ud, &o);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
    struct local_call *c = t->data;
    if (c->offset >= c->len) {
        finish(c, PL_OK, LLM_STOP_END_TURN);
        return;
    }
    size_t n = local_reply_next_chunk(c->text, c->len, c->offset);
    if (n == 0)
        n = c->len - c->offset;
    const char *chunk = c->text + c->offset;
    c->offset += n;
    c->chunks++;
    c->sink.on_text(c->sink.ud, chunk, n);
}

static struct llm_call *local_start(struct llm_provider *p, const struct prompt *req,
                                    const struct llm_sink *sink)
{
    struct local_provider *lp = (struct local_provider *)p;
    struct local_call *c = pl_calloc(1, sizeof(*c));
    c->super.provider = p;
    c->sink = *sink;
    /* A summary request: an extractive summary of its turns. Knowledge passages in the prompt:
     * quote them (a grounded, cited answer); else the canned reply. */
    if (req->purpose == PROMPT_PURPOSE_SUMMARY && req->fold)
        c->text = local_reply_summary(req->fold);
    else if (req->n_documents)
        c->text = local_reply_grounded(req->documents, req->n_documents);
    else
        c->text = local_reply_text(req->messages[req->n_messages - 1].text, NULL);
    c->len = strlen(c->text);
    c->input_tokens = llm__estimate_tokens(req);
    uv_timer_init(lp->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_tick, lp->pace_ms, lp->pace_ms ? lp->pace_ms : 1);
    return &c->super;
}

static void local_cancel(struct llm_call *call)
{
    finish((struct local_call *)call, PL_ECANCELED, LLM_STOP_CANCELLED);
}

static void local_destroy(struct llm_provider *p)
{
    llm__provider_cleanup(p);
    pl_free(p);
}

static const struct llm_provider_ops local_ops = {
    .kind = "local",
    .start = local_start,
    .cancel = local_cancel,
    .destroy = local_destroy,
};

struct llm_provider *llm__local_create(const struct llm_env *env,
                                       const struct llm_provider_config *cfg)
{
    struct local_provider *lp = pl_calloc(1, sizeof(*lp));
    llm__provider_init(&lp->super, &local_ops, "local",
                       cfg->model ? cfg->model : llm_default_model("local"));
    lp->loop = env->loop;
    lp->pace_ms = cfg->pace_ms;
    return &lp->super;
}
