/* The JSON body of a streaming Messages API request (docs/upstream-anthropic.md, Request), written
 * straight into a buffer: a turn's prompt carries up to the whole recent history, and building it
 * as a tree of JSON values first cost more CPU than the rest of the turn's set-up. */
#ifndef PARLEY_CONNECTORS_ANTHROPIC_REQUEST_H
#define PARLEY_CONNECTORS_ANTHROPIC_REQUEST_H

#include <stdbool.h>

#include "common/buf.h"
#include "prompts/prompt.h"

/* How the body is written: what differs between the Anthropic API's body and Bedrock's
 * Anthropic bodies (docs/bedrock.md, "The three APIs"), and prompt caching. */
struct anthropic_request_opts {
    const char *model;        /* NULL: left out (InvokeModel has the model in its path) */
    const char *body_version; /* an "anthropic_version" member, first; NULL: none */
    bool stream;              /* "stream":true (InvokeModel streams by its endpoint instead) */
    bool metadata;            /* metadata.user_id, when the prompt has one */
    /* Mark the stable prefix (the system prompt) cacheable: `system` becomes one text block
     * with "cache_control":{"type":"ephemeral"} (docs/upstream-anthropic.md, Prompt caching). */
    bool prompt_cache;
};

/** Append the body for `model` and `req` to `out`: {"model","max_tokens","stream":true,
 *  "system" (if any),"metadata":{"user_id"} (if any),"messages":[{"role","content"},...]}.
 *  Strings must be valid UTF-8 (callers validate at intake). PL_ETOOBIG past out's maximum. */
int anthropic_request_body(struct pl_buf *out, const char *model, const struct prompt *req);

/** The body as `opts` says, in anthropic_request_body's order: {"anthropic_version"?,"model"?,
 *  "max_tokens","stream"?,"system"?,"metadata"?,"messages"}. */
int anthropic_request_body_opts(struct pl_buf *out, const struct anthropic_request_opts *opts,
                                const struct prompt *req);

#endif
