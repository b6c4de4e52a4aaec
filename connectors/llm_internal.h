/* What every provider implements, and the base structs they embed (as `super`, first member).
 * Private to connectors/: the rest of Parley sees only llm.h and llm_providers.h. */
#ifndef PARLEY_CONNECTORS_LLM_INTERNAL_H
#define PARLEY_CONNECTORS_LLM_INTERNAL_H

#include "connectors/llm.h"
#include "connectors/llm_providers.h"

struct llm_provider_ops {
    const char *kind;
    struct llm_call *(*start)(struct llm_provider *p, const struct prompt *req,
                              const struct llm_sink *sink);
    void (*cancel)(struct llm_call *call);
    void (*destroy)(struct llm_provider *p);
    /* Optional: append Prometheus lines (llm_provider_metrics). */
    void (*write_metrics)(const struct llm_provider *p, struct pl_buf *out);
};

struct llm_provider {
    const struct llm_provider_ops *ops;
    char *name;  /* "anthropic:claude-..." for logs */
    char *kind;  /* "anthropic" */
    char *model; /* model id sent upstream */
};

struct llm_call {
    struct llm_provider *provider;
};

/** Fill the base fields (copies the strings). */
void llm__provider_init(struct llm_provider *p, const struct llm_provider_ops *ops,
                        const char *kind, const char *model);
void llm__provider_cleanup(struct llm_provider *p);

/** Estimate of a request's input tokens (bytes / 4), for providers that report none. */
long llm__estimate_tokens(const struct prompt *req);

/* Constructors of the concrete providers (llm_provider_create picks by kind). */
struct llm_provider *llm__anthropic_create(const struct llm_env *env,
                                           const struct llm_provider_config *cfg, char *err,
                                           size_t errlen);
/* connectors/llm_bedrock.c: NULL with `err` for a bad API name, guardrail or endpoint, or no
 * region or credentials. */
struct llm_provider *llm__bedrock_create(const struct llm_env *env,
                                         const struct llm_provider_config *cfg, char *err,
                                         size_t errlen);
struct llm_provider *llm__openai_create(const struct llm_env *env,
                                        const struct llm_provider_config *cfg, char *err,
                                        size_t errlen);
struct llm_provider *llm__local_create(const struct llm_env *env,
                                       const struct llm_provider_config *cfg);

#endif
