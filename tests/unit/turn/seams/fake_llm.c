/* A fake provider: llm_start records the request and returns a call the test drives, text by
 * text, to its end; llm_cancel finishes it at once, as connectors/llm.h says. */
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "tests/unit/turn/seams/seams.h"

struct llm_call {
    struct fake_llm_call f;
};

static struct llm_call *current;
static size_t started;
static bool refuse_next;
static bool finish_inside;
static int finish_inside_status;
static int provider_storage;
struct llm_provider *fake_provider = (struct llm_provider *)&provider_storage;

static void drop(struct llm_call *c)
{
    if (!c)
        return;
    pl_free(c->f.last_question);
    pl_free(c);
}

void fake_llm_reset(void)
{
    drop(current);
    current = NULL;
    started = 0;
    refuse_next = false;
    finish_inside = false;
}

struct fake_llm_call *fake_llm_current(void)
{
    return current && current->f.live ? &current->f : NULL;
}

size_t fake_llm_started(void)
{
    return started;
}

void fake_llm_refuse_next(void)
{
    refuse_next = true;
}

void fake_llm_finish_inside_next(int status)
{
    finish_inside = true;
    finish_inside_status = status;
}

static void outcome(struct fake_llm_call *c, const struct llm_outcome *o)
{
    c->live = false;
    c->sink.on_finish(c->sink.ud, o);
}

struct llm_call *llm_start(struct llm_provider *p, const struct prompt *req,
                           const struct llm_sink *sink)
{
    (void)p;
    if (refuse_next) {
        refuse_next = false;
        return NULL;
    }
    drop(current);
    current = pl_calloc(1, sizeof(*current));
    current->f.sink = *sink;
    current->f.last_question = pl_strdup(req->messages[req->n_messages - 1].text);
    current->f.n_messages = req->n_messages;
    current->f.live = true;
    started++;
    if (finish_inside) {
        finish_inside = false;
        struct llm_outcome o = {.status = finish_inside_status,
                                .stop = LLM_STOP_UPSTREAM_ERROR,
                                .error = API_ERR_INTERNAL,
                                .error_detail = "request rejected by every provider",
                                .retry_after_ms = -1};
        outcome(&current->f, &o);
    }
    return current;
}

void llm_cancel(struct llm_call *call)
{
    struct llm_outcome o = {.status = PL_ECANCELED,
                            .stop = LLM_STOP_CANCELLED,
                            .provider = "fake",
                            .retry_after_ms = -1};
    outcome(&call->f, &o);
}

void fake_llm_text(struct fake_llm_call *c, const char *text)
{
    c->sink.on_text(c->sink.ud, text, strlen(text));
}

void fake_llm_end(struct fake_llm_call *c, enum llm_stop stop, long in, long out)
{
    struct llm_outcome o = {.status = PL_OK,
                            .stop = stop,
                            .usage = {in, out},
                            .model = "fake-model",
                            .provider = "fake",
                            .retry_after_ms = -1};
    outcome(c, &o);
}

void fake_llm_fail(struct fake_llm_call *c, int status, enum llm_stop stop, enum api_error err,
                   const char *detail)
{
    struct llm_outcome o = {.status = status,
                            .stop = stop,
                            .model = "fake-model",
                            .provider = "fake",
                            .error = err,
                            .error_detail = detail,
                            .retryable = api_error_retryable(err),
                            .retry_after_ms = -1};
    outcome(c, &o);
}
