/* libFuzzer target for the AWS event-stream decoder (connectors/aws_eventstream.h): the body of
 * every Bedrock streaming answer goes through it. The input is decoded as sent and again with its
 * CRCs repaired (so mutations reach the headers instead of stopping at a checksum), under the
 * 16 MiB limit or a small one; each time three ways (whole, in pieces whose size the input picks,
 * one byte at a time), which must agree frame for frame and on the failure. Every frame must
 * keep the contract: headers walked to the end of their section with names of 1 to 255 bytes,
 * known types, values in their type's range and within the section; frames re-encoded byte for
 * byte give back the start of the input; a failure sticks; the message kind and classification
 * give terminated strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_eventstream.h"
#include "connectors/aws_eventstream_kind.h"
#include "tests/fuzz/fuzz_check.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_header(const struct aws_es_frame *f, const struct aws_es_header *h)
{
    const uint8_t *end = f->headers + f->headers_len;
    CHECK(h->name_len >= 1 && h->name_len <= 255);
    CHECK((const uint8_t *)h->name > f->headers && (const uint8_t *)h->name + h->name_len < end);
    switch (h->type) {
    case AWS_ES_BOOL_TRUE:
    case AWS_ES_BOOL_FALSE:
        CHECK(h->integer == (h->type == AWS_ES_BOOL_TRUE) && !h->value);
        break;
    case AWS_ES_BYTE:
        CHECK(h->integer >= INT8_MIN && h->integer <= INT8_MAX && !h->value);
        break;
    case AWS_ES_SHORT:
        CHECK(h->integer >= INT16_MIN && h->integer <= INT16_MAX && !h->value);
        break;
    case AWS_ES_INT:
        CHECK(h->integer >= INT32_MIN && h->integer <= INT32_MAX && !h->value);
        break;
    case AWS_ES_LONG:
    case AWS_ES_TIMESTAMP:
        CHECK(!h->value);
        break;
    case AWS_ES_BYTES:
    case AWS_ES_STRING:
        CHECK(h->value && h->value_len <= AWS_ES_MAX_VALUE_LEN && h->value + h->value_len <= end);
        break;
    case AWS_ES_UUID:
        CHECK(h->value && h->value_len == 16 && h->value + 16 <= end);
        break;
    default:
        CHECK(!"unknown header type handed out");
    }
}

/* Each frame checked, then appended re-encoded to the output. */
static int on_frame(void *ud, const struct aws_es_frame *f)
{
    struct pl_buf *out = ud;
    CHECK(f->headers_len <= AWS_ES_MAX_HEADERS_LEN);
    CHECK(f->headers + f->headers_len == f->payload);
    size_t pos = 0, n = 0;
    struct aws_es_header h, first = {0};
    while (aws_es_header_next(f, &pos, &h)) {
        check_header(f, &h);
        if (n++ == 0)
            first = h;
    }
    CHECK(pos == f->headers_len);
    if (n) {
        char name[256];
        memcpy(name, first.name, first.name_len);
        name[first.name_len] = '\0';
        struct aws_es_header found;
        /* A name with a NUL inside is found under its first part, if at all. */
        if (strlen(name) == first.name_len) {
            CHECK(aws_es_header_find(f, name, &found));
            CHECK(found.name == first.name);
        }
    }
    struct aws_es_message m;
    aws_es_message_read(f, &m);
    CHECK(strlen(m.event_type) < sizeof(m.event_type));
    CHECK(strlen(m.error_message) < sizeof(m.error_message));
    struct aws_es_failure fail;
    aws_es_classify_exception(m.exception_type, m.error_message, &fail);
    CHECK(strlen(fail.detail) < sizeof(fail.detail));
    CHECK(fail.error == API_ERR_RATE_LIMITED || fail.error == API_ERR_UPSTREAM_UNAVAILABLE ||
          fail.error == API_ERR_UPSTREAM_ERROR);
    CHECK(fail.retryable == (fail.error != API_ERR_UPSTREAM_ERROR));

    uint8_t pre[12];
    size_t total = 16 + f->headers_len + f->payload_len;
    put32(pre, (uint32_t)total);
    put32(pre + 4, (uint32_t)f->headers_len);
    put32(pre + 8, (uint32_t)crc32(0, pre, 8));
    size_t start = out->len;
    CHECK(pl_buf_append(out, pre, 12) == PL_OK);
    CHECK(pl_buf_append(out, f->headers, f->headers_len + f->payload_len) == PL_OK);
    uint8_t mcrc[4];
    put32(mcrc, (uint32_t)crc32(0, (const uint8_t *)out->data + start, (uInt)(total - 4)));
    CHECK(pl_buf_append(out, mcrc, 4) == PL_OK);
    return 0;
}

