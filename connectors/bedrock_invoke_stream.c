/* InvokeModelWithResponseStream chunks; see bedrock_invoke_stream.h. */
#include "connectors/bedrock_invoke_stream.h"

#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/err.h"
#include "connectors/json_fast.h"

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

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

/* The "bytes" value of a chunk in the exact layout Bedrock writes, {"bytes":"<base64>"} with or
 * without a trailing "p" padding member, found without building a JSON tree: base64 needs no
 * escapes, so the string's bytes are its value. False for anything else (other keys or order,
 * blanks, escapes): the general path reads it. */
static bool fast_bytes(const char *payload, size_t len, const char **b64, size_t *b64len)
{
    static const char head[] = "{\"bytes\":\"";
    const char *p = payload, *limit = payload + len;
    if (len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
        return false;
    p += sizeof(head) - 1;
    const char *start = p;
    while (p < limit && is_base64_char(*p))
        p++;
    if (limit - p < 2 || p[0] != '"')
        return false;
    bool closed = limit - p == 2 && p[1] == '}';
    if (!closed && !(p[1] == ',' && json_fast_padding_end(p + 2, limit, "p")))
        return false;
    *b64 = start;
    *b64len = (size_t)(p - start);
    return true;
}

/* The chunk's decoded event, a new buffer: PL_EPROTO unless the payload is a JSON object with a
 * string "bytes" of padded base64. */
static int chunk_event(const char *payload, size_t len, unsigned char **ev, size_t *evlen)
{
    const char *b64;
    size_t b64len;
    if (fast_bytes(payload, len, &b64, &b64len))
        return pl_base64_decode(b64, b64len, ev, evlen) == PL_OK ? PL_OK : PL_EPROTO;
    json_t *j = json_loadb(payload, len, 0, NULL);
    json_t *bytes = json_object_get(j, "bytes");
    int rc = PL_EPROTO;
    if (json_is_string(bytes) &&
        pl_base64_decode(json_string_value(bytes), json_string_length(bytes), ev, evlen) == PL_OK)
        rc = PL_OK;
    json_decref(j);
    return rc;
}

int bedrock_invoke_stream_chunk(struct bedrock_invoke_stream *s, const char *payload, size_t len,
                                anth_text_cb on_text, void *ud)
{
    unsigned char *ev = NULL;
    size_t evlen = 0;
    int rc = chunk_event(payload, len, &ev, &evlen);
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
