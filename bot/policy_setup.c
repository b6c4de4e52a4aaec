/* The policy source from the configuration; see policy_setup.h. */
#include "bot/policy_setup.h"

#include <stdio.h>
#include <string.h>

#include "bot/aws_setup.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/dynamodb_item.h"
#include "connectors/policy_source.h"
#include "sessions/policy_store.h"

/* A record found missing is kept this long at most: one created in the table shows soon. */
#define NEGATIVE_TTL_MAX_MS 5000

/* Redis: the records of sessions/policy_store.h, read on every lookup (an admin's PUT on any
 * instance shows at once, as before). The store answers every call, also when it goes. */
static int redis_get(void *impl, const char *number, policy_source_cb cb, void *ud)
{
    return sess_policy_get(impl, number, cb, ud);
}

static const struct policy_source_ops redis_ops = {.kind = "redis", .get = redis_get};

int policy_setup_build(struct bot_server *srv, char *err, size_t errlen)
{
    const struct bot_config *cfg = srv->cfg;
    const char *spec = cfg->policy_source ? cfg->policy_source : "redis";
    if (!strcmp(spec, "redis")) {
        srv->policy = policy_source_new(srv->loop, &redis_ops, srv->store, NULL, "Redis", true);
        return PL_OK;
    }
    if (strncmp(spec, "dynamodb:", 9) != 0) {
        snprintf(err, errlen,
                 "--policy-source must be redis or dynamodb:TABLE (a DynamoDB table name or "
                 "ARN), not \"%s\"",
                 spec);
        return PL_EINVAL;
    }
    /* The table's name first: a typo is the likeliest mistake, and says so before AWS does. */
    if (!ddb_table_name_valid(spec + 9)) {
        snprintf(err, errlen,
                 "--policy-source dynamodb:TABLE: \"%s\" is not a DynamoDB table name (3 to 255 "
                 "of A-Z a-z 0-9 _ . -) or table ARN",
                 spec + 9);
        return PL_EINVAL;
    }
    const char *who = "the DynamoDB policy source (--policy-source)";
    const char *region = NULL;
    if (aws_setup_credentials(srv, who, err, errlen) != PL_OK ||
        aws_setup_region(srv, who, &region, err, errlen) != PL_OK)
        return PL_EINVAL;
    uint32_t ttl = cfg->policy_cache_ttl_ms;
    /* A lookup with its retries ends well inside the turn's deadline. */
    uint32_t deadline = cfg->turn_timeout_ms / 4 < 5000 ? cfg->turn_timeout_ms / 4 : 5000;
    const struct policy_dynamodb_opts o = {
        .loop = srv->loop,
        .http = srv->http,
        .creds = srv->aws_creds,
        .region = region,
        .endpoint = cfg->dynamodb_endpoint,
        .table = spec + 9,
        .key_attribute = cfg->policy_key_attribute,
        .deadline_ms = deadline,
        .attempt_timeout_ms = deadline < 2000 ? deadline : 2000,
        .cache = {.ttl_ms = ttl,
                  .negative_ttl_ms = ttl < NEGATIVE_TTL_MAX_MS ? ttl : NEGATIVE_TTL_MAX_MS,
                  .max_entries = cfg->policy_cache_entries},
    };
    if (policy_source_dynamodb_new(&o, &srv->policy, err, errlen) != PL_OK)
        return PL_EINVAL;
    PL_LOG(PL_LOG_NOTICE, "policy",
           "policy records from DynamoDB table %s in %s (key attribute %s, kept %u ms)", spec + 9,
           region, cfg->policy_key_attribute, ttl);
    return PL_OK;
}
