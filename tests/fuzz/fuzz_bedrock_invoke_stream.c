/* libFuzzer target for the InvokeModelWithResponseStream chunk interpreter
 * (connectors/bedrock_invoke_stream.h). The input is one Anthropic stream event a line; each is
 * wrapped as Bedrock sends it ({"bytes":"<base64>","p":"..."}), or, for a line starting with '!',
 * given as the chunk payload itself. Events are fed until the first failure, as the provider
 * stops there. Checks: only PL_OK, PL_EPROTO or PL_EUPSTREAM (with an error type); text valid
 * UTF-8 without NUL; differential: a wrapped event gives the status and text that the Anthropic
 * interpreter gives for the bare event; the stop reason is refusal exactly after an INTERVENED
 * verdict or a model refusal. */
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

/* {"bytes":"<standard base64>","p":"..."} of `len` bytes at `ev`. */
static void wrap(struct pl_buf *b, const char *ev, size_t len)
{
    char *url = pl_base64url_encode(ev, len);
    size_t n = strlen(url);
    CHECK(pl_buf_append_str(b, "{\"p\":\"abcdef\",\"bytes\":\"") == PL_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(pl_buf_append(b, url[i] == '-' ? "+" : url[i] == '_' ? "/" : &url[i], 1) == PL_OK);
    CHECK(pl_buf_append(b, "==", (4 - n % 4) % 4) == PL_OK);
    CHECK(pl_buf_append_str(b, "\"}") == PL_OK);
    pl_free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bedrock_invoke_stream s;
    struct anth_stream bare;
    bedrock_invoke_stream_init(&s);
    anth_stream_init(&bare);
    struct pl_buf got, want, chunk;
    pl_buf_init(&got, OUT_MAX);
    pl_buf_init(&want, OUT_MAX);
    pl_buf_init(&chunk, OUT_MAX);
    bool anth_refusal = false;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t len = (size_t)(line_end - p);
        pl_buf_reset(&chunk);
        int rc;
        if (len > 0 && p[0] == '!') {
            rc = bedrock_invoke_stream_chunk(&s, p + 1, len - 1, on_text, &got);
        } else {
            wrap(&chunk, p, len);
            rc = bedrock_invoke_stream_chunk(&s, chunk.data, chunk.len, on_text, &got);
            /* The bare event through the Anthropic interpreter. A guardrail key makes the
             * wrapper parse the event itself first; its verdict on malformed JSON is the same. */
            int bare_rc = anth_stream_event(&bare, "message", p, len, on_text, &want);
            CHECK(rc == bare_rc);
            CHECK(got.len == want.len && (got.len == 0 || !memcmp(got.data, want.data, got.len)));
        }
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
    pl_buf_cleanup(&chunk);
    return 0;
}
