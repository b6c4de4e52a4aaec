/* Dispatch of the provider interface, shared helpers, and provider creation by kind. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_internal.h"
#include "connectors/llm_providers.h"

void llm__provider_init(struct llm_provider *p, const struct llm_provider_ops *ops,
                        const char *kind, const char *model)
{
    p->ops = ops;
    p->kind = pl_strdup(kind);
    p->model = pl_strdup(model);
    size_t n = strlen(kind) + strlen(model) + 2;
    p->name = pl_malloc(n);
    snprintf(p->name, n, "%s:%s", kind, model);
}

void llm__provider_cleanup(struct llm_provider *p)
{
    pl_free(p->name);
    pl_free(p->kind);
    pl_free(p->model);
}

long llm__estimate_tokens(const struct prompt *req)
{
    size_t bytes = req->system ? strlen(req->system) : 0;
    for (size_t i = 0; i < req->n_messages; i++)
        bytes += strlen(req->messages[i].text);
    return (long)((bytes + 3) / 4);
}

const char *llm_default_model(const char *kind)
{
    if (strcmp(kind, "anthropic") == 0)
        return "claude-sonnet-4-5";
    if (strcmp(kind, "bedrock") == 0)
        return "us.anthropic.claude-sonnet-4-5-20250929-v1:0"; /* a US inference profile */
    if (strcmp(kind, "local") == 0)
        return "parley-offline";
    /* openai: none; each server names its own models, so --model is required */
    return NULL;
}

int llm_provider_create(const struct llm_env *env, const struct llm_provider_config *cfg,
                        struct llm_provider **out, char *err, size_t errlen)
{
    struct llm_provider *p = NULL;
    if (strcmp(cfg->kind, "anthropic") == 0) {
        p = llm__anthropic_create(env, cfg, err, errlen);
    } else if (strcmp(cfg->kind, "bedrock") == 0) {
        p = llm__bedrock_create(env, cfg, err, errlen);
    } else if (strcmp(cfg->kind, "openai") == 0) {
        p = llm__openai_create(env, cfg, err, errlen);
    } else if (strcmp(cfg->kind, "local") == 0) {
        p = llm__local_create(env, cfg);
    } else {
        snprintf(
            err, errlen,
            "unknown provider \"%s\" (this build supports anthropic, bedrock, openai and local)",
            cfg->kind);
    }
    if (!p)
        return PL_EINVAL;
    *out = p;
    return PL_OK;
}

struct llm_call *llm_start(struct llm_provider *p, const struct prompt *req,
                           const struct llm_sink *sink)
{
    if (!req || req->n_messages == 0 || !sink || !sink->on_finish)
        return NULL;
    return p->ops->start(p, req, sink);
}

void llm_cancel(struct llm_call *call)
{
    call->provider->ops->cancel(call);
}

void llm_provider_destroy(struct llm_provider *p)
{
    if (p)
        p->ops->destroy(p);
}

void llm_provider_metrics(const struct llm_provider *p, struct pl_buf *out)
{
    if (p->ops->write_metrics)
        p->ops->write_metrics(p, out);
}

const char *llm_provider_name(const struct llm_provider *p)
{
    return p->name;
}
