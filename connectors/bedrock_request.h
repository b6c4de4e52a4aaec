/* What Parley sends to Amazon Bedrock Runtime, I/O-free (docs/bedrock.md): the request body and
 * the path of each of the three streaming APIs, from a prompt (prompts/prompt.h), and the checks
 * of the operator's --bedrock-api and --bedrock-guardrail values.
 *   converse  POST /model/{id}/converse-stream               Converse JSON, event-stream reply
 *   invoke    POST /model/{id}/invoke-with-response-stream   Anthropic body without model and
 *                                                            stream, event-stream reply of chunks
 *   messages  POST /anthropic/v1/messages                    Anthropic body with model and
 *                                                            stream, SSE reply
 * Bedrock's Anthropic bodies carry "anthropic_version":"bedrock-2023-05-31" (PROTOCOLS.md 2.2
 * and AWS's Messages API page: on bedrock-runtime the version goes in the body) and no metadata
 * (whether Bedrock accepts it is not documented). */
#ifndef PARLEY_CONNECTORS_BEDROCK_REQUEST_H
#define PARLEY_CONNECTORS_BEDROCK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "prompts/prompt.h"

#define BEDROCK_ANTHROPIC_VERSION "bedrock-2023-05-31"

enum bedrock_api { BEDROCK_API_CONVERSE, BEDROCK_API_INVOKE, BEDROCK_API_MESSAGES };

/** "converse", "invoke" or "messages" to the enum; PL_EINVAL for anything else. */
int bedrock_api_parse(const char *s, enum bedrock_api *out);
const char *bedrock_api_name(enum bedrock_api api);

/* A guardrail as --bedrock-guardrail gives it, "ID:VERSION" (PROTOCOLS.md 6B). */
struct bedrock_guardrail {
    char id[512];     /* [a-z0-9]+ or a guardrail ARN */
    char version[16]; /* [1-9][0-9]{0,7} or DRAFT */
};

/** Parse "ID:VERSION", split at the last ':' (an ARN has its own). PL_OK, or PL_EINVAL with a
 *  message for the operator in `err`. */
int bedrock_guardrail_parse(const char *s, struct bedrock_guardrail *out, char *err, size_t errlen);

struct bedrock_request_opts {
    const char *model; /* the model id, inference-profile id or ARN */
    /* Converse: a cachePoint block after the system text, so Bedrock caches the prompt's
     * stable prefix (models without prompt caching refuse it: turn it off for them). */
    bool prompt_caching;
    const struct bedrock_guardrail *guardrail; /* Converse guardrailConfig; NULL: none */
};

/** Converse body: {"messages":[{"role","content":[{"text"}]},...],"system":[{"text"},
 *  {"cachePoint":{"type":"default"}}?] (when the prompt has a system text),
 *  "inferenceConfig":{"maxTokens"},"guardrailConfig":{"guardrailIdentifier","guardrailVersion",
 *  "trace":"disabled","streamProcessingMode":"sync"}?}. PL_ETOOBIG past out's maximum. */
int bedrock_converse_body(struct pl_buf *out, const struct prompt *req,
                          const struct bedrock_request_opts *opts);

/** The body of `api` (invoke and messages through anthropic_request.h). */
int bedrock_request_body(struct pl_buf *out, enum bedrock_api api, const struct prompt *req,
                         const struct bedrock_request_opts *opts);

/** The path of `api` for `model` as it goes on the request line, the model id URI-encoded
 *  (':' as %3A, '/' of an ARN as %2F) as AWS's SDKs send a URI label. */
int bedrock_request_path(struct pl_buf *out, enum bedrock_api api, const char *model);

#endif
