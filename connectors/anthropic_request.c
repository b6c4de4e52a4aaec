/* Request body of the Messages API; see anthropic_request.h. */
#include "connectors/anthropic_request.h"

#include "common/err.h"

int anthropic_request_body(struct pl_buf *out, const char *model, const struct prompt *req)
{
    struct anthropic_request_opts opts = {.model = model, .stream = true, .metadata = true};
    return anthropic_request_body_opts(out, &opts, req);
}

int anthropic_request_body_opts(struct pl_buf *out, const struct anthropic_request_opts *opts,
                                const struct prompt *req)
{
    bool cache = opts->prompt_cache;
    int rc = pl_buf_append_str(out, "{");
    if (!rc && opts->body_version) {
        rc = pl_buf_append_str(out, "\"anthropic_version\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, opts->body_version);
        if (!rc)
            rc = pl_buf_append_str(out, ",");
    }
    if (!rc && opts->model) {
        rc = pl_buf_append_str(out, "\"model\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, opts->model);
        if (!rc)
            rc = pl_buf_append_str(out, ",");
    }
    if (!rc)
        rc = pl_buf_printf(out, "\"max_tokens\":%d%s", req->max_tokens,
                           opts->stream ? ",\"stream\":true" : "");
    if (!rc && req->system && *req->system) {
        /* Cached: the system prompt is the prefix every turn of every session repeats. */
        rc = pl_buf_append_str(out, cache ? ",\"system\":[{\"type\":\"text\",\"text\":"
                                          : ",\"system\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->system);
        if (!rc && cache)
            rc = pl_buf_append_str(out, ",\"cache_control\":{\"type\":\"ephemeral\"}}]");
    }
    if (!rc && opts->metadata && req->user_id && *req->user_id) {
        rc = pl_buf_append_str(out, ",\"metadata\":{\"user_id\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->user_id);
        if (!rc)
            rc = pl_buf_append_str(out, "}");
    }
    if (!rc)
        rc = pl_buf_append_str(out, ",\"messages\":[");
    for (size_t i = 0; !rc && i < req->n_messages; i++) {
        rc = pl_buf_append_str(out, i ? ",{\"role\":" : "{\"role\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->messages[i].role);
        if (!rc)
            rc = pl_buf_append_str(out, ",\"content\":");
        if (!rc)
            rc = pl_buf_append_json_string(out, req->messages[i].text);
        if (!rc)
            rc = pl_buf_append_str(out, "}");
    }
    if (!rc)
        rc = pl_buf_append_str(out, "]}");
    return rc;
}
