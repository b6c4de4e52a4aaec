/* The JSON body of a streaming Messages API request (docs/upstream-anthropic.md, Request), written
 * straight into a buffer: a turn's prompt carries up to the whole recent history, and building it
 * as a tree of JSON values first cost more CPU than the rest of the turn's set-up. */
#ifndef PARLEY_CONNECTORS_ANTHROPIC_REQUEST_H
#define PARLEY_CONNECTORS_ANTHROPIC_REQUEST_H

#include <stdbool.h>

#include "common/buf.h"
#include "prompts/prompt.h"

/* How the body is written. Zero-initialised: the plain body of anthropic_request_body. Fields
 * are only ever added, so a caller that sets some by name keeps compiling. */
struct anthropic_request_opts {
    /* Mark the stable prefix (the system prompt) cacheable: `system` becomes one text block
     * with "cache_control":{"type":"ephemeral"} (docs/upstream-anthropic.md, Prompt caching). */
    bool prompt_cache;
};

/** Append the body for `model` and `req` to `out`: {"model","max_tokens","stream":true,
 *  "system" (if any),"metadata":{"user_id"} (if any),"messages":[{"role","content"},...]}.
 *  Strings must be valid UTF-8 (callers validate at intake). PL_ETOOBIG past out's maximum. */
int anthropic_request_body(struct pl_buf *out, const char *model, const struct prompt *req);

/** anthropic_request_body written as `opts` (NULL: all off) says. */
int anthropic_request_body_opts(struct pl_buf *out, const char *model, const struct prompt *req,
                                const struct anthropic_request_opts *opts);

#endif
