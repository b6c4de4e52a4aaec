/* Building the model providers from configuration: the primary provider (--provider, with auto
 * resolved as docs/configuration.md "Notes" says), then each --fallback entry, wrapped in the
 * retrying chain of connectors/llm_providers.h; the same for each --routes entry
 * (connectors/llm_routes.h); and the circuit breakers they share (connectors/llm_breaker.h). */
#include "bot/llm_setup.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/aws_setup.h"
#include "bot/config.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/llm_breaker.h"
#include "connectors/llm_providers.h"
#include "connectors/llm_routes.h"

/* Failures of a provider further apart than this do not add up towards opening its breaker. */
#define BREAKER_WINDOW_MS 60000

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

/* Which sign of AWS credentials the environment shows, or NULL: keys, a named profile, a
 * container endpoint, a Bedrock API key. Instance metadata and a default profile in ~/.aws are
 * not looked for (that takes the network or the disk): --provider bedrock uses them. */
static const char *aws_credentials_sign(const struct bot_config *cfg)
{
    if (env_set("AWS_ACCESS_KEY_ID") && env_set("AWS_SECRET_ACCESS_KEY"))
        return "AWS_ACCESS_KEY_ID";
    if (env_set("AWS_PROFILE"))
        return "AWS_PROFILE";
    if (env_set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
        return "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
    if (env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    if (cfg->bedrock_api_key && *cfg->bedrock_api_key)
        return "AWS_BEARER_TOKEN_BEDROCK";
    return NULL;
}

/* Resolve --provider auto as docs/configuration.md ("Notes") says. */
static const char *pick_provider(const struct bot_config *cfg)
{
    if (strcmp(cfg->provider, "auto") != 0)
        return cfg->provider;
    if (cfg->anthropic_api_key && *cfg->anthropic_api_key)
        return "anthropic";
    const char *sign = aws_credentials_sign(cfg);
    if (sign) {
        PL_LOG(PL_LOG_NOTICE, "llm", "--provider auto: %s is set, using bedrock", sign);
        return "bedrock";
    }
    return "local";
}

/* ---- bedrock (docs/bedrock.md) ---- */

/* Prompt caching by Converse cache point: on for the model families Bedrock documents it for
 * (Claude, Nova); others refuse the block. */
static bool model_caches(const char *model)
{
    return strstr(model, "anthropic.claude") || strstr(model, "amazon.nova");
}

/* The Bedrock part of a provider's configuration: the server's credentials source (not needed
 * with a Bedrock API key) and region (bot/aws_setup.h), the API, endpoint and guardrail (checked by
 * the provider). */
static int make_bedrock_config(struct bot_server *srv, struct llm_provider_config *pc, char *err,
                               size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    bool has_key = cfg->bedrock_api_key && *cfg->bedrock_api_key;
    if (!has_key && aws_setup_credentials(srv, "the bedrock provider", err, errlen) != PL_OK)
        return PL_EINVAL;
    const char *region;
    if (aws_setup_region(srv, "the bedrock provider", &region, err, errlen) != PL_OK)
        return PL_EINVAL;
    const char *model = pc->model ? pc->model : llm_default_model("bedrock");
    pc->bedrock_api = cfg->bedrock_api;
    pc->bedrock_endpoint = cfg->bedrock_endpoint;
    pc->region = region;
    pc->bedrock_guardrail = cfg->bedrock_guardrail;
    pc->bedrock_api_key = has_key ? cfg->bedrock_api_key : NULL;
    pc->aws_credentials = has_key ? NULL : srv->aws_creds;
    pc->bedrock_prompt_caching = cfg->prompt_cache && model_caches(model);
    PL_LOG(PL_LOG_NOTICE, "llm", "bedrock: model %s, region %s, %s API, %s%s%s", model, region,
           cfg->bedrock_api ? cfg->bedrock_api : "converse",
           has_key ? "Bedrock API key" : "credentials from ",
           has_key ? "" : aws_credentials_source_name(srv->aws_creds),
           cfg->bedrock_guardrail ? ", guardrail on" : "");
    return PL_OK;
}

static int make_provider(struct bot_server *srv, const struct llm_env *env, const char *kind,
                         const char *model, struct llm_provider **out, char *err, size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    struct llm_provider_config pc = {
        .kind = kind,
        .model = model,
        .api_key = cfg->anthropic_api_key,
        .base_url = cfg->anthropic_base_url,
        .api_version = cfg->anthropic_version,
        .connect_timeout_ms = cfg->upstream_connect_timeout_ms,
        .idle_timeout_ms = cfg->upstream_idle_timeout_ms,
        .total_timeout_ms = cfg->turn_timeout_ms,
        .pace_ms = cfg->local_pace_ms,
        .prompt_cache = cfg->prompt_cache,
        .openai_base_url = cfg->openai_base_url,
        .openai_api_key = cfg->openai_api_key,
    };
    if (strcmp(kind, "bedrock") == 0 && make_bedrock_config(srv, &pc, err, errlen) != PL_OK)
        return PL_EINVAL;
    return llm_provider_create(env, &pc, out, err, errlen);
}

/* A retrying chain of `kind`:`model` (NULL: the provider's default) and then each --fallback
 * entry, in `*out`. */
static int build_chain(struct bot_server *srv, const struct llm_env *env, const char *kind,
                       const char *model, const struct llm_retry_policy *policy,
                       struct llm_provider **out, char *err, size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    struct llm_provider *list[8];
    size_t n = 0;
    int rc = make_provider(srv, env, kind, model, &list[n], err, errlen);
    if (rc)
        return rc;
    n++;
    char *fallback = pl_strdup(cfg->fallback ? cfg->fallback : "");
    char *save = NULL;
    for (char *item = strtok_r(fallback, ",", &save); item && n < 8;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (colon)
            *colon = '\0';
        rc = make_provider(srv, env, item, colon ? colon + 1 : NULL, &list[n], err, errlen);
        if (rc)
            break;
        n++;
    }
    pl_free(fallback);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            llm_provider_destroy(list[i]);
        return rc;
    }
    *out = llm_chain_create(srv->loop, list, n, policy);
    return PL_OK;
}

/* The breakers, the chat chain (--provider, --model, then --fallback) and one chain per --routes
 * entry (its provider and model, then --fallback), all with the same retry policy. */
int llm_setup_build(struct bot_server *srv, char *err, size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    struct llm_env env = {.loop = srv->loop, .http = srv->http};
    struct llm_route_spec routes[LLM_ROUTES_MAX];
    size_t n_routes = 0;
    int rc = llm_routes_parse(cfg->routes, routes, LLM_ROUTES_MAX, &n_routes, err, errlen);
    if (rc)
        return rc;
    const struct llm_breaker_options bo = {.failures = cfg->breaker_failures,
                                           .cooldown_ms = cfg->breaker_cooldown_ms,
                                           .window_ms = BREAKER_WINDOW_MS};
    srv->llm_breakers = llm_breakers_create(srv->loop, &bo);
    struct llm_retry_policy policy = {
        .max_retries = cfg->upstream_retries,
        .first_token_deadline_ms = cfg->first_token_deadline_ms,
        .backoff_max_ms = 8000,
        .breakers = srv->llm_breakers,
    };
    rc = build_chain(srv, &env, pick_provider(cfg), cfg->model, &policy, &srv->llm, err, errlen);
    if (rc)
        return rc;
    srv->llm_routes = llm_routes_create(srv->llm);
    for (size_t i = 0; i < n_routes; i++) {
        struct llm_provider *chain = NULL;
        char why[400];
        rc = build_chain(srv, &env, routes[i].kind, routes[i].model[0] ? routes[i].model : NULL,
                         &policy, &chain, why, sizeof(why));
        if (rc) {
            snprintf(err, errlen, "--routes %s=%s: %s", routes[i].purpose, routes[i].kind, why);
            return rc;
        }
        llm_routes_add(srv->llm_routes, routes[i].purpose, chain);
    }
    char text[1024];
    llm_routes_describe(srv->llm_routes, text, sizeof(text));
    PL_LOG(PL_LOG_NOTICE, "llm", "model routes: %s (unrouted purposes use chat's)", text);
    return PL_OK;
}
