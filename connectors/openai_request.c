/* Request body of OpenAI-compatible chat completions; see openai_request.h. */
#include "connectors/openai_request.h"

#include "common/err.h"

static int put_message(struct pl_buf *out, bool first, const char *role, const char *text)
{
    int rc = pl_buf_append_str(out, first ? "{\"role\":" : ",{\"role\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, role);
    if (!rc)
        rc = pl_buf_append_str(out, ",\"content\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, text);
    if (!rc)
        rc = pl_buf_append_str(out, "}");
    return rc;
}

int openai_request_body(struct pl_buf *out, const char *model, const struct prompt *req)
{
    int rc = pl_buf_append_str(out, "{\"model\":");
    if (!rc)
        rc = pl_buf_append_json_string(out, model);
    if (!rc)
        rc = pl_buf_append_str(out, ",\"messages\":[");
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
