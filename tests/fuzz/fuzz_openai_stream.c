/* libFuzzer target for the OpenAI-compatible stream decoder (connectors/openai_stream.h) behind
 * the SSE parser, as a provider runs them on a chat completions answer. Fed whole, in pieces and
 * byte by byte, the decoder must give the same text, state and status (up to the first failure,
 * which ends the stream). Text is valid UTF-8 without NUL and never empty; the stop reason is the
 * finish reason's; an error is one of the three a stream can give, with a type; nothing is taken
 * after [DONE]. */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/openai_stream.h"
#include "connectors/sse.h"
#include "tests/fuzz/fuzz_check.h"

#define SSE_MAX (1024 * 1024)
#define OUT_MAX (64 * 1024 * 1024)

struct run {
    struct oai_stream s;
    struct pl_buf *out; /* every text piece, length-prefixed, then the state */
    int status;         /* the first failure, or PL_OK */
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct run *r = ud;
    CHECK(len > 0 && pl_utf8_valid(text, len) && !memchr(text, '\0', len));
    CHECK(pl_buf_printf(r->out, "%zu:", len) == PL_OK);
    CHECK(pl_buf_append(r->out, text, len) == PL_OK);
}

static void check_state(const struct oai_stream *s)
{
    CHECK(memchr(s->finish_reason, '\0', sizeof(s->finish_reason)) != NULL);
    CHECK(memchr(s->model, '\0', sizeof(s->model)) != NULL);
    CHECK(memchr(s->error_type, '\0', sizeof(s->error_type)) != NULL);
    CHECK(memchr(s->error_message, '\0', sizeof(s->error_message)) != NULL);
    CHECK(s->stop == oai_stop_from_finish(s->finished ? s->finish_reason : NULL));
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    (void)event;
    struct run *r = ud;
    bool was_done = r->s.done;
    int rc = oai_stream_event(&r->s, data, len, on_text, r);
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_EUPSTREAM);
    CHECK(!was_done || rc == PL_EPROTO);
    if (rc == PL_EUPSTREAM) {
        CHECK(r->s.error_type[0] != '\0');
        CHECK(r->s.error == API_ERR_RATE_LIMITED || r->s.error == API_ERR_UPSTREAM_UNAVAILABLE ||
              r->s.error == API_ERR_UPSTREAM_ERROR);
        CHECK(r->s.retryable == (r->s.error != API_ERR_UPSTREAM_ERROR));
    }
    check_state(&r->s);
    r->status = rc;
    return rc;
}

static void run(const uint8_t *data, size_t size, size_t piece, struct pl_buf *out)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    oai_stream_init(&r.s);
    r.out = out;
    struct sse_parser p;
    sse_parser_init(&p, SSE_MAX);
    if (piece == 0)
        piece = size ? size : 1;
    int rc = PL_OK;
    for (size_t at = 0; at < size && rc == PL_OK; at += piece) {
        size_t n = size - at < piece ? size - at : piece;
        rc = sse_parser_feed(&p, (const char *)data + at, n, on_event, &r);
    }
    CHECK(rc == r.status || rc == PL_ETOOBIG);
    sse_parser_cleanup(&p);
    const struct oai_stream *s = &r.s;
    CHECK(pl_buf_printf(out,
                        "|rc=%d done=%d fin=%d %s stop=%d usage=%d %ld %ld model=%s err=%d %d "
                        "%s %s",
                        rc, s->done, s->finished, s->finish_reason, (int)s->stop, s->has_usage,
                        s->prompt_tokens, s->completion_tokens, s->model, (int)s->error,
                        s->retryable, s->error_type, s->error_message) == PL_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t piece = size ? 1 + fuzz_seed(data, size) % size : 1;
    fuzz_check_split_agrees(run, data, size, piece, OUT_MAX);
    return 0;
}
