/* libFuzzer target for the Anthropic stream decoder (connectors/anthropic_stream.h) behind the
 * SSE parser, as the provider runs them on the model API's answer. The decoder reads the
 * events the API writes in its exact layout without building a JSON tree (fast paths) and
 * everything else with jansson: a differential check. Each event is decoded twice, once as
 * sent and once with a leading blank (the same JSON value, which no fast path takes): the
 * status, every text piece and the state must be the same both ways, up to the first failure,
 * which ends the stream as it does in the provider. Text given to the caller must be valid
 * UTF-8 without NUL bytes, and the state's strings terminated. */
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/anthropic_stream.h"
#include "connectors/sse.h"
#include "tests/fuzz/fuzz_check.h"

#define SSE_MAX (1024 * 1024) /* the provider's limit (connectors/llm_anthropic.c) */

struct side {
    struct anth_stream stream;
    struct pl_buf text; /* every text piece, length-prefixed */
};

struct run {
    struct side as_sent, general;
    int status; /* the first failure, or PL_OK */
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct side *s = ud;
    CHECK(pl_utf8_valid(text, len) && !memchr(text, '\0', len));
    CHECK(pl_buf_printf(&s->text, "%zu:", len) == PL_OK);
    CHECK(pl_buf_append(&s->text, text, len) == PL_OK);
}

static void check_terminated(const char *s, size_t cap)
{
    CHECK(memchr(s, '\0', cap) != NULL);
}

static void check_same_state(const struct anth_stream *a, const struct anth_stream *b)
{
    const struct anth_stream *both[] = {a, b};
    for (int i = 0; i < 2; i++) {
        check_terminated(both[i]->stop_reason, sizeof(both[i]->stop_reason));
        check_terminated(both[i]->model, sizeof(both[i]->model));
        check_terminated(both[i]->error_type, sizeof(both[i]->error_type));
        check_terminated(both[i]->error_message, sizeof(both[i]->error_message));
    }
    CHECK(a->started == b->started && a->finished == b->finished);
    CHECK(strcmp(a->stop_reason, b->stop_reason) == 0 && strcmp(a->model, b->model) == 0);
    CHECK(a->input_tokens == b->input_tokens && a->output_tokens == b->output_tokens);
    CHECK(a->cache_read_input_tokens == b->cache_read_input_tokens &&
          a->cache_creation_input_tokens == b->cache_creation_input_tokens);
    /* Counts are never negative: a negative or non-integer one keeps the earlier value. */
    CHECK(a->input_tokens >= 0 && a->output_tokens >= 0 && a->cache_read_input_tokens >= 0 &&
          a->cache_creation_input_tokens >= 0);
    CHECK(strcmp(a->error_type, b->error_type) == 0);
    CHECK(strcmp(a->error_message, b->error_message) == 0);
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct run *r = ud;
    int rc_sent = anth_stream_event(&r->as_sent.stream, event, data, len, on_text, &r->as_sent);

    char *blank = pl_malloc(len + 2);
    blank[0] = ' ';
    memcpy(blank + 1, data, len + 1);
    int rc_general =
        anth_stream_event(&r->general.stream, event, blank, len + 1, on_text, &r->general);
    pl_free(blank);

    CHECK(rc_sent == rc_general);
    CHECK(rc_sent == PL_OK || rc_sent == PL_EPROTO || rc_sent == PL_EUPSTREAM);
    CHECK(r->as_sent.text.len == r->general.text.len);
    CHECK(r->as_sent.text.len == 0 ||
          memcmp(r->as_sent.text.data, r->general.text.data, r->as_sent.text.len) == 0);
    check_same_state(&r->as_sent.stream, &r->general.stream);
    if (rc_sent == PL_EUPSTREAM)
        CHECK(r->as_sent.stream.error_type[0] != '\0');
    r->status = rc_sent;
    return rc_sent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    anth_stream_init(&r.as_sent.stream);
    anth_stream_init(&r.general.stream);
    pl_buf_init(&r.as_sent.text, SIZE_MAX);
    pl_buf_init(&r.general.text, SIZE_MAX);
    struct sse_parser p;
    sse_parser_init(&p, SSE_MAX);
    int rc = sse_parser_feed(&p, (const char *)data, size, on_event, &r);
    CHECK(rc == r.status || rc == PL_ETOOBIG);
    sse_parser_cleanup(&p);
    pl_buf_cleanup(&r.as_sent.text);
    pl_buf_cleanup(&r.general.text);
    return 0;
}
