/* Building the model providers from configuration: the primary provider (--provider, with auto
 * resolved as docs/configuration.md "Notes" says), then each --fallback entry, wrapped in the
 * retrying chain of connectors/llm_providers.h; the same for each --routes entry
 * (connectors/llm_routes.h); and the circuit breakers they share (connectors/llm_breaker.h). */
#include "bot/llm_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/config.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/llm_breaker.h"
#include "connectors/llm_providers.h"
#include "connectors/llm_routes.h"

/* Failures of a provider further apart than this do not add up towards opening its breaker. */
#define BREAKER_WINDOW_MS 60000

/* Resolve --provider auto as docs/configuration.md ("Notes") says. */
static const char *pick_provider(const struct bot_config *cfg)
{
    if (strcmp(cfg->provider, "auto") != 0)
        return cfg->provider;
    if (cfg->anthropic_api_key && *cfg->anthropic_api_key)
        return "anthropic";
    if (getenv("AWS_ACCESS_KEY_ID") || getenv("AWS_BEARER_TOKEN_BEDROCK"))
        PL_LOG(PL_LOG_WARN, "llm",
               "AWS credentials found, but the bedrock provider is not in this build yet; "
               "using the offline provider (set ANTHROPIC_API_KEY for Claude)");
    return "local";
}

static int make_provider(const struct bot_server *srv, const struct llm_env *env, const char *kind,
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
        .openai_base_url = cfg->openai_base_url,
        .openai_api_key = cfg->openai_api_key,
    };
    return llm_provider_create(env, &pc, out, err, errlen);
}

/* A retrying chain of `kind`:`model` (NULL: the provider's default) and then each --fallback
 * entry, in `*out`. */
static int build_chain(const struct bot_server *srv, const struct llm_env *env, const char *kind,
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
