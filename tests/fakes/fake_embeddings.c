/* The embeddings mode of the upstream double; see fake_embeddings.h. */
#include "tests/fakes/fake_embeddings.h"
#include "tests/fakes/fake_bedrock.h"
#include "tests/fakes/fake_openai.h"
#include "tests/fakes/markers.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"

#define TITAN_PATH     "/model/amazon.titan-embed-text-v2:0/invoke"
#define TITAN_PATH_ENC "/model/amazon.titan-embed-text-v2%3A0/invoke"
#define OPENAI_DIMS    256 /* without "dimensions" */

bool fake_embeddings_route(const char *method, const char *path)
{
    return !strcmp(method, "POST") && (!strcmp(path, "/v1/embeddings") ||
                                       !strcmp(path, TITAN_PATH) || !strcmp(path, TITAN_PATH_ENC));
}

/* ---- the toy vectors ---- */

/* Words that say nothing of a topic. */
static const char *const stop_words[] = {
    "a",     "an",   "and",   "are",  "as",  "at",   "be",    "by",    "can",  "do",   "does",
    "for",   "from", "get",   "got",  "has", "have", "how",   "i",     "if",   "in",   "is",
    "it",    "its",  "me",    "my",   "of",  "on",   "or",    "our",   "so",   "that", "the",
    "their", "them", "there", "this", "to",  "was",  "we",    "what",  "when", "will", "with",
    "you",   "your", "s",     "t",    "am",  "will", "would", "which", "who",  "any",  "all"};

/* Canonical word of each group: paraphrases of the sample corpus's topics meet. */
static const char *const synonyms[][2] = {
    {"windshield", "windscreen"},
    {"screen", "windscreen"},
    {"glass", "windscreen"},
    {"chip", "windscreen"},
    {"vehicle", "car"},
    {"auto", "car"},
    {"motor", "car"},
    {"automobile", "car"},
    {"nick", "theft"},
    {"stolen", "theft"},
    {"steal", "theft"},
    {"thief", "theft"},
    {"burglary", "theft"},
    {"burgle", "theft"},
    {"luggage", "baggage"},
    {"suitcase", "baggage"},
    {"bag", "baggage"},
    {"case", "baggage"},
    {"doctor", "medical"},
    {"hospital", "medical"},
    {"ill", "medical"},
    {"illness", "medical"},
    {"sick", "medical"},
    {"treatment", "medical"},
    {"overseas", "abroad"},
    {"foreign", "abroad"},
    {"europe", "abroad"},
    {"holiday", "travel"},
    {"trip", "travel"},
    {"journey", "travel"},
    {"flood", "storm"},
    {"rain", "storm"},
    {"wind", "storm"},
    {"leak", "water"},
    {"pipe", "water"},
    {"burst", "water"},
    {"ski", "winter"},
    {"snowboard", "winter"},
    {"slope", "winter"},
    {"house", "home"},
    {"flat", "home"},
    {"property", "home"},
    {"dwelling", "home"},
    {"refund", "cancel"},
    {"cooling", "cancel"},
    {"hire", "courtesy"},
    {"replacement", "courtesy"},
    {"loan", "courtesy"},
    {"price", "premium"},
    {"cost", "premium"},
    {"pay", "payment"},
    {"instalment", "payment"},
    {"debit", "payment"},
    {"complain", "complaint"},
    {"ombudsman", "complaint"},
    {"unhappy", "complaint"},
    {"empty", "unoccupied"},
    {"vacant", "unoccupied"},
    {"lawyer", "legal"},
    {"solicitor", "legal"},
    {"jewellery", "possession"},
    {"phone", "possession"},
    {"laptop", "possession"},
    {"ncd", "bonus"},
    {"discount", "bonus"},
};

/* Crude stemming: enough for plurals and a few verb endings. */
static void stem(char *w)
{
    size_t n = strlen(w);
    if (n > 4 && !strcmp(w + n - 3, "ies")) {
        memcpy(w + n - 3, "y", 2);
        return;
    }
    if (n > 5 && !strcmp(w + n - 3, "ing"))
        w[n - 3] = '\0';
    else if (n > 4 && !strcmp(w + n - 2, "ed"))
        w[n - 2] = '\0';
    else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's')
        w[n - 1] = '\0';
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void add_word(char *w, unsigned dims, float *out)
{
    for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
        if (!strcmp(w, stop_words[i]))
            return;
    stem(w);
    const char *canon = w;
    for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
        if (!strcmp(w, synonyms[i][0])) {
            canon = synonyms[i][1];
            break;
        }
    uint64_t h = fnv1a(canon);
    out[h % dims] += (h >> 63) ? -1.0f : 1.0f;
}

