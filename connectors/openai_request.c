/* Request body of OpenAI-compatible chat completions; see openai_request.h. */
#include "connectors/openai_request.h"

#include <string.h>

#include "common/err.h"

static int put(struct pl_buf *out, const char *s)
{
    return pl_buf_append(out, s, strlen(s));
}

static int put_string(struct pl_buf *out, const char *s)
{
    int rc = pl_buf_append(out, "\"", 1);
    if (!rc)
        rc = pl_buf_append_json_escaped(out, s, strlen(s));
    if (!rc)
        rc = pl_buf_append(out, "\"", 1);
    return rc;
}

static int put_message(struct pl_buf *out, bool first, const char *role, const char *text)
{
    int rc = put(out, first ? "{\"role\":" : ",{\"role\":");
    if (!rc)
        rc = put_string(out, role);
    if (!rc)
        rc = put(out, ",\"content\":");
    if (!rc)
        rc = put_string(out, text);
    if (!rc)
        rc = put(out, "}");
    return rc;
}

int openai_request_body(struct pl_buf *out, const char *model, const struct prompt *req)
{
    int rc = put(out, "{\"model\":");
    if (!rc)
        rc = put_string(out, model);
    if (!rc)
        rc = put(out, ",\"messages\":[");
    /* These APIs have no separate system field: the system prompt is the first message. */
    bool first = true;
    if (!rc && req->system && *req->system) {
        rc = put_message(out, true, "system", req->system);
        first = false;
    }
    for (size_t i = 0; !rc && i < req->n_messages; i++) {
        rc = put_message(out, first, req->messages[i].role, req->messages[i].text);
        first = false;
    }
    if (!rc)
        rc = pl_buf_printf(out,
                           "],\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                           "\"max_tokens\":%d}",
                           req->max_tokens);
    return rc;
}
