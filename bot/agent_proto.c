/* Agent protocol encoders and frame parser; see agent_proto.h. */
#include "bot/agent_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bot/json_in.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"

#define KNOWN_TYPES "hello, list, watch, unwatch, takeover, say, release"

/* ---- encoders ---- */

/* Append the compact JSON of `obj` (stolen) to `b`, or leave `b` as it was. */
static void append_json(struct pl_buf *b, json_t *obj)
{
    if (!obj)
        return;
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s)
        return;
    size_t start = b->len;
    if (pl_buf_append_str(b, s) != PL_OK) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    free(s);
}

/* A JSON string that is never NULL: jansson refuses invalid UTF-8, which is replaced here. */
static json_t *str_or_empty(const char *s)
{
    json_t *v = json_string(s ? s : "");
    return v ? v : json_string("\xEF\xBF\xBD");
}

void agent_out_ready(struct pl_buf *b, const char *agent, const char *role, unsigned max_watches)
{
    append_json(b, json_pack("{s:s,s:o,s:s,s:I}", "type", "ready", "agent", str_or_empty(agent),
                             "role", role, "max_watches", (json_int_t)max_watches));
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? str_or_empty(s) : json_null();
}

/* A row of the desk's list, as `sessions` and `session_update` carry it. */
static json_t *row_json(const struct sess_list_row *r)
{
    json_t *row =
        json_pack("{s:o,s:o,s:o,s:{s:o,s:o},s:I,s:o}", "session_id", str_or_empty(r->session_id),
                  "channel", str_or_empty(r->channel), "state", str_or_empty(r->state), "caller",
                  "id", str_or_null(r->caller_id), "name", str_or_null(r->caller_name), "updated",
                  (json_int_t)r->updated_ms, "last_text", str_or_empty(r->last_text));
    if (row && strcmp(r->state, "waiting_agent") == 0) {
        if (r->reason[0])
            json_object_set_new(row, "reason", str_or_empty(r->reason));
        json_object_set_new(row, "waiting_since", json_integer((json_int_t)r->waiting_since_ms));
    }
    return row;
}

void agent_out_sessions(struct pl_buf *b, const struct sess_list_row *rows, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, row_json(&rows[i]));
    append_json(b, json_pack("{s:s,s:o}", "type", "sessions", "sessions", list));
}

void agent_out_session_row(struct pl_buf *b, const struct sess_list_row *r)
{
    json_t *update = json_pack("{s:s}", "type", "session_update");
    json_t *row = row_json(r);
    if (update && row)
        json_object_update(update, row);
    json_decref(row);
    append_json(b, update);
}

void agent_out_handoff(struct pl_buf *b, const char *sid, json_t *packet)
{
    append_json(b, json_pack("{s:s,s:s,s:o}", "type", "handoff", "session_id", sid, "packet",
                             packet ? packet : json_object()));
}

void agent_event_message(struct pl_buf *b, const char *role, long turn, const char *text,
                         size_t len)
{
    json_t *t = json_stringn(text ? text : "", text ? len : 0);
    if (!t)
        t = json_string("\xEF\xBF\xBD");
    append_json(b, json_pack("{s:s,s:s,s:I,s:o}", "type", "message", "role", role ? role : "",
                             "turn", (json_int_t)turn, "text", t));
}

void agent_event_agent_message(struct pl_buf *b, const char *agent, long turn, const char *text,
                               size_t len)
{
    json_t *t = json_stringn(text ? text : "", text ? len : 0);
    if (!t)
        t = json_string("\xEF\xBF\xBD");
    append_json(b, json_pack("{s:s,s:s,s:I,s:o,s:o}", "type", "message", "role", "agent", "turn",
                             (json_int_t)turn, "text", t, "agent", str_or_empty(agent)));
}

void agent_event_audit(struct pl_buf *b, const char *agent, const char *action, long turn,
                       long long ts_ms)
{
    append_json(b, json_pack("{s:s,s:o,s:o,s:I,s:I}", "type", "audit", "agent", str_or_empty(agent),
                             "action", str_or_empty(action), "turn", (json_int_t)turn, "ts",
                             (json_int_t)ts_ms));
}

void agent_out_session_state(struct pl_buf *b, const char *sid, const char *state,
                             const char *agent)
{
    json_t *o = json_pack("{s:s,s:o,s:o}", "type", "session_update", "session_id",
                          str_or_empty(sid), "state", str_or_empty(state));
    if (o && agent && agent[0])
        json_object_set_new(o, "agent", str_or_empty(agent));
    append_json(b, o);
}

void agent_out_unwatched(struct pl_buf *b, const char *sid)
{
    append_json(b, json_pack("{s:s,s:o}", "type", "unwatched", "session_id", str_or_empty(sid)));
}