void fake_embeddings_vector(const char *text, unsigned dims, float *out)
{
    memset(out, 0, dims * sizeof(float));
    char w[64];
    size_t n = 0;
    for (const char *p = text;; p++) {
        if (*p && isalnum((unsigned char)*p)) {
            if (n < sizeof(w) - 1)
                w[n++] = (char)tolower((unsigned char)*p);
            continue;
        }
        if (n) {
            w[n] = '\0';
            add_word(w, dims, out);
            n = 0;
        }
        if (!*p)
            break;
    }
    double norm = 0;
    for (unsigned i = 0; i < dims; i++)
        norm += (double)out[i] * out[i];
    if (norm > 0)
        for (unsigned i = 0; i < dims; i++)
            out[i] = (float)(out[i] / sqrt(norm));
}

/* ---- requests ---- */

static void reply(struct fake_emb_reply *out, int status, json_t *body, const char *behaviour)
{
    out->status = status;
    out->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    out->behaviour = behaviour;
}

static void bad_request(struct fake_emb_reply *out, bool titan, const char *msg)
{
    fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: embeddings: %s\n", msg);
    if (titan) {
        snprintf(out->extra_headers, sizeof(out->extra_headers),
                 "x-amzn-ErrorType: ValidationException\r\n");
        reply(out, 400, json_pack("{s:s}", "message", msg), "embeddings:rejected");
    } else {
        reply(out, 400,
              json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", msg, "type",
                        "invalid_request_error", "param", "code"),
              "embeddings:rejected");
    }
}

/* A fault named by a marker in any input: true when it was answered. */
static bool fault(struct fake_emb_reply *out, bool titan, const char *text)
{
    long slow = fake_marker_num(text, "embed-slow", -1);
    if (slow >= 0) {
        out->delay_ms = slow;
        out->behaviour = "embeddings:slow";
        return false; /* answered normally, late */
    }
    if (fake_has_marker(text, "embed-429")) {
        snprintf(out->extra_headers, sizeof(out->extra_headers), "%s",
                 titan ? "x-amzn-ErrorType: ThrottlingException\r\n" : "retry-after: 1\r\n");
        reply(out, 429,
              titan ? json_pack("{s:s}", "message", "Too many requests, please wait.")
                    : json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message",
                                "Rate limit reached for requests", "type", "requests", "param",
                                "code", "rate_limit_exceeded"),
              "embeddings:429");
        return true;
    }
    if (fake_has_marker(text, "embed-500")) {
        reply(out, 500,
              titan ? json_pack("{s:s}", "message", "Internal server error")
                    : json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message",
                                "The server had an error", "type", "server_error", "param", "code"),
              "embeddings:500");
        return true;
    }
    if (fake_has_marker(text, "embed-400")) {
        bad_request(out, titan, "Input is too long for requested model.");
        return true;
    }
    return false;
}

static json_t *float_array(const float *v, unsigned dims)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < dims; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* Standard padded base64 of little-endian float32s, as openai-node reads them. */
static json_t *base64_floats(const float *v, unsigned dims)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = (size_t)dims * 4;
    unsigned char *b = pl_malloc(n);
    for (unsigned i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    struct pl_buf s;
    pl_buf_init(&s, SIZE_MAX);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        char q[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63], i + 1 < n ? tab[x >> 6 & 63] : '=',
                     i + 2 < n ? tab[x & 63] : '='};
        pl_buf_append(&s, q, 4);
    }
    json_t *j = json_stringn(s.data, s.len);
    pl_buf_cleanup(&s);
    pl_free(b);
    return j;
}

