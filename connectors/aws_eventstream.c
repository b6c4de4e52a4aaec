/* AWS event-stream framing: prelude, headers, payload, two CRC-32s (zlib's crc32, the same
 * "GZIP" CRC AWS uses). The message CRC covers the prelude CRC too. */
#include "connectors/aws_eventstream.h"

#include <string.h>
#include <zlib.h>

#include "common/err.h"

#define PRELUDE_LEN 12u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int64_t be64(const uint8_t *p)
{
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
    return (int64_t)v; /* two's complement on every target we build for */
}

static uint32_t crc(const uint8_t *p, size_t len)
{
    /* zlib takes uInt lengths; a frame is at most AWS_ES_MAX_FRAME bytes. */
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

static int fail(struct aws_es_decoder *d, enum aws_es_fault fault, int err)
{
    d->fault = fault;
    d->error = err;
    pl_buf_cleanup(&d->partial);
    return err;
}

void aws_es_decoder_init(struct aws_es_decoder *d, size_t max_frame)
{
    memset(d, 0, sizeof(*d));
    if (max_frame == 0 || max_frame > AWS_ES_MAX_FRAME)
        max_frame = AWS_ES_MAX_FRAME;
    if (max_frame < AWS_ES_OVERHEAD)
        max_frame = AWS_ES_OVERHEAD;
    d->max_frame = max_frame;
    pl_buf_init(&d->partial, max_frame);
}

void aws_es_decoder_cleanup(struct aws_es_decoder *d)
{
    pl_buf_cleanup(&d->partial);
}

bool aws_es_decoder_idle(const struct aws_es_decoder *d)
{
    return d->partial.len == 0;
}

const char *aws_es_fault_name(enum aws_es_fault fault)
{
    switch (fault) {
    case AWS_ES_FAULT_NONE:
        return "none";
    case AWS_ES_FAULT_PRELUDE_CRC:
        return "prelude CRC mismatch";
    case AWS_ES_FAULT_MESSAGE_CRC:
        return "message CRC mismatch";
    case AWS_ES_FAULT_TOO_BIG:
        return "frame over the size limit";
    case AWS_ES_FAULT_BAD_LENGTH:
        return "impossible frame or headers length";
    case AWS_ES_FAULT_BAD_HEADER:
        return "malformed header";
    case AWS_ES_FAULT_UNKNOWN_TYPE:
        return "unknown header value type";
    case AWS_ES_FAULT_STOPPED:
        return "stopped by the frame callback";
    }
    return "unknown fault";
}

/* Width of a fixed-size value, or 0 for the length-prefixed ones, -1 for an unknown type. */
static int fixed_width(uint8_t type)
{
    static const int widths[] = {0, 0, 1, 2, 4, 8, 0, 0, 8, 16};
    if (type > AWS_ES_UUID)
        return -1;
    return widths[type];
}

/* Parse the header at p[*pos..len) into h (may be NULL); advances *pos. */
static enum aws_es_fault parse_header(const uint8_t *p, size_t len, size_t *pos,
                                      struct aws_es_header *h)
{
    size_t i = *pos;
    if (len - i < 1)
        return AWS_ES_FAULT_BAD_HEADER;
    size_t name_len = p[i++];
    /* The name, then at least the type byte. */
    if (name_len == 0 || len - i < name_len + 1)
        return AWS_ES_FAULT_BAD_HEADER;
    const uint8_t *name = p + i;
    i += name_len;
    uint8_t type = p[i++];
    int width = fixed_width(type);
    if (width < 0)
        return AWS_ES_FAULT_UNKNOWN_TYPE;
    struct aws_es_header tmp = {
        .name = (const char *)name, .name_len = name_len, .type = (enum aws_es_type)type};
    if (type == AWS_ES_BYTES || type == AWS_ES_STRING) {
        if (len - i < 2)
            return AWS_ES_FAULT_BAD_HEADER;
        size_t vlen = be16(p + i);
        i += 2;
        if (vlen > AWS_ES_MAX_VALUE_LEN || len - i < vlen)
            return AWS_ES_FAULT_BAD_HEADER;
        tmp.value = p + i;
        tmp.value_len = vlen;
        i += vlen;
    } else if (len - i < (size_t)width) {
        return AWS_ES_FAULT_BAD_HEADER;
    } else {
        switch (type) {
        case AWS_ES_BOOL_TRUE:
            tmp.integer = 1;
            break;
        case AWS_ES_BYTE:
            tmp.integer = (int8_t)p[i];
            break;
        case AWS_ES_SHORT:
            tmp.integer = (int16_t)be16(p + i);
            break;
        case AWS_ES_INT:
            tmp.integer = (int32_t)be32(p + i);
            break;
        case AWS_ES_LONG:
        case AWS_ES_TIMESTAMP:
            tmp.integer = be64(p + i);
            break;
        case AWS_ES_UUID:
            tmp.value = p + i;
            tmp.value_len = 16;
            break;
        default: /* bool false: nothing to read */
            break;
        }
        i += (size_t)width;
    }
    if (h)
        *h = tmp;
    *pos = i;
    return AWS_ES_FAULT_NONE;
}

enum aws_es_fault aws_es_headers_check(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        enum aws_es_fault f = parse_header(p, len, &pos, NULL);
        if (f != AWS_ES_FAULT_NONE)
            return f;
    }
    return AWS_ES_FAULT_NONE;
}

