/* Embeddings models on the loop (docs/knowledge.md "Dense retrieval"): Bedrock Titan Text
 * Embeddings V2 (POST /model/{id}/invoke, SigV4 service "bedrock" with the server's AWS
 * credentials, or a Bedrock API key as a bearer token; one text per call) and an
 * OpenAI-compatible POST {base}/embeddings (an optional bearer key; a batch per call). Bodies and
 * parsers are embeddings_wire.h's; transfers go through http_client.h. Each call has a deadline
 * of its own (a loop timer, which also covers a wait for credentials). Loop thread only. */
#ifndef PARLEY_CONNECTORS_EMBEDDINGS_H
#define PARLEY_CONNECTORS_EMBEDDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct http_client;
struct aws_credentials;
struct emb_client;
struct emb_call;

#define EMB_TITAN_V2_MODEL     "amazon.titan-embed-text-v2:0"
#define EMB_TITAN_DIMS_DEFAULT 512u

enum emb_provider { EMB_PROVIDER_BEDROCK, EMB_PROVIDER_OPENAI };

struct emb_config {
    enum emb_provider provider;
    const char *model; /* Bedrock model id, or the OpenAI-compatible server's model name */
    /* Bedrock: 256, 512 or 1024. OpenAI-compatible: sent as "dimensions" when not 0; 0 takes
     * the model's own length (learnt from the first reply). */
    unsigned dims;
    /* OpenAI-compatible: the base URL ("http://host:port/v1"), "/embeddings" appended.
     * Bedrock: the endpoint ("https://host[:port]"); NULL: bedrock-runtime.REGION.amazonaws.com */
    const char *base_url;
    const char *api_key;           /* OpenAI bearer key, or a Bedrock API key; NULL: none/SigV4 */
    const char *region;            /* Bedrock */
    struct aws_credentials *creds; /* Bedrock without an API key (borrowed) */
};

/* What one call gives. `vecs` (n x dims floats, in the order of the texts) and `detail` are
 * borrowed for the callback. */
struct emb_result {
    int status;      /* PL_OK, PL_ETIMEDOUT, PL_EUPSTREAM (an error status), PL_EPROTO (a reply
                        that could not be read), PL_EIO (the connection), PL_EAUTH (no
                        credentials) */
    bool retryable;  /* a later attempt may work (timeouts, 429, 5xx, connection failures) */
    int http_status; /* 0 when no answer came */
    size_t n;
    unsigned dims;
    const float *vecs;
    const char *detail; /* one line for logs when status is not PL_OK */
};

typedef void (*emb_cb)(void *ud, const struct emb_result *r);

/** A client for `cfg` (strings copied). PL_OK, or PL_EINVAL with a message in `err`. */
int emb_client_create(uv_loop_t *loop, struct http_client *http, const struct emb_config *cfg,
                      struct emb_client **out, char *err, size_t errlen);
/** Calls in flight are cancelled (their callbacks do not run). Accepts NULL. */
void emb_client_destroy(struct emb_client *c);

/** Texts one call takes at most: 1 for Bedrock, EMB_BATCH_MAX for OpenAI-compatible. */
size_t emb_client_batch_max(const struct emb_client *c);
/** "bedrock:MODEL" or "openai:MODEL": what stored vectors are keyed by (with the dims). */
const char *emb_client_id(const struct emb_client *c);
/** The vector length: the configured one, or for an OpenAI-compatible model without one the
 *  length of its last reply (0 before any). */
unsigned emb_client_dims(const struct emb_client *c);

/** Embed `n` texts (1..emb_client_batch_max, each non-empty; copied) within `timeout_ms`.
 *  `cb` runs exactly once, from the loop and never inside this call, unless emb_cancel is
 *  called first. NULL (and no callback) for invalid arguments. */
struct emb_call *emb_start(struct emb_client *c, const char *const *texts, const size_t *lens,
                           size_t n, uint32_t timeout_ms, emb_cb cb, void *ud);
/** Abandon a call: its callback never runs. */
void emb_cancel(struct emb_call *call);

#endif
