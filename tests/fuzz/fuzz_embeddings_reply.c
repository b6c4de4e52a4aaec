/* libFuzzer target for the embeddings replies (connectors/embeddings_wire.h): the bodies an
 * OpenAI-compatible /embeddings server or Bedrock's Titan answers, and a non-200 answer's
 * classification. The first byte picks how many inputs the reply is for (1 to 4) and a status;
 * the rest is the body. Contract: only PL_OK or PL_EPROTO; an accepted reply has one vector of
 * 1..EMB_DIMS_MAX finite floats per input, nothing allocated on a refusal; differential: the
 * same reply read with its length given agrees bit for bit, with another length is refused, and
 * its vectors written back as base64 little-endian float32 (as openai-node asks for) and as a
 * Titan reply read back to the same bits; the classification's detail is one terminated line
 * and retryable exactly for 408, 429 and 5xx. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/embeddings_wire.h"
#include "tests/fuzz/fuzz_check.h"

static void base64_floats(struct pl_buf *out, const float *v, unsigned dims)
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
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        char q[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63], i + 1 < n ? tab[x >> 6 & 63] : '=',
                     i + 2 < n ? tab[x & 63] : '='};
        pl_buf_append(out, q, 4);
    }
    pl_free(b);
}

static void check_openai(const char *body, size_t len, size_t n)
{
    unsigned dims = 0;
    float *v = (float *)body; /* must be reset */
    int rc = emb_openai_parse(body, len, n, &dims, &v);
    CHECK(rc == PL_OK || rc == PL_EPROTO);
    if (rc != PL_OK) {
        CHECK(v == NULL);
        return;
    }
    CHECK(dims >= 1 && dims <= EMB_DIMS_MAX);
    for (size_t i = 0; i < n * dims; i++)
        CHECK(isfinite(v[i]));
    /* Its length given: the same bits. Another length: refused. */
    unsigned given = dims;
    float *again = NULL;
    CHECK(emb_openai_parse(body, len, n, &given, &again) == PL_OK && given == dims);
    CHECK(memcmp(v, again, n * dims * sizeof(float)) == 0);
    pl_free(again);
    given = dims + 1;
    CHECK(emb_openai_parse(body, len, n, &given, &again) == PL_EPROTO && again == NULL);
    /* Written back as base64 (items in reverse order) and read again: the same bits. */
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, "{\"data\":[");
    for (size_t i = n; i-- > 0;) {
        pl_buf_printf(&b, "%s{\"index\":%zu,\"embedding\":\"", i + 1 < n ? "," : "", i);
        base64_floats(&b, v + i * dims, dims);
        pl_buf_append_str(&b, "\"}");
    }
    pl_buf_append_str(&b, "]}");
    unsigned d2 = 0;
    CHECK(emb_openai_parse(b.data, b.len, n, &d2, &again) == PL_OK && d2 == dims);
    CHECK(memcmp(v, again, n * dims * sizeof(float)) == 0);
    pl_free(again);
    /* The first vector as a Titan reply: each float as its double, printed with 17 digits (a
     * zero as a real, to keep its sign), reads back exactly. */
    pl_buf_reset(&b);
    pl_buf_append_str(&b, "{\"embedding\":[");
    for (unsigned k = 0; k < dims; k++)
        if (v[k] == 0)
            pl_buf_printf(&b, "%s%s", k ? "," : "", signbit(v[k]) ? "-0.0" : "0.0");
        else
            pl_buf_printf(&b, "%s%.17g", k ? "," : "", (double)v[k]);
    pl_buf_append_str(&b, "],\"inputTextTokenCount\":1}");
    float *t = pl_malloc(dims * sizeof(float));
    CHECK(emb_titan_parse(b.data, b.len, dims, t) == PL_OK);
    CHECK(memcmp(t, v, dims * sizeof(float)) == 0);
    pl_free(t);
    pl_buf_cleanup(&b);
    pl_free(v);
}

static void check_titan(const char *body, size_t len, unsigned dims)
{
    float *v = pl_malloc(dims * sizeof(float));
    int rc = emb_titan_parse(body, len, dims, v);
    CHECK(rc == PL_OK || rc == PL_EPROTO);
    if (rc == PL_OK) {
        for (unsigned i = 0; i < dims; i++)
            CHECK(isfinite(v[i]));
        float *w = pl_malloc(dims * sizeof(float));
        CHECK(emb_titan_parse(body, len, dims, w) == PL_OK);
        CHECK(memcmp(v, w, dims * sizeof(float)) == 0);
        pl_free(w);
    }
    pl_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = (size_t)(data[0] & 3) + 1;
    static const int statuses[] = {400, 403, 408, 429, 500, 503, 404, 200};
    int status = statuses[(data[0] >> 2) & 7];
    size_t len = size - 1;
    char *body = pl_malloc(len ? len : 1); /* unterminated: reading past it is caught */
    memcpy(body, data + 1, len);
    check_openai(body, len, n);
    /* Titan: the lengths a request may ask for, and a small one. */
    check_titan(body, len, 3);
    check_titan(body, len, 256);
    struct emb_http_error e;
    emb_classify_http_error(status, body, len, &e);
    CHECK(memchr(e.detail, '\0', sizeof(e.detail)) != NULL);
    CHECK(strncmp(e.detail, "embeddings server ", 18) == 0);
    CHECK(!strchr(e.detail, '\n') && !strchr(e.detail, '\r'));
    CHECK(e.retryable == (status == 408 || status == 429 || status >= 500));
    pl_free(body);
    return 0;
}
