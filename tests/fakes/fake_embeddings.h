/* The upstream double's embeddings mode (README.md, "Embeddings mode"): POST
 * /model/amazon.titan-embed-text-v2:0/invoke (Titan Text Embeddings V2, authenticated as the
 * Bedrock mode does) and POST /v1/embeddings (OpenAI-compatible, floats or base64), with
 * deterministic toy vectors in which paraphrases are close: a hashed bag of crudely stemmed
 * words, after a small synonym table of the sample corpus's vocabulary, normalised. Faults on
 * markers in an input: [[embed-429]], [[embed-500]], [[embed-400]], [[embed-slow:MS]]. Test code
 * only. */
#ifndef PARLEY_TESTS_FAKES_FAKE_EMBEDDINGS_H
#define PARLEY_TESTS_FAKES_FAKE_EMBEDDINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct fake_emb_reply {
    int status;
    char extra_headers[256]; /* whole "name: value\r\n" lines, or "" */
    char *body;              /* JSON (new, free()) */
    long delay_ms;           /* send it after this long (0: at once) */
    const char *behaviour;   /* for the request log: "embeddings", "embeddings:429", ... */
};

/** True for the paths this mode serves. */
bool fake_embeddings_route(const char *method, const char *path);

/** Check a request (headers lower-cased, body as received) and decide the answer. */
void fake_embeddings_handle(const char *path, json_t *headers, const char *body, size_t len,
                            struct fake_emb_reply *out);

/** The toy vector of `text` into `out` (dims floats, unit length unless the text has no word). */
void fake_embeddings_vector(const char *text, unsigned dims, float *out);

#endif
