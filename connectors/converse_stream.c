/* ConverseStream events; see converse_stream.h. */
#include "connectors/converse_stream.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "connectors/json_fast.h"

/* The fast path's unescaped text lives here when it holds escapes (a delta is a few words). */
#define FAST_TEXT_MAX 1024

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
        /* An empty reason says no more than a missing one. */
        const char *reason = json_string_value(json_object_get(j, "stopReason"));
        snprintf(s->stop_reason, sizeof(s->stop_reason), "%s",
                 reason && *reason ? reason : "end_turn");
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

/* A text delta in the exact layout Bedrock writes, {"contentBlockIndex":N,"delta":{"text":"..."}}
 * with or without a trailing "p" padding member, read without building a JSON tree: it is nearly
 * every event of an answer. Anything else (other keys or order, blanks, \u escapes, a state the
 * general path refuses) is left to it. True if handled. */
static bool fast_text_delta(struct converse_stream *s, const char *type, const char *payload,
                            size_t len, converse_text_cb on_text, void *ud)
{
    static const char head[] = "{\"contentBlockIndex\":";
    static const char mid[] = ",\"delta\":{\"text\":\"";
    const char *p = payload, *limit = payload + len;
    if (strcmp(type, "contentBlockDelta") != 0 || !s->started || s->stopped ||
        len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
        return false;
    p = json_fast_index_then(p + sizeof(head) - 1, limit, mid);
    if (!p)
        return false;
    char text[FAST_TEXT_MAX];
    const char *end;
    long n = json_fast_string(p, limit, text, sizeof(text), &end);
    if (n < 0 || limit - end < 2 || end[0] != '}')
        return false;
    end++;
    bool closed = limit - end == 1 && end[0] == '}';
    if (!closed && !(end[0] == ',' && json_fast_padding_end(end + 1, limit, "p")))
        return false;
    if (n > 0)
        on_text(ud, text, (size_t)n);
    return true;
}

int converse_stream_event(struct converse_stream *s, const char *event_type, const char *payload,
                          size_t len, converse_text_cb on_text, void *ud)
{
    if (!event_type || !known(event_type))
        return PL_OK; /* event types added later: whatever they carry */
    if (fast_text_delta(s, event_type, payload, len, on_text, ud))
        return PL_OK;
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
