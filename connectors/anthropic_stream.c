/* Anthropic stream events; see anthropic_stream.h. */
#include "connectors/anthropic_stream.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

void anth_stream_init(struct anth_stream *s)
{
    memset(s, 0, sizeof(*s));
}

static void copy_str(char *out, size_t outlen, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(out, outlen, "%s", s ? s : "");
}

static void read_usage(struct anth_stream *s, json_t *usage)
{
    json_t *in = json_object_get(usage, "input_tokens");
    json_t *out = json_object_get(usage, "output_tokens");
    if (json_is_integer(in))
        s->input_tokens = (long)json_integer_value(in);
    if (json_is_integer(out))
        s->output_tokens = (long)json_integer_value(out);
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

int anth_stream_event(struct anth_stream *s, const char *event, const char *data, size_t len,
                      anth_text_cb on_text, void *ud)
{
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
