/* Building the model providers from configuration: the primary provider (--provider, with auto
 * resolved as docs/configuration.md "Notes" says), then each --fallback entry, wrapped in the
 * retrying chain of connectors/llm_providers.h. */
#include "bot/llm_setup.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/config.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials.h"
#include "connectors/llm_providers.h"

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

/* The Bedrock part of a provider's configuration: the credentials source (created once, kept on
 * srv for shutdown; not needed with a Bedrock API key), the region (--aws-region or AWS_REGION,
 * then AWS_DEFAULT_REGION, then the profile's), the API, endpoint and guardrail (checked by the
 * provider). */
static int make_bedrock_config(struct bot_server *srv, struct llm_provider_config *pc, char *err,
                               size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    bool has_key = cfg->bedrock_api_key && *cfg->bedrock_api_key;
    if (!has_key && !srv->aws_creds) {
        struct aws_credentials_options o = {.loop = srv->loop, .http = srv->http};
        char why[256] = "";
        if (aws_credentials_create(&o, &srv->aws_creds, why, sizeof(why)) != PL_OK) {
            snprintf(err, errlen, "the bedrock provider needs AWS credentials: %s", why);
            return PL_EINVAL;
        }
    }
    const char *region = cfg->aws_region;
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if ((!region || !*region) && srv->aws_creds)
        region = aws_credentials_profile_region(srv->aws_creds);
    if (!region || !*region) {
        snprintf(err, errlen,
                 "the bedrock provider needs a region: set --aws-region (or AWS_REGION, "
                 "AWS_DEFAULT_REGION, or region in the AWS profile)");
        return PL_EINVAL;
    }
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
    };
    if (strcmp(kind, "bedrock") == 0 && make_bedrock_config(srv, &pc, err, errlen) != PL_OK)
        return PL_EINVAL;
    return llm_provider_create(env, &pc, out, err, errlen);
}

/* The primary provider, then each --fallback entry, wrapped in a retrying chain. */
int llm_setup_build(struct bot_server *srv, char *err, size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    struct llm_env env = {.loop = srv->loop, .http = srv->http};
    struct llm_provider *list[8];
    size_t n = 0;
    int rc = make_provider(srv, &env, pick_provider(cfg), cfg->model, &list[n], err, errlen);
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
        rc = make_provider(srv, &env, item, colon ? colon + 1 : NULL, &list[n], err, errlen);
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
    struct llm_retry_policy policy = {
        .max_retries = cfg->upstream_retries,
        .first_token_deadline_ms = cfg->first_token_deadline_ms,
        .backoff_max_ms = 8000,
    };
    srv->llm = llm_chain_create(srv->loop, list, n, &policy);
    return PL_OK;
}
