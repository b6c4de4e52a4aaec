/* The JSON body of a streaming chat completions request to an OpenAI-compatible server (OpenAI,
 * vLLM, llama.cpp's server, Ollama's /v1; docs/configuration.md "Model providers"), written
 * straight into a buffer like anthropic_request.h. */
#ifndef PARLEY_CONNECTORS_OPENAI_REQUEST_H
#define PARLEY_CONNECTORS_OPENAI_REQUEST_H

#include "common/buf.h"
#include "prompts/prompt.h"

/** Append the body for `model` and `req` to `out`: {"model","messages":[{"role":"system",
 *  "content"} (if any system prompt), then each message as {"role","content"}],"stream":true,
 *  "stream_options":{"include_usage":true},"max_tokens"}. The caller's id is not sent (these
 *  servers log it, and it adds nothing to the answer). Strings must be valid UTF-8 (callers
 *  validate at intake). PL_ETOOBIG past out's maximum. */
int openai_request_body(struct pl_buf *out, const char *model, const struct prompt *req);

#endif
