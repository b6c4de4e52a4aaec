/* libFuzzer target for the SSE parser (connectors/sse.h), which reads every byte the model API
 * streams back. Chunk boundaries are the network's choice, so the input is fed whole, in two
 * pieces cut at an input-chosen point, and one byte at a time: the events and the outcome must
 * be the same every time. Under a generous and a tight size limit (so PL_ETOOBIG is reached),
 * and once with a callback that stops the parser after a few events. Every event must satisfy
 * the parser's contract: NUL-terminated name and data, no line ending in the name, no CR in the
 * data, within the limits (NUL bytes are ordinary characters of a line). */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/sse.h"
#include "tests/fuzz/fuzz_check.h"

#define STOP_RC 99 /* what the stopping callback returns */

struct record {
    struct pl_buf log; /* every event, length-prefixed: "<n>:<name> <n>:<data>" */
    size_t max;        /* the parser's limit */
    size_t events;
    size_t stop_after; /* 0: never stop */
};

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct record *r = ud;
    size_t name_len = strlen(event); /* a NUL byte in the stream may cut it short */
    CHECK(name_len <= 256);
    CHECK(!memchr(event, '\n', name_len) && !memchr(event, '\r', name_len));
    CHECK(data[len] == '\0' && len <= r->max);
    CHECK(!memchr(data, '\r', len));
    CHECK(pl_buf_printf(&r->log, "%zu:%s %zu:", name_len, event, len) == PL_OK);
    CHECK(pl_buf_append(&r->log, data, len) == PL_OK);
    r->events++;
    return r->events == r->stop_after ? STOP_RC : PL_OK;
}

/* Feed `data` as a first piece of `first` bytes (which may be empty), then pieces of `step`
 * bytes (step > 0); the first failure ends the feeding, as it does in the provider. Returns the
 * outcome. */
static int run(const uint8_t *data, size_t size, size_t first, size_t step, struct record *r)
{
    struct sse_parser p;
    sse_parser_init(&p, r->max);
    size_t at = first < size ? first : size;
    int rc = sse_parser_feed(&p, (const char *)data, at, on_event, r);
    while (rc == PL_OK && at < size) {
        size_t n = size - at < step ? size - at : step;
        rc = sse_parser_feed(&p, (const char *)data + at, n, on_event, r);
        at += n;
    }
    sse_parser_cleanup(&p);
    return rc;
}

static void record_init(struct record *r, size_t max, size_t stop_after)
{
    pl_buf_init(&r->log, SIZE_MAX);
    r->max = max;
    r->events = 0;
    r->stop_after = stop_after;
}

static void check_same(const struct record *a, int rc_a, const struct record *b, int rc_b)
{
    CHECK(rc_a == rc_b);
    CHECK(a->events == b->events);
    CHECK(a->log.len == b->log.len);
    CHECK(a->log.len == 0 || memcmp(a->log.data, b->log.data, a->log.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_seed(data, size);
    size_t split = size ? (size_t)(seed % (size + 1)) : 0;
    static const size_t limits[] = {1 << 20, 40};
    for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
        struct record whole, two, bytes, stop;
        record_init(&whole, limits[l], 0);
        record_init(&two, limits[l], 0);
        record_init(&bytes, limits[l], 0);
        int rc_whole = run(data, size, size, 1, &whole);
        CHECK(rc_whole == PL_OK || rc_whole == PL_ETOOBIG);
        check_same(&whole, rc_whole, &two, run(data, size, split, size ? size : 1, &two));
        check_same(&whole, rc_whole, &bytes, run(data, size, 1, 1, &bytes));

        /* A callback's non-zero return stops the parser at once and is returned. */
        record_init(&stop, limits[l], 1 + (size_t)(seed >> 32) % 4);
        int rc_stop = run(data, size, split, size ? size : 1, &stop);
        if (whole.events >= stop.stop_after) {
            CHECK(rc_stop == STOP_RC && stop.events == stop.stop_after);
            CHECK(stop.log.len <= whole.log.len &&
                  (stop.log.len == 0 || memcmp(stop.log.data, whole.log.data, stop.log.len) == 0));
        } else {
            check_same(&whole, rc_whole, &stop, rc_stop);
        }
        pl_buf_cleanup(&whole.log);
        pl_buf_cleanup(&two.log);
        pl_buf_cleanup(&bytes.log);
        pl_buf_cleanup(&stop.log);
    }
    return 0;
}
