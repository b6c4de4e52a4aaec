/* Bedrock request bodies and paths; see bedrock_request.h. */
#include "connectors/bedrock_request.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "connectors/anthropic_request.h"
#include "connectors/aws_sigv4.h"

static const char *const api_names[] = {"converse", "invoke", "messages"};

int bedrock_api_parse(const char *s, enum bedrock_api *out)
{
    for (size_t i = 0; s && i < sizeof(api_names) / sizeof(*api_names); i++) {
        if (strcmp(s, api_names[i]) == 0) {
            *out = (enum bedrock_api)i;
            return PL_OK;
        }
    }
    return PL_EINVAL;
}

const char *bedrock_api_name(enum bedrock_api api)
{
    return (size_t)api < sizeof(api_names) / sizeof(*api_names) ? api_names[api] : "converse";
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return false;
    return n > 0;
}

#define ID_CHARS  "abcdefghijklmnopqrstuvwxyz0123456789"
#define DIGITS    "0123456789"
#define ARN_CHARS ID_CHARS "-:/"

/* A guardrail id, or an ARN naming one: arn:PARTITION:bedrock:REGION:ACCOUNT:guardrail/ID. */
static bool guardrail_id_ok(const char *s, size_t n)
{
    if (all_of(s, n, ID_CHARS))
        return true;
    static const char slash[] = ":guardrail/";
    if (n < 4 || memcmp(s, "arn:", 4) != 0 || !all_of(s, n, ARN_CHARS))
        return false;
    const char *g = NULL;
    for (const char *p = s; (p = strstr(p, slash)) && p < s + n; p++)
        g = p;
    if (!g)
        return false;
    const char *id = g + sizeof(slash) - 1;
    if (id >= s + n)
        return false;
    return all_of(id, (size_t)(s + n - id), ID_CHARS);
}

static bool guardrail_version_ok(const char *v)
{
    size_t n = strlen(v);
    if (strcmp(v, "DRAFT") == 0)
        return true;
    return n >= 1 && n <= 8 && v[0] != '0' && all_of(v, n, DIGITS);
}

int bedrock_guardrail_parse(const char *s, struct bedrock_guardrail *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon) {
        snprintf(err, errlen, "--bedrock-guardrail must be ID:VERSION (such as abc123xyz:1)");
        return PL_EINVAL;
    }
    size_t idlen = (size_t)(colon - s);
    if (idlen >= sizeof(out->id) || !guardrail_id_ok(s, idlen)) {
        snprintf(err, errlen,
                 "--bedrock-guardrail: the id must be lower-case letters and digits, or a "
                 "guardrail ARN");
        return PL_EINVAL;
    }
    if (!guardrail_version_ok(colon + 1)) {
        snprintf(err, errlen,
                 "--bedrock-guardrail: the version must be a number from 1 to 99999999, or DRAFT");
        return PL_EINVAL;
    }
    memcpy(out->id, s, idlen);
    snprintf(out->version, sizeof(out->version), "%s", colon + 1);
    return PL_OK;
}

int bedrock_converse_body(struct pl_buf *out, const struct prompt *req,
                          const struct bedrock_request_opts *opts)
{
    int rc = pl_buf_append_str(out, "{\"messages\":[");
    for (size_t i = 0; !rc && i < req->n_messages; i++) {
        rc = pl_buf_append_str(out, i ? ",{\"role\":" : "{\"role\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->messages[i].role);
        if (!rc)
            rc = pl_buf_append_str(out, ",\"content\":[{\"text\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->messages[i].text);
        if (!rc)
            rc = pl_buf_append_str(out, "}]}");
    }
    if (!rc)
        rc = pl_buf_append_str(out, "]");
    if (!rc && req->system && *req->system) {
        rc = pl_buf_append_str(out, ",\"system\":[{\"text\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->system);
        if (!rc)
            rc = pl_buf_append_str(
                out, opts->prompt_caching ? "},{\"cachePoint\":{\"type\":\"default\"}}]" : "}]");
    }
    if (!rc)
        rc = pl_buf_printf(out, ",\"inferenceConfig\":{\"maxTokens\":%d}", req->max_tokens);
    if (!rc && opts->guardrail) {
        rc = pl_buf_append_str(out, ",\"guardrailConfig\":{\"guardrailIdentifier\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, opts->guardrail->id);
        if (!rc)
            rc = pl_buf_append_str(out, ",\"guardrailVersion\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, opts->guardrail->version);
        if (!rc)
            rc = pl_buf_append_str(out,
                                   ",\"trace\":\"disabled\",\"streamProcessingMode\":\"sync\"}");
    }
    if (!rc)
        rc = pl_buf_append_str(out, "}");
    return rc;
}

int bedrock_request_body(struct pl_buf *out, enum bedrock_api api, const struct prompt *req,
                         const struct bedrock_request_opts *opts)
{
    if (api == BEDROCK_API_CONVERSE)
        return bedrock_converse_body(out, req, opts);
    struct anthropic_request_opts ao = {
        .model = api == BEDROCK_API_MESSAGES ? opts->model : NULL,
        .body_version = BEDROCK_ANTHROPIC_VERSION,
        .stream = api == BEDROCK_API_MESSAGES,
        .metadata = false,
        .prompt_cache = opts->prompt_caching,
    };
    return anthropic_request_body_opts(out, &ao, req);
}

int bedrock_request_path(struct pl_buf *out, enum bedrock_api api, const char *model)
{
    if (api == BEDROCK_API_MESSAGES)
        return pl_buf_append_str(out, "/anthropic/v1/messages");
    int rc = pl_buf_append_str(out, "/model/");
    if (!rc)
        rc = pl_sigv4_uri_encode(out, model, strlen(model), false);
    if (!rc)
        rc = pl_buf_append_str(out, api == BEDROCK_API_CONVERSE ? "/converse-stream"
                                                                : "/invoke-with-response-stream");
    return rc;
}
