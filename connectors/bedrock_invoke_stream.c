/* InvokeModelWithResponseStream chunks; see bedrock_invoke_stream.h. */
#include "connectors/bedrock_invoke_stream.h"

#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/err.h"

#define GUARDRAIL_KEY "amazon-bedrock-guardrailAction"

void bedrock_invoke_stream_init(struct bedrock_invoke_stream *s)
{
    memset(s, 0, sizeof(*s));
    anth_stream_init(&s->anth);
}

/* Bedrock's guardrail verdict, if this event carries one. Only events that mention the key are
 * parsed a second time: nearly every chunk is a text delta without it. */
static int read_guardrail(struct bedrock_invoke_stream *s, const unsigned char *ev, size_t len)
{
    if (!memmem(ev, len, GUARDRAIL_KEY, sizeof(GUARDRAIL_KEY) - 1))
        return PL_OK;
    json_t *j = json_loadb((const char *)ev, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return PL_EPROTO;
    }
    const char *action = json_string_value(json_object_get(j, GUARDRAIL_KEY));
    if (action && !strcmp(action, "INTERVENED"))
        s->guardrail_intervened = true;
    json_decref(j);
    return PL_OK;
}

int bedrock_invoke_stream_chunk(struct bedrock_invoke_stream *s, const char *payload, size_t len,
                                anth_text_cb on_text, void *ud)
{
    json_t *j = json_loadb(payload, len, 0, NULL);
    json_t *bytes = json_object_get(j, "bytes");
    if (!json_is_string(bytes)) {
        json_decref(j);
        return PL_EPROTO;
    }
    unsigned char *ev = NULL;
    size_t evlen = 0;
    int rc = pl_base64_decode(json_string_value(bytes), json_string_length(bytes), &ev, &evlen);
    json_decref(j);
    if (rc != PL_OK)
        return PL_EPROTO;
    rc = read_guardrail(s, ev, evlen);
    if (rc == PL_OK)
        rc = anth_stream_event(&s->anth, "message", (const char *)ev, evlen, on_text, ud);
    pl_free(ev);
    return rc;
}

enum llm_stop bedrock_invoke_stream_stop(const struct bedrock_invoke_stream *s)
{
    if (s->guardrail_intervened)
        return LLM_STOP_REFUSAL;
    return llm_stop_from_model(s->anth.stop_reason);
}
