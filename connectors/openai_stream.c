/* OpenAI-compatible stream chunks; see openai_stream.h. */
#include "connectors/openai_stream.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

void oai_stream_init(struct oai_stream *s)
{
    memset(s, 0, sizeof(*s));
    s->stop = LLM_STOP_END_TURN;
}

enum llm_stop oai_stop_from_finish(const char *reason)
{
    if (!reason)
        return LLM_STOP_END_TURN;
    if (!strcmp(reason, "length"))
        return LLM_STOP_MAX_TOKENS;
    if (!strcmp(reason, "content_filter"))
        return LLM_STOP_REFUSAL;
    return LLM_STOP_END_TURN; /* stop, tool_calls, function_call, vLLM's free strings */
}

static bool is_one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* The types and codes that say "try again", as the same failure before the stream would be a
 * 429 or a 5xx status. */
static const char *const rate_limited[] = {"rate_limit_error", "rate_limit_exceeded",
                                           "too_many_requests"};
static const char *const transient[] = {"server_error",        "api_error", "overloaded_error",
                                        "service_unavailable", "timeout",   "timeout_error"};
#define COUNT(a) (sizeof(a) / sizeof(*(a)))

void oai_classify_stream_error(const char *type, int status, const char *code,
                               enum api_error *error, bool *retryable)
{
    if (status == 429 || is_one_of(type, rate_limited, COUNT(rate_limited)) ||
        is_one_of(code, rate_limited, COUNT(rate_limited))) {
        *error = API_ERR_RATE_LIMITED;
        *retryable = true;
    } else if (status == 408 || status == 409 || (status >= 500 && status <= 599) ||
               is_one_of(type, transient, COUNT(transient)) ||
               is_one_of(code, transient, COUNT(transient))) {
        *error = API_ERR_UPSTREAM_UNAVAILABLE;
        *retryable = true;
    } else {
        *error = API_ERR_UPSTREAM_ERROR;
        *retryable = false;
    }
}

static void copy_str(char *out, size_t outlen, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(out, outlen, "%s", s ? s : "");
}

/* `e` is the error object: the value of "error", or the whole chunk in older vLLM. */
static int take_error(struct oai_stream *s, json_t *e)
{
    copy_str(s->error_type, sizeof(s->error_type), json_object_get(e, "type"));
    copy_str(s->error_message, sizeof(s->error_message), json_object_get(e, "message"));
    if (!s->error_type[0])
        snprintf(s->error_type, sizeof(s->error_type), "unknown_error");
    json_t *code = json_object_get(e, "code");
    json_int_t n = json_is_integer(code) ? json_integer_value(code) : 0;
    int status = n >= 100 && n <= 599 ? (int)n : 0;
    oai_classify_stream_error(s->error_type, status, json_string_value(code), &s->error,
                              &s->retryable);
    return PL_EUPSTREAM;
}

static void read_usage(struct oai_stream *s, json_t *usage)
{
    json_t *in = json_object_get(usage, "prompt_tokens");
    json_t *out = json_object_get(usage, "completion_tokens");
    if (json_is_integer(in)) {
        s->prompt_tokens = (long)json_integer_value(in);
        s->has_usage = true;
    }
    if (json_is_integer(out)) {
        s->completion_tokens = (long)json_integer_value(out);
        s->has_usage = true;
    }
}

/* The choice a single-answer request reads: "index":0, or the only choice when a server leaves
 * the index out. Never simply the first element: the usage chunk has none. */
static bool is_first_choice(json_t *choice, size_t count)
{
    json_t *index = json_object_get(choice, "index");
    if (index)
        return json_is_integer(index) && json_integer_value(index) == 0;
    return count == 1;
}

static int read_choice(struct oai_stream *s, json_t *c, oai_text_cb on_text, void *ud)
{
    json_t *delta = json_object_get(c, "delta");
    json_t *content = json_object_get(delta, "content");
    if (content && !json_is_null(content)) {
        if (!json_is_string(content))
            return PL_EPROTO;
        if (json_string_length(content) > 0)
            on_text(ud, json_string_value(content), json_string_length(content));
    }
    json_t *reason = json_object_get(c, "finish_reason");
    if (json_is_string(reason)) {
        copy_str(s->finish_reason, sizeof(s->finish_reason), reason);
        s->stop = oai_stop_from_finish(json_string_value(reason));
        s->finished = true;
    }
    return PL_OK;
}

static int handle(struct oai_stream *s, json_t *j, oai_text_cb on_text, void *ud)
{
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e))
        return take_error(s, e);
    const char *object = json_string_value(json_object_get(j, "object"));
    if (object && !strcmp(object, "error"))
        return take_error(s, j);
    json_t *model = json_object_get(j, "model");
    if (json_is_string(model))
        copy_str(s->model, sizeof(s->model), model);
    json_t *choices = json_object_get(j, "choices");
    if (choices && !json_is_array(choices))
        return PL_EPROTO;
    size_t count = json_array_size(choices);
    for (size_t i = 0; i < count; i++) {
        json_t *c = json_array_get(choices, i);
        if (!json_is_object(c))
            return PL_EPROTO;
        if (is_first_choice(c, count)) {
            int rc = read_choice(s, c, on_text, ud);
            if (rc != PL_OK)
                return rc;
        }
    }
    read_usage(s, json_object_get(j, "usage")); /* null on all but the last chunk(s) */
    return PL_OK;
}

int oai_stream_event(struct oai_stream *s, const char *data, size_t len, oai_text_cb on_text,
                     void *ud)
{
    if (s->done)
        return PL_EPROTO;
    static const char done[] = "[DONE]";
    if (len == sizeof(done) - 1 && !memcmp(data, done, len)) {
        s->done = true;
        return PL_OK;
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return PL_EPROTO;
    }
    int rc = handle(s, j, on_text, ud);
    json_decref(j);
    return rc;
}
