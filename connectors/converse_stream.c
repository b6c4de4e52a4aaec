/* ConverseStream events; see converse_stream.h. */
#include "connectors/converse_stream.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

void converse_stream_init(struct converse_stream *s)
{
    memset(s, 0, sizeof(*s));
}

/* A token count: a non-negative JSON integer, else the current value kept. */
static void read_count(json_t *usage, const char *name, long *out)
{
    json_t *v = json_object_get(usage, name);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        *out = (long)json_integer_value(v);
}

static const char *const known_types[] = {"messageStart",      "contentBlockStart",
                                          "contentBlockDelta", "contentBlockStop",
                                          "messageStop",       "metadata"};

static bool known(const char *type)
{
    for (size_t i = 0; i < sizeof(known_types) / sizeof(*known_types); i++)
        if (!strcmp(type, known_types[i]))
            return true;
    return false;
}

static int handle(struct converse_stream *s, const char *type, json_t *j, converse_text_cb on_text,
                  void *ud)
{
    if (s->finished)
        return PL_EPROTO;
    if (!strcmp(type, "messageStart")) {
        if (s->started)
            return PL_EPROTO;
        s->started = true;
        return PL_OK;
    }
    if (!s->started)
        return PL_EPROTO;
    if (!strcmp(type, "contentBlockDelta")) {
        json_t *text = json_object_get(json_object_get(j, "delta"), "text");
        if (!text)
            return PL_OK; /* toolUse, reasoningContent, citation, ... */
        if (!json_is_string(text) || s->stopped)
            return PL_EPROTO;
        if (json_string_length(text) > 0)
            on_text(ud, json_string_value(text), json_string_length(text));
        return PL_OK;
    }
    if (!strcmp(type, "messageStop")) {
        if (s->stopped)
            return PL_EPROTO;
        const char *reason = json_string_value(json_object_get(j, "stopReason"));
        snprintf(s->stop_reason, sizeof(s->stop_reason), "%s", reason ? reason : "end_turn");
        s->stopped = true;
    } else if (!strcmp(type, "metadata")) {
        json_t *usage = json_object_get(j, "usage");
        read_count(usage, "inputTokens", &s->usage.input_tokens);
        read_count(usage, "outputTokens", &s->usage.output_tokens);
        read_count(usage, "cacheReadInputTokens", &s->usage.cache_read_input_tokens);
        read_count(usage, "cacheWriteInputTokens", &s->usage.cache_creation_input_tokens);
        s->has_usage = true;
    }
    /* contentBlockStart and contentBlockStop: nothing to keep. */
    s->finished = s->stopped && s->has_usage;
    return PL_OK;
}

int converse_stream_event(struct converse_stream *s, const char *event_type, const char *payload,
                          size_t len, converse_text_cb on_text, void *ud)
{
    if (!event_type || !known(event_type))
        return PL_OK; /* event types added later: whatever they carry */
    json_error_t err;
    json_t *j = json_loadb(payload, len, 0, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        return PL_EPROTO;
    }
    int rc = handle(s, event_type, j, on_text, ud);
    json_decref(j);
    return rc;
}

enum llm_stop converse_stream_stop(const struct converse_stream *s)
{
    if (!strcmp(s->stop_reason, "guardrail_intervened") ||
        !strcmp(s->stop_reason, "content_filtered"))
        return LLM_STOP_REFUSAL;
    return llm_stop_from_model(s->stop_reason);
}
