/* libFuzzer target for the InvokeModelWithResponseStream chunk interpreter
 * (connectors/bedrock_invoke_stream.h). The input is one Anthropic stream event a line; each is
 * wrapped as Bedrock sends it ({"bytes":"<base64>","p":"..."}), or, for a line starting with '!',
 * given as the chunk payload itself. Events are fed until the first failure, as the provider
 * stops there. Checks: only PL_OK, PL_EPROTO or PL_EUPSTREAM (with an error type); text valid
 * UTF-8 without NUL; the stop reason is refusal exactly after an INTERVENED verdict or a model
 * refusal. Differential, two ways: a wrapped event gives the status and text that the Anthropic
 * interpreter gives for the bare event; and every chunk is also fed to a second interpreter in a
 * layout no fast path takes (keys swapped and a blank before the event inside; a blank before a
 * raw payload), which must give the same status, text and state as Bedrock's own layout, read
 * without a JSON tree. */
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/bedrock_invoke_stream.h"
#include "tests/fuzz/fuzz_check.h"

#define OUT_MAX (64 * 1024 * 1024)

static void on_text(void *ud, const char *text, size_t len)
{
    struct pl_buf *out = ud;
    CHECK(pl_utf8_valid(text, len) && !memchr(text, '\0', len));
    CHECK(pl_buf_printf(out, "%zu:", len) == PL_OK);
    CHECK(pl_buf_append(out, text, len) == PL_OK);
}

/* {"bytes":"<standard base64>","p":"..."} of `len` bytes at `ev`, as Bedrock writes it; or, when
 * `general`, {"p":"...","bytes":"<standard base64 of a blank and the event>"}. */
static void wrap(struct pl_buf *b, const char *ev, size_t len, bool general)
{
    struct pl_buf event;
    pl_buf_init(&event, len + 2);
    CHECK(pl_buf_append(&event, " ", general ? 1 : 0) == PL_OK);
    CHECK(pl_buf_append(&event, ev, len) == PL_OK);
    char *url = pl_base64url_encode(event.data ? event.data : "", event.len);
    size_t n = strlen(url);
    CHECK(pl_buf_append_str(b, general ? "{\"p\":\"abcdef\",\"bytes\":\"" : "{\"bytes\":\"") ==
          PL_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(pl_buf_append(b, url[i] == '-' ? "+" : url[i] == '_' ? "/" : &url[i], 1) == PL_OK);
    CHECK(pl_buf_append(b, "==", (4 - n % 4) % 4) == PL_OK);
    CHECK(pl_buf_append_str(b, general ? "\"}" : "\",\"p\":\"abcdef\"}") == PL_OK);
    pl_free(url);
    pl_buf_cleanup(&event);
}

static bool same_state(const struct bedrock_invoke_stream *x, const struct bedrock_invoke_stream *y)
{
    const struct anth_stream *a = &x->anth, *b = &y->anth;
    return x->guardrail_intervened == y->guardrail_intervened && a->finished == b->finished &&
           a->started == b->started && !strcmp(a->stop_reason, b->stop_reason) &&
           !strcmp(a->model, b->model) && a->input_tokens == b->input_tokens &&
           a->output_tokens == b->output_tokens &&
           a->cache_read_input_tokens == b->cache_read_input_tokens &&
           a->cache_creation_input_tokens == b->cache_creation_input_tokens &&
           !strcmp(a->error_type, b->error_type) && !strcmp(a->error_message, b->error_message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bedrock_invoke_stream s, gen;
    struct anth_stream bare;
    bedrock_invoke_stream_init(&s);
    bedrock_invoke_stream_init(&gen);
    anth_stream_init(&bare);
    struct pl_buf got, want, got_gen, chunk;
    pl_buf_init(&got, OUT_MAX);
    pl_buf_init(&want, OUT_MAX);
    pl_buf_init(&got_gen, OUT_MAX);
    pl_buf_init(&chunk, OUT_MAX);
    bool anth_refusal = false;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t len = (size_t)(line_end - p);
        pl_buf_reset(&chunk);
        int rc, gen_rc;
        if (len > 0 && p[0] == '!') {
            rc = bedrock_invoke_stream_chunk(&s, p + 1, len - 1, on_text, &got);
            CHECK(pl_buf_append(&chunk, " ", 1) == PL_OK);
            CHECK(pl_buf_append(&chunk, p + 1, len - 1) == PL_OK);
            gen_rc = bedrock_invoke_stream_chunk(&gen, chunk.data, chunk.len, on_text, &got_gen);
        } else {
            wrap(&chunk, p, len, false);
            rc = bedrock_invoke_stream_chunk(&s, chunk.data, chunk.len, on_text, &got);
            pl_buf_reset(&chunk);
            wrap(&chunk, p, len, true);
            gen_rc = bedrock_invoke_stream_chunk(&gen, chunk.data, chunk.len, on_text, &got_gen);
            /* The bare event through the Anthropic interpreter. A guardrail key makes the
             * wrapper parse the event itself first; its verdict on malformed JSON is the same. */
            int bare_rc = anth_stream_event(&bare, "message", p, len, on_text, &want);
            CHECK(rc == bare_rc);
            CHECK(got.len == want.len && (got.len == 0 || !memcmp(got.data, want.data, got.len)));
        }
        CHECK(rc == gen_rc && same_state(&s, &gen));
        CHECK(got.len == got_gen.len && (got.len == 0 || !memcmp(got.data, got_gen.data, got.len)));
        CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_EUPSTREAM);
        if (rc == PL_EUPSTREAM)
            CHECK(s.anth.error_type[0] != '\0');
        anth_refusal = !strcmp(s.anth.stop_reason, "refusal");
        CHECK((bedrock_invoke_stream_stop(&s) == LLM_STOP_REFUSAL) ==
              (s.guardrail_intervened || anth_refusal));
        if (rc != PL_OK)
            break;
        if (len > 0 && p[0] == '!') {
            /* The bare interpreter did not see this one: from here on only the wrapper runs. */
            pl_buf_reset(&want);
            pl_buf_append(&want, got.data, got.len);
            bare = s.anth;
        }
        p = nl ? nl + 1 : end;
    }
    pl_buf_cleanup(&got);
    pl_buf_cleanup(&want);
    pl_buf_cleanup(&got_gen);
    pl_buf_cleanup(&chunk);
    return 0;
}
