/* Anthropic stream events; see anthropic_stream.h. */
#include "connectors/anthropic_stream.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "connectors/json_fast.h"

/* The fast path's unescaped text lives here when it holds escapes (a delta is a few words). */
#define FAST_TEXT_MAX 1024

void anth_stream_init(struct anth_stream *s)
{
    memset(s, 0, sizeof(*s));
}

static void copy_str(char *out, size_t outlen, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(out, outlen, "%s", s ? s : "");
}

/* message_start.message.usage, or message_delta.usage (which repeats every count, cumulatively):
 * a count that is absent or null keeps what an earlier event said. */
static void read_count(json_t *usage, const char *name, long *out)
{
    json_t *v = json_object_get(usage, name);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        *out = (long)json_integer_value(v);
}

static void read_usage(struct anth_stream *s, json_t *usage)
{
    read_count(usage, "input_tokens", &s->input_tokens);
    read_count(usage, "output_tokens", &s->output_tokens);
    read_count(usage, "cache_read_input_tokens", &s->cache_read_input_tokens);
    read_count(usage, "cache_creation_input_tokens", &s->cache_creation_input_tokens);
}

static int handle(struct anth_stream *s, const char *event, json_t *j, anth_text_cb on_text,
                  void *ud)
{
    if (!strcmp(event, "error")) {
        json_t *e = json_object_get(j, "error");
        copy_str(s->error_type, sizeof(s->error_type), json_object_get(e, "type"));
        copy_str(s->error_message, sizeof(s->error_message), json_object_get(e, "message"));
        if (!s->error_type[0])
            snprintf(s->error_type, sizeof(s->error_type), "unknown_error");
        return PL_EUPSTREAM;
    }
    if (s->finished)
        return PL_EPROTO;
    if (!strcmp(event, "message_start")) {
        json_t *m = json_object_get(j, "message");
        if (!json_is_object(m))
            return PL_EPROTO;
        copy_str(s->model, sizeof(s->model), json_object_get(m, "model"));
        read_usage(s, json_object_get(m, "usage"));
        s->started = true;
        return PL_OK;
    }
    if (!strcmp(event, "ping"))
        return PL_OK;
    if (!s->started)
        return PL_EPROTO;
    if (!strcmp(event, "content_block_delta")) {
        json_t *d = json_object_get(j, "delta");
        if (!json_is_object(d))
            return PL_EPROTO;
        const char *type = json_string_value(json_object_get(d, "type"));
        if (type && !strcmp(type, "text_delta")) {
            json_t *text = json_object_get(d, "text");
            if (!json_is_string(text))
                return PL_EPROTO;
            on_text(ud, json_string_value(text), json_string_length(text));
        }
        return PL_OK;
    }
    if (!strcmp(event, "message_delta")) {
        json_t *d = json_object_get(j, "delta");
        json_t *reason = json_object_get(d, "stop_reason");
        if (json_is_string(reason))
            copy_str(s->stop_reason, sizeof(s->stop_reason), reason);
        read_usage(s, json_object_get(j, "usage"));
        return PL_OK;
    }
    if (!strcmp(event, "message_stop")) {
        s->finished = true;
        return PL_OK;
    }
    return PL_OK; /* content_block_start/stop and events added later */
}

/* content_block_delta with a text_delta, in the exact layout the API writes, handled without
 * building a JSON tree: this event is nearly the whole stream. The event may also be named
 * "message" (no event: line, or Bedrock's InvokeModel chunks): the data's own type then names
 * it, as on the general path. True if handled. */
static bool fast_text_delta(struct anth_stream *s, const char *event, const char *data, size_t len,
                            anth_text_cb on_text, void *ud)
{
    static const char head[] = "{\"type\":\"content_block_delta\",\"index\":";
    static const char mid[] = ",\"delta\":{\"type\":\"text_delta\",\"text\":\"";
    const char *p = data, *limit = data + len;
    if ((strcmp(event, "content_block_delta") != 0 && strcmp(event, "message") != 0) ||
        !s->started || s->finished || len < sizeof(head) - 1 ||
        memcmp(p, head, sizeof(head) - 1) != 0)
        return false;
    p += sizeof(head) - 1;
    p = json_fast_index_then(p, limit, mid);
    if (!p)
        return false;
    char text[FAST_TEXT_MAX];
    const char *end;
    long n = json_fast_string(p, limit, text, sizeof(text), &end);
    if (n < 0 || limit - end != 2 || end[0] != '}' || end[1] != '}')
        return false;
    on_text(ud, text, (size_t)n);
    return true;
}

static bool is(const char *data, size_t len, const char *literal)
{
    return len == strlen(literal) && memcmp(data, literal, len) == 0;
}

/* True if `data` is exactly `head`, an index (json_index), then `tail`. */
static bool is_indexed(const char *data, size_t len, const char *head, const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    if (len <= h + t || memcmp(data, head, h) != 0 || memcmp(data + len - t, tail, t) != 0)
        return false;
    for (size_t i = h; i < len - t; i++)
        if (data[i] < '0' || data[i] > '9')
            return false;
    return json_fast_index(data + h, len - h - t);
}

/* The events that carry nothing we keep, in the exact layout the API writes: recognised by
 * their bytes instead of parsed (a JSON tree costs more than the rest of the event's path).
 * An event named "message" is whichever one its data says. */
static bool fast_known_event(struct anth_stream *s, const char *event, const char *data, size_t len)
{
    if (!s->started || s->finished)
        return false; /* the general path says what is wrong */
    bool any = !strcmp(event, "message");
    if ((any || !strcmp(event, "ping")) && is(data, len, "{\"type\":\"ping\"}"))
        return true;
    if ((any || !strcmp(event, "content_block_start")) &&
        is_indexed(data, len, "{\"type\":\"content_block_start\",\"index\":",
                   ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"))
        return true;
    if ((any || !strcmp(event, "content_block_stop")) &&
        is_indexed(data, len, "{\"type\":\"content_block_stop\",\"index\":", "}"))
        return true;
    if ((any || !strcmp(event, "message_stop")) && is(data, len, "{\"type\":\"message_stop\"}")) {
        s->finished = true;
        return true;
    }
    return false;
}

int anth_stream_event(struct anth_stream *s, const char *event, const char *data, size_t len,
                      anth_text_cb on_text, void *ud)
{
    if (fast_text_delta(s, event, data, len, on_text, ud) || fast_known_event(s, event, data, len))
        return PL_OK;
    json_error_t err;
    json_t *j = json_loadb(data, len, 0, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        return PL_EPROTO;
    }
    /* The data's own type names the event; a stream without event: lines still works. */
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!strcmp(event, "message") && type)
        event = type;
    int rc = handle(s, event, j, on_text, ud);
    json_decref(j);
    return rc;
}
