/* libFuzzer target for the ConverseStream event interpreter (connectors/converse_stream.h), as
 * the bedrock provider runs it on the events of an answer. The input is one event a line,
 * "eventType payload"; events are fed until the first failure, as the provider stops there.
 * Checks: only PL_OK or PL_EPROTO; text valid UTF-8 without NUL, never empty, only between
 * messageStart and messageStop; finished exactly when messageStop and metadata both came; usage
 * never negative; the stop reason terminated and refusal exactly for guardrail_intervened and
 * content_filtered. Differential: text deltas in Bedrock's own layout are read without a JSON
 * tree (the fast path), everything else with jansson; the input is run twice, once as given and
 * once with a blank before every payload (the same JSON, which the fast path never takes), and
 * every status, text piece and the final state must be the same both ways. */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/converse_stream.h"
#include "tests/fuzz/fuzz_check.h"

struct run {
    struct converse_stream s;
    struct pl_buf *out;
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct run *r = ud;
    CHECK(len > 0 && pl_utf8_valid(text, len) && !memchr(text, '\0', len));
    CHECK(r->s.started && !r->s.stopped);
    CHECK(pl_buf_printf(r->out, "%zu:", len) == PL_OK);
    CHECK(pl_buf_append(r->out, text, len) == PL_OK);
}

static void check_state(const struct converse_stream *s)
{
    CHECK(memchr(s->stop_reason, '\0', sizeof(s->stop_reason)) != NULL);
    CHECK(s->finished == (s->stopped && s->has_usage));
    CHECK(s->usage.input_tokens >= 0 && s->usage.output_tokens >= 0 &&
          s->usage.cache_read_input_tokens >= 0 && s->usage.cache_creation_input_tokens >= 0);
    bool refusal = !strcmp(s->stop_reason, "guardrail_intervened") ||
                   !strcmp(s->stop_reason, "content_filtered") ||
                   !strcmp(s->stop_reason, "refusal");
    CHECK((converse_stream_stop(s) == LLM_STOP_REFUSAL) == refusal);
    CHECK(!s->stopped || s->stop_reason[0] != '\0');
}

/* general: every payload gets a leading blank, so only the general (jansson) path reads it. */
static void run(const uint8_t *data, size_t size, struct pl_buf *out, bool general)
{
    struct pl_buf blanked;
    pl_buf_init(&blanked, size + 2);
    struct run r = {.out = out};
    converse_stream_init(&r.s);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(line_end - p));
        char type[64];
        size_t tlen = (size_t)((sp ? sp : line_end) - p);
        if (tlen >= sizeof(type))
            tlen = sizeof(type) - 1;
        memcpy(type, p, tlen);
        type[tlen] = '\0';
        const char *payload = sp ? sp + 1 : line_end;
        size_t plen = (size_t)(line_end - payload);
        if (general) {
            pl_buf_reset(&blanked);
            CHECK(pl_buf_append(&blanked, " ", 1) == PL_OK);
            CHECK(pl_buf_append(&blanked, payload, plen) == PL_OK);
            payload = blanked.data;
            plen = blanked.len;
        }
        bool was_finished = r.s.finished;
        int rc = converse_stream_event(&r.s, type, payload, plen, on_text, &r);
        CHECK(rc == PL_OK || rc == PL_EPROTO);
        check_state(&r.s);
        CHECK(pl_buf_printf(out, "|%d", rc) == PL_OK);
        if (rc != PL_OK)
            break;
        CHECK(!was_finished || r.s.finished);
        p = nl ? nl + 1 : end;
    }
    CHECK(pl_buf_printf(out, "|%d%d%d%d|%s|%ld,%ld,%ld,%ld", r.s.started, r.s.stopped,
                        r.s.has_usage, r.s.finished, r.s.stop_reason, r.s.usage.input_tokens,
                        r.s.usage.output_tokens, r.s.usage.cache_read_input_tokens,
                        r.s.usage.cache_creation_input_tokens) == PL_OK);
    pl_buf_cleanup(&blanked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pl_buf a, b;
    pl_buf_init(&a, 64 * 1024 * 1024);
    pl_buf_init(&b, 64 * 1024 * 1024);
    run(data, size, &a, false);
    run(data, size, &b, true);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    pl_buf_cleanup(&a);
    pl_buf_cleanup(&b);
    return 0;
}