/* Decode in pieces of `step` bytes (0: whole); the re-encoded frames, then the outcome. */
static void run(const uint8_t *data, size_t size, size_t step, size_t max, struct pl_buf *out)
{
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, max);
    int rc = PL_OK;
    size_t off = 0;
    while (off < size && !rc) {
        size_t n = step && step < size - off ? step : size - off;
        /* A copy per piece: the decoder must not keep pointers into the caller's bytes. */
        uint8_t *piece = pl_malloc(n);
        memcpy(piece, data + off, n);
        rc = aws_es_decoder_feed(&d, piece, n, on_frame, out);
        pl_free(piece);
        off += n;
    }
    size_t frames_len = out->len;
    CHECK(frames_len <= size && memcmp(out->data ? out->data : "", data, frames_len) == 0);
    if (rc) {
        CHECK(rc == PL_EPROTO || rc == PL_ETOOBIG);
        CHECK((rc == PL_ETOOBIG) == (d.fault == AWS_ES_FAULT_TOO_BIG));
        CHECK(aws_es_decoder_feed(&d, data, size, on_frame, out) == rc);
        CHECK(out->len == frames_len);
    } else {
        CHECK(d.fault == AWS_ES_FAULT_NONE);
        CHECK(aws_es_decoder_idle(&d) == (frames_len == size));
    }
    char tail[64];
    int k = snprintf(tail, sizeof(tail), "|rc=%d fault=%d idle=%d", rc, (int)d.fault,
                     aws_es_decoder_idle(&d));
    CHECK(pl_buf_append(out, tail, (size_t)k) == PL_OK);
    aws_es_decoder_cleanup(&d);
}

static void three_ways(const uint8_t *data, size_t size, size_t step, size_t max)
{
    struct pl_buf whole, pieces, bytes;
    pl_buf_init(&whole, SIZE_MAX);
    pl_buf_init(&pieces, SIZE_MAX);
    pl_buf_init(&bytes, SIZE_MAX);
    run(data, size, 0, max, &whole);
    run(data, size, step, max, &pieces);
    run(data, size, 1, max, &bytes);
    CHECK(whole.len == pieces.len && memcmp(whole.data, pieces.data, whole.len) == 0);
    CHECK(whole.len == bytes.len && memcmp(whole.data, bytes.data, whole.len) == 0);
    pl_buf_cleanup(&whole);
    pl_buf_cleanup(&pieces);
    pl_buf_cleanup(&bytes);
}

/* Write correct CRCs into every frame whose announced length fits the input. */
static void repair(uint8_t *p, size_t size)
{
    size_t pos = 0;
    while (size - pos >= 16) {
        uint32_t t = get32(p + pos);
        if (t < 16 || t > size - pos)
            break;
        put32(p + pos + 8, (uint32_t)crc32(0, p + pos, 8));
        put32(p + pos + t - 4, (uint32_t)crc32(0, p + pos, t - 4));
        pos += t;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_seed(data, size);
    size_t step = 2 + seed % 97;
    size_t max = (seed >> 8) & 1 ? 16 + (seed >> 16) % 512 : 0;
    three_ways(data, size, step, max);
    uint8_t *fixed = pl_malloc(size ? size : 1);
    memcpy(fixed, data, size);
    repair(fixed, size);
    three_ways(fixed, size, step, max);
    pl_free(fixed);
    return 0;
}
