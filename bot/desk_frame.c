/* Frames of a session's live channel; see desk_frame.h. */
#include "bot/desk_frame.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"

static long get_long(json_t *j, const char *key, long none)
{
    json_t *v = json_object_get(j, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : none;
}

static const char *get_str(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

/* A turn_end frame (false: no stop reason). */
static bool read_end(json_t *j, struct desk_frame *f)
{
    struct turn_end *end = &f->end;
    end->turn = get_long(j, "turn", 0);
    end->answered_in = get_long(j, "answered_in", end->turn);
    end->stop_reason = get_str(j, "stop_reason");
    json_t *u = json_object_get(j, "usage");
    end->input_tokens = get_long(u, "input_tokens", 0);
    end->output_tokens = get_long(u, "output_tokens", 0);
    end->cache_read_input_tokens = get_long(u, "cache_read_input_tokens", 0);
    end->cache_creation_input_tokens = get_long(u, "cache_creation_input_tokens", 0);
    end->cost_micros = get_long(j, "cost_usd_micros", 0);
    json_t *text = json_object_get(j, "text");
    end->streamed = !json_is_string(text); /* its text is there when it was not streamed */
    end->text = json_is_string(text) ? json_string_value(text) : "";
    end->text_len = json_is_string(text) ? json_string_length(text) : 0;
    json_t *c = json_object_get(j, "citations");
    size_t n = json_array_size(c);
    f->_cites = pl_calloc(n ? n : 1, sizeof(*f->_cites));
    for (size_t i = 0; i < n; i++) {
        const char *source = get_str(json_array_get(c, i), "source");
        const char *title = get_str(json_array_get(c, i), "title");
        f->_cites[i].source = source ? source : "";
        f->_cites[i].title = title ? title : "";
    }
    end->citations = n ? f->_cites : NULL;
    end->n_citations = n;
    f->turn.end = end;
    f->turn.seq = get_long(j, "deltas", -1);
    return end->stop_reason != NULL;
}

static bool read_agent(json_t *j, struct desk_frame *f)
{
    static const struct {
        const char *name;
        enum turn_agent_kind kind;
    } kinds[] = {{"watch", TURN_AGENT_WATCH},
                 {"takeover", TURN_AGENT_TAKEOVER},
                 {"say", TURN_AGENT_SAY},
                 {"release", TURN_AGENT_RELEASE}};
    const char *kind = get_str(j, "kind");
    const char *agent = get_str(j, "agent");
    json_t *text = json_object_get(j, "text");
    f->agent = (struct turn_agent_event){
        .agent = agent ? agent : "",
        .turn = get_long(j, "turn", 0),
        .ts_ms = (long long)json_integer_value(json_object_get(j, "ts")),
        .text = json_string_value(text),
        .len = json_string_length(text),
    };
    for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kind, kinds[i].name) == 0) {
            f->agent.kind = kinds[i].kind;
            return kinds[i].kind != TURN_AGENT_SAY || f->agent.text; /* a say says something */
        }
    return false;
}

void desk_frame_parse(const char *data, size_t len, struct desk_frame *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    out->_json = j;
    const char *type = json_is_object(j) ? get_str(j, "type") : NULL;
    if (!type)
        return;
    struct turn_remote_event *ev = &out->turn;
    ev->turn = get_long(j, "turn", 0);
    json_t *text = json_object_get(j, "text");
    bool ok = false;
    if (strcmp(type, "agent") == 0) {
        if (read_agent(j, out))
            out->kind = DESK_FRAME_AGENT;
        return;
    }
    if (strcmp(type, "message") == 0) {
        ev->kind = TURN_REMOTE_MESSAGE;
        ok = json_is_string(text);
    } else if (strcmp(type, "turn_start") == 0) {
        ev->kind = TURN_REMOTE_START;
        ok = true;
    } else if (strcmp(type, "delta") == 0) {
        ev->kind = TURN_REMOTE_DELTA;
        ev->seq = get_long(j, "seq", -1);
        ok = json_is_string(text) && ev->seq >= 0;
    } else if (strcmp(type, "error") == 0) {
        const char *message = get_str(j, "message");
        long retry = get_long(j, "retry_after_ms", 0);
        out->error = (struct turn_error){
            .code = api_error_from_code(get_str(j, "code")),
            .message = message ? message : "",
            .retry_after_ms = (uint32_t)(retry > 0 && retry <= UINT32_MAX ? retry : 0),
        };
        ev->kind = TURN_REMOTE_ERROR;
        ev->error = &out->error;
        ok = out->error.code != API_ERR_NONE;
    } else if (strcmp(type, "turn_end") == 0) {
        ev->kind = TURN_REMOTE_END;
        ok = read_end(j, out);
    }
    if (ok && (ev->kind == TURN_REMOTE_MESSAGE || ev->kind == TURN_REMOTE_DELTA)) {
        ev->text = json_string_value(text);
        ev->len = json_string_length(text);
    }
    if (ok)
        out->kind = DESK_FRAME_TURN;
}

void desk_frame_cleanup(struct desk_frame *f)
{
    json_decref(f->_json);
    pl_free(f->_cites);
    memset(f, 0, sizeof(*f));
}