/* True when the object at `frame` has no member: only white space before its '}'. */
static bool empty_object(const char *frame, size_t len)
{
    size_t i = 1;
    while (i < len && (frame[i] == ' ' || frame[i] == '\t' || frame[i] == '\n' || frame[i] == '\r'))
        i++;
    return i < len && frame[i] == '}';
}

void agent_out_for_session(struct pl_buf *b, const char *sid, const char *frame, size_t len)
{
    if (len < 2 || frame[0] != '{' || !sess_id_valid(sid))
        return;
    size_t start = b->len;
    int rc = pl_buf_append_str(b, "{\"session_id\":\"");
    if (!rc)
        rc = pl_buf_append_str(b, sid);
    if (!rc)
        rc = pl_buf_append_str(b, empty_object(frame, len) ? "\"" : "\",");
    if (!rc)
        rc = pl_buf_append(b, frame + 1, len - 1);
    if (rc) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
}

/* ---- parser ---- */

static int parse_session_id(json_t *root, const char *t, struct agent_in *out,
                            struct chat_error *err)
{
    json_t *v = json_object_get(root, "session_id");
    if (!json_is_string(v) || json_string_length(v) != SESS_ID_LEN ||
        !sess_id_valid(json_string_value(v))) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "%s: \"session_id\" is required: 32 lower-case hex characters, as list gives",
                      t);
        return PL_EINVAL;
    }
    memcpy(out->session_id, json_string_value(v), SESS_ID_LEN + 1);
    return PL_OK;
}

static int parse_hello(json_t *root, struct agent_in *out, struct chat_error *err)
{
    json_t *token = json_object_get(root, "token");
    if (!json_is_string(token) || json_string_length(token) == 0) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "hello: \"token\" is required: an agent or admin token (parley token --role "
                      "agent)");
        return PL_EINVAL;
    }
    out->token = pl_strndup(json_string_value(token), json_string_length(token));
    return PL_OK;
}

static int parse_say(json_t *root, const struct chat_limits *lim, struct agent_in *out,
                     struct chat_error *err)
{
    if (parse_session_id(root, "say", out, err) != PL_OK)
        return PL_EINVAL;
    const char *s;
    size_t n;
    if (json_in_text(root, "say", lim->max_text_chars, "", &s, &n, err) != PL_OK)
        return PL_EINVAL;
    out->text = pl_strndup(s, n);
    out->text_len = n;
    return PL_OK;
}

int agent_in_parse(const char *data, size_t len, const struct chat_limits *lim,
                   struct agent_in *out, struct chat_error *err)
{
    memset(out, 0, sizeof(*out));
    err->code = API_ERR_NONE;
    err->message[0] = '\0';
    json_t *root = json_in_object(data, len, lim->max_frame_bytes, "{\"type\":\"list\"}", err);
    if (!root)
        return PL_EINVAL;
    int rc = PL_EINVAL;
    json_t *type = json_object_get(root, "type");
    const char *t = json_is_string(type) ? json_string_value(type) : NULL;
    if (!t) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "frame needs a \"type\" string; the known types are " KNOWN_TYPES);
    } else if (strcmp(t, "hello") == 0) {
        out->type = AGENT_IN_HELLO;
        rc = parse_hello(root, out, err);
    } else if (strcmp(t, "list") == 0) {
        out->type = AGENT_IN_LIST;
        rc = PL_OK;
    } else if (strcmp(t, "watch") == 0) {
        out->type = AGENT_IN_WATCH;
        rc = parse_session_id(root, t, out, err);
    } else if (strcmp(t, "unwatch") == 0) {
        out->type = AGENT_IN_UNWATCH;
        rc = parse_session_id(root, t, out, err);
    } else if (strcmp(t, "takeover") == 0) {
        out->type = AGENT_IN_TAKEOVER;
        rc = parse_session_id(root, t, out, err);
    } else if (strcmp(t, "release") == 0) {
        out->type = AGENT_IN_RELEASE;
        rc = parse_session_id(root, t, out, err);
    } else if (strcmp(t, "say") == 0) {
        out->type = AGENT_IN_SAY;
        rc = parse_say(root, lim, out, err);
    } else {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "unknown type \"%.*s\"; the known types are " KNOWN_TYPES,
                      json_in_quoted_len(t), t);
    }
    json_decref(root);
    if (rc != PL_OK)
        agent_in_cleanup(out);
    return rc;
}

void agent_in_cleanup(struct agent_in *in)
{
    if (!in)
        return;
    pl_free(in->token);
    pl_free(in->text);
    memset(in, 0, sizeof(*in));
}
