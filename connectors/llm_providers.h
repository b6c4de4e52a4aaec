/* Creating providers from configuration: anthropic, bedrock, openai (OpenAI-compatible servers),
 * local (offline default), and the chain that retries and falls back across them before the first
 * token, with circuit breakers (llm_breaker.h). Loop thread only. */
#ifndef PARLEY_CONNECTORS_LLM_PROVIDERS_H
#define PARLEY_CONNECTORS_LLM_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"
#include "connectors/http_client.h"
#include "connectors/llm.h"

/* Shared services a provider may use; borrowed, must outlive the providers. */
struct llm_env {
    uv_loop_t *loop;
    struct http_client *http;
};

struct aws_credentials;

struct llm_provider_config {
    const char *kind;  /* "anthropic", "bedrock", "openai" or "local" */
    const char *model; /* NULL: the provider's default */
    /* anthropic */
    const char *api_key;
    const char *base_url;    /* NULL: https://api.anthropic.com */
    const char *api_version; /* NULL: 2023-06-01 */
    uint32_t connect_timeout_ms;
    uint32_t idle_timeout_ms;  /* no bytes for this long ends the call (PL_ETIMEDOUT) */
    uint32_t total_timeout_ms; /* whole-answer deadline */
    bool prompt_cache;         /* mark the system prompt cacheable (--prompt-cache) */
    /* local */
    uint32_t pace_ms; /* delay between streamed words */
    /* bedrock (docs/bedrock.md) */
    const char *bedrock_api;       /* "converse" (NULL), "invoke" or "messages" */
    const char *bedrock_endpoint;  /* NULL: https://bedrock-runtime.REGION.amazonaws.com */
    const char *region;            /* required */
    const char *bedrock_guardrail; /* "ID:VERSION", or NULL */
    const char *bedrock_api_key;   /* a Bedrock API key sent as a bearer token instead of SigV4 */
    struct aws_credentials *aws_credentials; /* borrowed, must outlive the provider; SigV4 */
    bool bedrock_prompt_caching; /* mark the system prompt cacheable (cachePoint, cache_control) */
    /* openai: any OpenAI-compatible server; model required */
    const char *openai_base_url; /* such as http://127.0.0.1:8000/v1 */
    const char *openai_api_key;  /* NULL: no Authorization header */
};

/** Default model per provider kind (NULL for an unknown kind). */
const char *llm_default_model(const char *kind);

/** New provider, or PL_EINVAL with `err` (unknown kind, missing key). */
int llm_provider_create(const struct llm_env *env, const struct llm_provider_config *cfg,
                        struct llm_provider **out, char *err, size_t errlen);

struct llm_breakers;

struct llm_retry_policy {
    unsigned max_retries;             /* per provider, for retryable failures before any text */
    uint32_t first_token_deadline_ms; /* give up on retries/fallbacks after this long */
    uint32_t backoff_max_ms;          /* cap on one wait */
    /* circuit breakers per provider and model (connectors/llm_breaker.h), borrowed and shared
     * by every chain; NULL: none */
    struct llm_breakers *breakers;
};

/** A provider that tries `providers` in order (taking ownership of them), retrying each one on
 *  retryable failures with backoff and jitter, never after text was delivered. A provider whose
 *  circuit breaker is open is skipped (the next one is tried at once); when every one is, the
 *  call fails at once with upstream_unavailable and retry_after_ms the shortest cool-down
 *  left. */
struct llm_provider *llm_chain_create(uv_loop_t *loop, struct llm_provider **providers, size_t n,
                                      const struct llm_retry_policy *policy);

/** Append this provider's Prometheus lines (parley_llm_* families: breaker state, guardrail
 *  interventions, ...) to `out`. A chain writes each of its providers'; a provider with nothing
 *  to say writes nothing. */
void llm_provider_metrics(const struct llm_provider *p, struct pl_buf *out);

/** Accepts NULL. No call may be in flight. */
void llm_provider_destroy(struct llm_provider *p);
/** "kind:model", borrowed. For a chain, the first provider's. */
const char *llm_provider_name(const struct llm_provider *p);

#endif