static void titan(json_t *headers, const char *path, const char *body, size_t len, json_t *j,
                  struct fake_emb_reply *out)
{
    const char *type = NULL;
    char msg[300];
    if (!fake_bedrock_authorised(path, headers, body, len, &type, msg, sizeof(msg))) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: embeddings auth: %s: %s\n", type,
                msg);
        snprintf(out->extra_headers, sizeof(out->extra_headers), "x-amzn-ErrorType: %s\r\n", type);
        reply(out, 403, json_pack("{s:s}", "message", msg), "embeddings:rejected");
        return;
    }
    json_t *text = json_object_get(j, "inputText");
    json_t *dims = json_object_get(j, "dimensions");
    json_t *norm = json_object_get(j, "normalize");
    if (!json_is_object(j) || !json_is_string(text) || json_string_length(text) == 0) {
        bad_request(out, true, "inputText: a non-empty string required");
        return;
    }
    if (json_string_length(text) > 50000) {
        bad_request(out, true, "inputText: at most 50,000 characters");
        return;
    }
    json_int_t d = dims ? json_integer_value(dims) : 1024;
    if (dims && (!json_is_integer(dims) || (d != 256 && d != 512 && d != 1024))) {
        bad_request(out, true, "dimensions: 256, 512 or 1024");
        return;
    }
    if (norm && !json_is_boolean(norm)) {
        bad_request(out, true, "normalize: a boolean");
        return;
    }
    const char *t = json_string_value(text);
    if (fault(out, true, t))
        return;
    float *v = pl_malloc((size_t)d * sizeof(float));
    fake_embeddings_vector(t, (unsigned)d, v);
    reply(out, 200,
          json_pack("{s:o,s:I}", "embedding", float_array(v, (unsigned)d), "inputTextTokenCount",
                    (json_int_t)(json_string_length(text) / 4 + 1)),
          out->behaviour ? out->behaviour : "embeddings");
    pl_free(v);
}

static void openai(json_t *headers, json_t *j, struct fake_emb_reply *out)
{
    const char *key = fake_openai_required_key();
    const char *auth = json_string_value(json_object_get(headers, "authorization"));
    if (key && (!auth || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, key) != 0)) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: bad or missing bearer key\n");
        reply(out, 401,
              json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", "Incorrect API key provided",
                        "type", "invalid_request_error", "param", "code", "invalid_api_key"),
              "embeddings:rejected");
        return;
    }
    json_t *model = json_object_get(j, "model");
    json_t *input = json_object_get(j, "input");
    json_t *fmt = json_object_get(j, "encoding_format");
    json_t *dims = json_object_get(j, "dimensions");
    if (!json_is_object(j) || !json_is_string(model) || json_string_length(model) == 0) {
        bad_request(out, false, "model: a non-empty string required");
        return;
    }
    json_t *list = json_is_string(input) ? json_pack("[O]", input) : json_incref(input);
    size_t n = json_array_size(list);
    bool ok = json_is_array(list) && n >= 1 && n <= 2048;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_is_string(json_array_get(list, i)) &&
             json_string_length(json_array_get(list, i)) > 0;
    const char *f = fmt ? json_string_value(fmt) : "float";
    json_int_t d = dims ? json_integer_value(dims) : OPENAI_DIMS;
    if (!ok) {
        bad_request(out, false, "input: a non-empty string or 1 to 2048 of them");
    } else if (!f || (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0)) {
        bad_request(out, false, "encoding_format: float or base64");
    } else if (dims && (!json_is_integer(dims) || d < 1 || d > 4096)) {
        bad_request(out, false, "dimensions: a positive integer");
    } else {
        bool answered = false;
        for (size_t i = 0; i < n && !answered; i++)
            answered = fault(out, false, json_string_value(json_array_get(list, i)));
        if (!answered) {
            json_t *data = json_array();
            float *v = pl_malloc((size_t)d * sizeof(float));
            long tokens = 0;
            for (size_t i = 0; i < n; i++) {
                const char *t = json_string_value(json_array_get(list, i));
                tokens += (long)strlen(t) / 4 + 1;
                fake_embeddings_vector(t, (unsigned)d, v);
                json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object", "embedding",
                                                      "index", (json_int_t)i, "embedding",
                                                      !strcmp(f, "base64")
                                                          ? base64_floats(v, (unsigned)d)
                                                          : float_array(v, (unsigned)d)));
            }
            pl_free(v);
            reply(out, 200,
                  json_pack("{s:s,s:o,s:O,s:{s:I,s:I}}", "object", "list", "data", data, "model",
                            model, "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens",
                            (json_int_t)tokens),
                  out->behaviour ? out->behaviour : "embeddings");
        }
    }
    json_decref(list);
}

void fake_embeddings_handle(const char *path, json_t *headers, const char *body, size_t len,
                            struct fake_emb_reply *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *ctype = json_string_value(json_object_get(headers, "content-type"));
    bool is_titan = strcmp(path, "/v1/embeddings") != 0;
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0)
        bad_request(out, is_titan, "content-type must be application/json");
    else if (is_titan)
        titan(headers, path, body, len, j, out);
    else
        openai(headers, j, out);
    json_decref(j);
}
