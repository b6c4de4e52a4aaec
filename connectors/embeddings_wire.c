/* Request bodies and reply parsers of the embeddings APIs; see embeddings_wire.h. */
#include "connectors/embeddings_wire.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/err.h"

int emb_titan_request(struct pl_buf *out, const char *text, size_t len, unsigned dims)
{
    if (!text || len == 0 || len > EMB_TEXT_MAX || (dims != 256 && dims != 512 && dims != 1024))
        return PL_EINVAL;
    int rc = pl_buf_append_str(out, "{\"inputText\":\"");
    if (!rc)
        rc = pl_buf_append_json_escaped(out, text, len);
    if (!rc)
        rc = pl_buf_printf(out, "\",\"dimensions\":%u,\"normalize\":true}", dims);
    return rc;
}

/* A JSON array of exactly `dims` finite numbers into `vec`. */
static bool read_array(const json_t *a, unsigned dims, float *vec)
{
    if (!json_is_array(a) || json_array_size(a) != dims)
        return false;
    for (unsigned i = 0; i < dims; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return false;
        double d = json_number_value(v);
        if (!isfinite(d) || fabs(d) > FLT_MAX) /* also what a float32 can hold */
            return false;
        vec[i] = (float)d;
    }
    return true;
}

int emb_titan_parse(const char *body, size_t len, unsigned dims, float *vec)
{
    if (!body || dims == 0 || dims > EMB_DIMS_MAX)
        return PL_EPROTO;
    json_t *j = json_loadb(body, len, 0, NULL);
    const json_t *a = json_object_get(j, "embedding");
    if (!a) {
        const json_t *by = json_object_get(j, "embeddingsByType");
        a = json_object_get(by, "float");
    }
    bool ok = read_array(a, dims, vec);
    json_decref(j);
    return ok ? PL_OK : PL_EPROTO;
}

int emb_openai_request(struct pl_buf *out, const char *model, const char *const *texts,
                       const size_t *lens, size_t n, unsigned dims)
{
    if (!model || !*model || n == 0 || n > EMB_BATCH_MAX)
        return PL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!texts[i] || lens[i] == 0 || lens[i] > EMB_TEXT_MAX)
            return PL_EINVAL;
    int rc = pl_buf_append_str(out, "{\"model\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, model);
    if (!rc)
        rc = pl_buf_append_str(out, ",\"input\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = pl_buf_append_str(out, i ? ",\"" : "\"");
        if (!rc)
            rc = pl_buf_append_json_escaped(out, texts[i], lens[i]);
        if (!rc)
            rc = pl_buf_append_str(out, "\"");
    }
    if (!rc)
        rc = pl_buf_append_str(out, "],\"encoding_format\":\"float\"");
    if (!rc && dims)
        rc = pl_buf_printf(out, ",\"dimensions\":%u", dims);
    if (!rc)
        rc = pl_buf_append_str(out, "}");
    return rc;
}

/* Little-endian float32s from base64; the count must be `*dims` (or sets it when 0). */
static bool read_base64(const char *s, size_t slen, unsigned *dims, float *vec, bool alloc_only,
                        unsigned *count)
{
    unsigned char *bytes = NULL;
    size_t nb = 0;
    if (pl_base64_decode(s, slen, &bytes, &nb) != PL_OK)
        return false;
    bool ok = nb % 4 == 0 && nb / 4 > 0 && nb / 4 <= EMB_DIMS_MAX;
    if (ok)
        *count = (unsigned)(nb / 4);
    if (ok && *dims && *count != *dims)
        ok = false;
    for (size_t i = 0; ok && !alloc_only && i < nb / 4; i++) {
        const unsigned char *b = bytes + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float f;
        memcpy(&f, &u, sizeof(f));
        if (!isfinite(f))
            ok = false;
        vec[i] = f;
    }
    pl_free(bytes);
    return ok;
}

/* The length of one item's embedding (array or base64), 0 when it is neither. */
static unsigned embedding_length(const json_t *e)
{
    if (json_is_array(e))
        return json_array_size(e) <= EMB_DIMS_MAX ? (unsigned)json_array_size(e) : 0;
    if (json_is_string(e)) {
        unsigned dims = 0, count = 0;
        if (read_base64(json_string_value(e), json_string_length(e), &dims, NULL, true, &count))
            return count;
    }
    return 0;
}

int emb_openai_parse(const char *body, size_t len, size_t n, unsigned *dims, float **vecs)
{
    *vecs = NULL;
    if (!body || n == 0 || n > EMB_BATCH_MAX || *dims > EMB_DIMS_MAX)
        return PL_EPROTO;
    json_t *j = json_loadb(body, len, 0, NULL);
    const json_t *data = json_object_get(j, "data");
    const json_t *by_index[EMB_BATCH_MAX] = {0};
    bool ok = json_is_array(data) && json_array_size(data) == n;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *item = json_array_get(data, i);
        const json_t *ix = json_object_get(item, "index");
        if (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
            (size_t)json_integer_value(ix) >= n || by_index[json_integer_value(ix)])
            ok = false;
        else
            by_index[json_integer_value(ix)] = json_object_get(item, "embedding");
    }
    unsigned d = *dims;
    if (ok && !d)
        d = embedding_length(by_index[0]);
    ok = ok && d > 0;
    float *out = ok ? pl_malloc(n * d * sizeof(float)) : NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *e = by_index[i];
        unsigned count = 0;
        if (json_is_string(e))
            ok = read_base64(json_string_value(e), json_string_length(e), &d, out + i * d, false,
                             &count);
        else
            ok = read_array(e, d, out + i * d);
    }
    json_decref(j);
    if (!ok) {
        pl_free(out);
        return PL_EPROTO;
    }
    *dims = d;
    *vecs = out;
    return PL_OK;
}

/* The service's message: OpenAI's error.message, a flat message or Message (Bedrock). */
static const char *message_of(const json_t *j)
{
    const json_t *err = json_object_get(j, "error");
    const char *m = json_string_value(json_object_get(err, "message"));
    if (!m)
        m = json_string_value(err);
    if (!m)
        m = json_string_value(json_object_get(j, "message"));
    if (!m)
        m = json_string_value(json_object_get(j, "Message"));
    return m;
}

void emb_classify_http_error(int status, const char *body, size_t len, struct emb_http_error *e)
{
    memset(e, 0, sizeof(*e));
    e->retryable = status == 408 || status == 429 || status >= 500;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *m = message_of(j);
    snprintf(e->detail, sizeof(e->detail), "embeddings server %d%s%.150s", status, m ? ": " : "",
             m ? m : "");
    /* one line */
    for (char *p = e->detail; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    json_decref(j);
}
