/* AWS event-stream frame encoder (see es_frame.h). */
#include "tests/fakes/es_frame.h"

#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "common/err.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int es_frame_encode(struct pl_buf *out, const struct es_header *headers, size_t n,
                    const void *payload, size_t len)
{
    size_t headers_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
        if (nl == 0 || nl > 255 || vl > 32767)
            return PL_EINVAL;
        headers_len += 1 + nl + 1 + 2 + vl;
    }
    size_t total = 12 + headers_len + len + 4;
    if (total > UINT32_MAX)
        return PL_EINVAL;
    int rc = pl_buf_reserve(out, total);
    if (rc != PL_OK)
        return rc;
    size_t start = out->len;
    uint8_t prelude[12];
    put_u32(prelude, (uint32_t)total);
    put_u32(prelude + 4, (uint32_t)headers_len);
    put_u32(prelude + 8, (uint32_t)crc32(0L, prelude, 8));
    pl_buf_append(out, prelude, sizeof(prelude));
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
        uint8_t b = (uint8_t)nl;
        pl_buf_append(out, &b, 1);
        pl_buf_append(out, headers[i].name, nl);
        uint8_t tv[3] = {7, (uint8_t)(vl >> 8), (uint8_t)vl};
        pl_buf_append(out, tv, sizeof(tv));
        pl_buf_append(out, headers[i].value, vl);
    }
    pl_buf_append(out, payload, len);
    uint8_t crc[4];
    put_u32(crc, (uint32_t)crc32(0L, (const Bytef *)out->data + start, (uInt)(total - 4)));
    return pl_buf_append(out, crc, sizeof(crc));
}

int es_frame_event(struct pl_buf *out, const char *event_type, const char *json, size_t len)
{
    const struct es_header h[] = {{":event-type", event_type},
                                  {":content-type", "application/json"},
                                  {":message-type", "event"}};
    return es_frame_encode(out, h, 3, json, len);
}

int es_frame_exception(struct pl_buf *out, const char *name, const char *json, size_t len)
{
    const struct es_header h[] = {{":exception-type", name},
                                  {":content-type", "application/json"},
                                  {":message-type", "exception"}};
    return es_frame_encode(out, h, 3, json, len);
}