bool aws_es_header_next(const struct aws_es_frame *f, size_t *pos, struct aws_es_header *h)
{
    if (*pos >= f->headers_len)
        return false;
    /* The section was validated when the frame was decoded: this cannot fail. */
    return parse_header(f->headers, f->headers_len, pos, h) == AWS_ES_FAULT_NONE;
}

bool aws_es_header_find(const struct aws_es_frame *f, const char *name, struct aws_es_header *h)
{
    size_t pos = 0, n = strlen(name);
    struct aws_es_header cur;
    while (aws_es_header_next(f, &pos, &cur)) {
        if (cur.name_len == n && memcmp(cur.name, name, n) == 0) {
            *h = cur;
            return true;
        }
    }
    return false;
}

bool aws_es_header_string(const struct aws_es_frame *f, const char *name, char *out, size_t outlen)
{
    struct aws_es_header h;
    out[0] = '\0';
    if (!aws_es_header_find(f, name, &h) || h.type != AWS_ES_STRING)
        return false;
    size_t n = h.value_len < outlen - 1 ? h.value_len : outlen - 1;
    memcpy(out, h.value, n);
    out[n] = '\0';
    return true;
}

/* Check a prelude; its total length in *total. */
static int check_prelude(struct aws_es_decoder *d, const uint8_t *p, uint32_t *total)
{
    if (crc(p, 8) != be32(p + 8))
        return fail(d, AWS_ES_FAULT_PRELUDE_CRC, PL_EPROTO);
    uint32_t t = be32(p), hl = be32(p + 4);
    if (t > d->max_frame)
        return fail(d, AWS_ES_FAULT_TOO_BIG, PL_ETOOBIG);
    if (t < AWS_ES_OVERHEAD || hl > t - AWS_ES_OVERHEAD || hl > AWS_ES_MAX_HEADERS_LEN)
        return fail(d, AWS_ES_FAULT_BAD_LENGTH, PL_EPROTO);
    *total = t;
    return PL_OK;
}

/* Verify a whole frame of `total` bytes at p and hand it out. */
static int deliver(struct aws_es_decoder *d, const uint8_t *p, uint32_t total, aws_es_frame_cb cb,
                   void *ud)
{
    if (crc(p, total - 4) != be32(p + total - 4))
        return fail(d, AWS_ES_FAULT_MESSAGE_CRC, PL_EPROTO);
    uint32_t hl = be32(p + 4);
    struct aws_es_frame f = {.headers = p + PRELUDE_LEN,
                             .headers_len = hl,
                             .payload = p + PRELUDE_LEN + hl,
                             .payload_len = total - AWS_ES_OVERHEAD - hl};
    enum aws_es_fault fault = aws_es_headers_check(f.headers, f.headers_len);
    if (fault != AWS_ES_FAULT_NONE)
        return fail(d, fault, PL_EPROTO);
    int rc = cb(ud, &f);
    if (rc)
        return fail(d, AWS_ES_FAULT_STOPPED, rc);
    return PL_OK;
}

/* Move bytes from the input into the partial frame until it holds `want` bytes. */
static void fill(struct aws_es_decoder *d, const uint8_t **p, size_t *len, size_t want)
{
    size_t n = want - d->partial.len;
    if (n > *len)
        n = *len;
    /* Cannot fail: want <= max_frame, the buffer's maximum. */
    (void)pl_buf_append(&d->partial, *p, n);
    *p += n;
    *len -= n;
}

int aws_es_decoder_feed(struct aws_es_decoder *d, const void *data, size_t len, aws_es_frame_cb cb,
                        void *ud)
{
    if (d->error)
        return d->error;
    const uint8_t *p = data;
    uint32_t total;
    /* A frame begun in an earlier read: complete it from the buffer. */
    if (d->partial.len) {
        if (d->partial.len < PRELUDE_LEN) {
            fill(d, &p, &len, PRELUDE_LEN);
            if (d->partial.len < PRELUDE_LEN)
                return PL_OK;
            if (check_prelude(d, (const uint8_t *)d->partial.data, &total))
                return d->error;
        }
        total = be32((const uint8_t *)d->partial.data);
        fill(d, &p, &len, total);
        if (d->partial.len < total)
            return PL_OK;
        int rc = deliver(d, (const uint8_t *)d->partial.data, total, cb, ud);
        if (rc)
            return rc;
        pl_buf_reset(&d->partial);
    }
    /* Whole frames straight from the caller's bytes. */
    while (len >= PRELUDE_LEN) {
        if (check_prelude(d, p, &total))
            return d->error;
        if (len < total)
            break;
        int rc = deliver(d, p, total, cb, ud);
        if (rc)
            return rc;
        p += total;
        len -= total;
    }
    /* Keep the start of the next frame (its prelude, if here, is already checked). The buffer
     * grows with the bytes that arrive, not with the length a prelude announces. */
    if (len)
        (void)pl_buf_append(&d->partial, p, len);
    return PL_OK;
}
