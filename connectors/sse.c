/* Incremental SSE parser; see sse.h. */
#include "connectors/sse.h"

#include <string.h>

#include "common/err.h"

void sse_parser_init(struct sse_parser *p, size_t max_event_bytes)
{
    memset(p, 0, sizeof(*p));
    p->max = max_event_bytes;
    pl_buf_init(&p->line, max_event_bytes);
    pl_buf_init(&p->event, 256);
    pl_buf_init(&p->data, max_event_bytes);
}

void sse_parser_cleanup(struct sse_parser *p)
{
    pl_buf_cleanup(&p->line);
    pl_buf_cleanup(&p->event);
    pl_buf_cleanup(&p->data);
}

static int dispatch(struct sse_parser *p, sse_event_cb cb, void *ud)
{
    int rc = 0;
    if (p->has_data) {
        const char *name = p->event.len ? p->event.data : "message";
        rc = cb(ud, name, p->data.data ? p->data.data : "", p->data.len);
    }
    pl_buf_reset(&p->event);
    pl_buf_reset(&p->data);
    p->has_data = false;
    return rc;
}

/* One complete line (without its ending). */
static int process_line(struct sse_parser *p, const char *line, size_t len, sse_event_cb cb,
                        void *ud)
{
    if (len == 0)
        return dispatch(p, cb, ud);
    if (line[0] == ':')
        return PL_OK; /* comment */
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = colon ? len - name_len - 1 : 0;
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        pl_buf_reset(&p->event);
        if (pl_buf_append(&p->event, value, value_len) != PL_OK)
            return PL_ETOOBIG;
    } else if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (p->has_data && pl_buf_append(&p->data, "\n", 1) != PL_OK)
            return PL_ETOOBIG;
        if (pl_buf_append(&p->data, value, value_len) != PL_OK)
            return PL_ETOOBIG;
        p->has_data = true;
    }
    /* id and retry concern reconnecting EventSource clients; unknown fields are ignored. */
    return PL_OK;
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_cb cb, void *ud)
{
    size_t i = 0;
    if (!p->bom_checked) {
        /* The BOM may itself arrive split; wait for three bytes or a mismatch. */
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = p->line.len;
        while (i < len && have + i < 3 && buf[i] == bom[have + i])
            i++;
        if (have + i < 3 && i == len) {
            pl_buf_append(&p->line, buf, len); /* a BOM prefix so far */
            return PL_OK;
        }
        p->bom_checked = true;
        if (have + i == 3) {
            pl_buf_reset(&p->line); /* a whole BOM: drop it */
        } else {
            i = 0; /* not a BOM: the held bytes are ordinary line bytes */
        }
    }
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = false;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        /* Find the next line end (CR, LF or CRLF) in this chunk; memchr scans words at a time. */
        const char *lf = memchr(buf + i, '\n', len - i);
        size_t end = lf ? (size_t)(lf - buf) : len;
        const char *cr = memchr(buf + i, '\r', end - i);
        size_t j = cr ? (size_t)(cr - buf) : end;
        if (j == len) {
            if (pl_buf_append(&p->line, buf + i, len - i) != PL_OK)
                return PL_ETOOBIG;
            return PL_OK;
        }
        int rc;
        if (p->line.len) {
            if (pl_buf_append(&p->line, buf + i, j - i) != PL_OK)
                return PL_ETOOBIG;
            rc = process_line(p, p->line.data, p->line.len, cb, ud);
            pl_buf_reset(&p->line);
        } else {
            /* Read in place, but held to the limit a line split across reads meets. */
            if (j - i > p->max)
                return PL_ETOOBIG;
            rc = process_line(p, buf + i, j - i, cb, ud);
        }
        if (rc)
            return rc;
        p->after_cr = buf[j] == '\r';
        i = j + 1;
    }
    return PL_OK;
}
