/* The bytes of the two embeddings APIs (PROTOCOLS.md 6G), I/O-free: request bodies, reply
 * parsers and the classification of a non-200 answer. Bedrock Titan Text Embeddings V2 takes
 * one text per call ({"inputText","dimensions","normalize":true} -> {"embedding":[...]}); an
 * OpenAI-compatible POST /embeddings takes a batch ({"model","input":[...],"encoding_format"})
 * and answers `data` items that carry their `index`, each embedding a JSON array of numbers or
 * (encoding_format base64) the base64 of little-endian float32s. */
#ifndef PARLEY_CONNECTORS_EMBEDDINGS_WIRE_H
#define PARLEY_CONNECTORS_EMBEDDINGS_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define EMB_DIMS_MAX  8192u  /* largest vector accepted from a server */
#define EMB_BATCH_MAX 64u    /* texts of one OpenAI-compatible request */
#define EMB_TEXT_MAX  50000u /* bytes of one text (Titan's limit in characters) */

/** Append Titan's request body for the `len` bytes of `text` (UTF-8) with `dims` (256, 512 or
 *  1024) to `out`. PL_EINVAL for an empty text or other dims, PL_ETOOBIG if `out` fills. */
int emb_titan_request(struct pl_buf *out, const char *text, size_t len, unsigned dims);

/** Read Titan's reply body into `vec` (room for `dims` floats): `embedding` (or, when absent,
 *  `embeddingsByType.float`) must be an array of exactly `dims` finite numbers. PL_EPROTO
 *  otherwise. */
int emb_titan_parse(const char *body, size_t len, unsigned dims, float *vec);

/** Append an OpenAI-compatible request body: `model`, `n` (1..EMB_BATCH_MAX) non-empty texts
 *  as the `input` array, "encoding_format":"float", and "dimensions" when `dims` is not 0. */
int emb_openai_request(struct pl_buf *out, const char *model, const char *const *texts,
                       const size_t *lens, size_t n, unsigned dims);

/** Read an OpenAI-compatible reply for `n` inputs: `data` must hold exactly one item per index
 *  0..n-1 (in any order), each embedding an array of numbers or a base64 string of
 *  little-endian float32s, all of one length: `*dims` when it is not 0 on entry, else learnt
 *  here (at most EMB_DIMS_MAX). On PL_OK `*vecs` is a new array (pl_free) of n x *dims floats
 *  in input order. PL_EPROTO otherwise (nothing allocated). */
int emb_openai_parse(const char *body, size_t len, size_t n, unsigned *dims, float **vecs);

/* A non-200 answer, as the caller reports and handles it. */
struct emb_http_error {
    bool retryable;   /* 408, 429 and 5xx: asking again later may work; other 4xx: final */
    char detail[200]; /* one line for logs: the status and the service's message */
};

/** Classify a non-200 answer of `status` with its body (either API's error shape, or any). */
void emb_classify_http_error(int status, const char *body, size_t len, struct emb_http_error *e);

#endif
