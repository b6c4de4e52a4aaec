/* The OpenAI-compatible mode of the upstream double; see fake_openai.h. The bytes follow
 * PROTOCOLS 6C: `data: <chunk>\n\n` events without names, a role chunk, one content chunk per
 * token, a finish chunk with an empty delta, a usage chunk with no choices (include_usage), then
 * `data: [DONE]`. Errors in OpenAI's shape, and in vLLM's (integer code, older flat shape). */
#include "tests/fakes/fake_openai.h"
#include "tests/fakes/markers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

static const char *required_key; /* --openai-key; NULL: any */

const char *fake_openai_required_key(void)
{
    return required_key;
}

bool fake_openai_option(const char *flag, const char *value)
{
    if (strcmp(flag, "--openai-key") != 0)
        return false;
    required_key = value;
    return true;
}

static void error_reply(struct fake_openai_reply *out, int status, json_t *body,
                        const char *behaviour)
{
    out->status = status;
    out->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    out->behaviour = behaviour;
}

/* OpenAI's error shape. `code` NULL: null. */
static json_t *oai_error(const char *message, const char *type, const char *code)
{
    return json_pack("{s:{s:s,s:s,s:n,s:o}}", "error", "message", message, "type", type, "param",
                     "code", code ? json_string(code) : json_null());
}

static void check_failed(struct fake_openai_reply *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void check_failed(struct fake_openai_reply *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: %s\n", msg);
    /* vLLM's answer to a request it cannot take: the status as an integer code */
    error_reply(out, 400,
                json_pack("{s:{s:s,s:s,s:n,s:i}}", "error", "message", msg, "type",
                          "BadRequestError", "param", "code", 400),
                "rejected");
}

/* The text of the last message, after checking the list: an optional system message first,
 * then user/assistant alternating from user and ending with user, every content a non-empty
 * string. NULL (and `out` answered) when wrong. */
static const char *check_messages(json_t *messages, struct fake_openai_reply *out, long *bytes)
{
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0) {
        check_failed(out, "messages: at least one message required");
        return NULL;
    }
    size_t start = 0;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (i == 0 && role && !strcmp(role, "system"))
            start = 1;
        const char *want = i < start ? "system" : (i - start) % 2 ? "assistant" : "user";
        if (!role || strcmp(role, want) != 0) {
            check_failed(out,
                         "messages.%zu.role: expected %s (a system message may come first, then "
                         "user and assistant alternating from user; got %s)",
                         i, want, role ? role : "none");
            return NULL;
        }
        if (!json_is_string(content) || json_string_length(content) == 0) {
            check_failed(out, "messages.%zu.content: a non-empty string", i);
            return NULL;
        }
        *bytes += (long)json_string_length(content);
        last = json_string_value(content);
    }
    if ((n - start) % 2 == 0) {
        check_failed(out, "the last message must be from the user");
        return NULL;
    }
    return last;
}

static const char *check_request(json_t *headers, json_t *body, struct fake_openai_reply *out,
                                 long *bytes)
{
    const char *auth = json_string_value(json_object_get(headers, "authorization"));
    if (required_key &&
        (!auth || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, required_key) != 0)) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: bad or missing bearer key\n");
        error_reply(
            out, 401,
            oai_error("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
            "rejected");
        return NULL;
    }
    const char *ctype = json_string_value(json_object_get(headers, "content-type"));
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
        check_failed(out, "content-type must be application/json");
        return NULL;
    }
    if (!json_is_object(body)) {
        check_failed(out, "body is not a JSON object");
        return NULL;
    }
    json_t *model = json_object_get(body, "model");
    if (!json_is_string(model) || json_string_length(model) == 0) {
        check_failed(out, "model: a non-empty string required");
        return NULL;
    }
    if (!json_is_true(json_object_get(body, "stream"))) {
        check_failed(out, "this double only streams: stream: true");
        return NULL;
    }
    json_t *so = json_object_get(body, "stream_options");
    if (!json_is_object(so) || !json_is_true(json_object_get(so, "include_usage"))) {
        check_failed(out, "stream_options: {\"include_usage\":true} expected");
        return NULL;
    }
    json_t *max_tokens = json_object_get(body, "max_tokens");
    if (max_tokens && (!json_is_integer(max_tokens) || json_integer_value(max_tokens) <= 0)) {
        check_failed(out, "max_tokens: a positive integer");
        return NULL;
    }
    if (json_object_get(body, "system") || json_object_get(body, "metadata")) {
        check_failed(out, "system and metadata are Anthropic fields, not chat completions'");
        return NULL;
    }
    return check_messages(json_object_get(body, "messages"), out, bytes);
}

/* A chunk as one SSE event: `data: {...}\n\n`. `delta` and `usage` are taken. */
static void add_chunk(json_t *events, unsigned long no, const char *model, json_t *choices,
                      json_t *usage)
{
    char id[48];
    snprintf(id, sizeof(id), "chatcmpl-fake-%lu", no);
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:o,s:o}", "id", id, "object", "chat.completion.chunk",
                          "created", 1700000000, "model", model, "choices", choices, "usage",
                          usage ? usage : json_null());
    char *d = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_array_append_new(events, json_sprintf("data: %s\n\n", d));
    free(d);
}

static json_t *one_choice(json_t *delta, const char *finish)
{
    return json_pack("[{s:i,s:o,s:o}]", "index", 0, "delta", delta, "finish_reason",
                     finish ? json_string(finish) : json_null());
}

static void stream_reply(const char *model, const char *ask, long input_tokens, unsigned long no,
                         const char *default_text, const char *behaviour,
                         struct fake_openai_reply *out)
{
    json_t *tokens;
    const char *tm = strstr(ask, "[[text:");
    long n_tokens = fake_marker_num(ask, "tokens", -1);
    if (tm) {
        const char *end = strstr(tm + 7, "]]");
        char *t = pl_strndup(tm + 7, end ? (size_t)(end - tm - 7) : strlen(tm + 7));
        tokens = fake_tokens_of(t);
        pl_free(t);
    } else if (n_tokens >= 0) {
        tokens = json_array();
        for (long i = 1; i <= n_tokens; i++)
            json_array_append_new(tokens, json_sprintf("w%ld%s", i, i < n_tokens ? " " : ""));
    } else {
        tokens = fake_tokens_of(default_text);
    }
    bool error_mid = !strcmp(behaviour, "error-mid"), cut = !strcmp(behaviour, "cut");
    bool malformed = !strcmp(behaviour, "malformed"), stall = !strcmp(behaviour, "stall");
    json_t *ev = json_array();
    add_chunk(ev, no, model,
              one_choice(json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL), NULL);
    out->first_delta = 1;
    size_t n = json_array_size(tokens);
    if (!stall) {
        for (size_t i = 0; i < n; i++) {
            if ((error_mid || cut) && i == 3)
                break;
            if (malformed && i == 2)
                json_array_append_new(ev, json_string("data: {\"id\":\"chatcmpl-fake\",\n\n"));
            add_chunk(ev, no, model,
                      one_choice(json_pack("{s:O}", "content", json_array_get(tokens, i)), NULL),
                      NULL);
        }
        if (error_mid) {
            json_t *e = oai_error("Overloaded", "server_error", NULL);
            char *d = json_dumps(e, JSON_COMPACT);
            json_decref(e);
            json_array_append_new(ev, json_sprintf("data: %s\n\n", d));
            free(d);
        } else if (!cut) {
            add_chunk(
                ev, no, model,
                one_choice(json_object(), !strcmp(behaviour, "max-tokens") ? "length" : "stop"),
                NULL);
            if (!fake_has_marker(ask, "no-usage"))
                add_chunk(ev, no, model, json_array(),
                          json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)input_tokens,
                                    "completion_tokens", (json_int_t)n, "total_tokens",
                                    (json_int_t)(input_tokens + (long)n)));
            json_array_append_new(ev, json_string("data: [DONE]\n\n"));
        }
    }
    json_decref(tokens);
    out->status = 200;
    out->events = ev;
    out->first_ms = fake_marker_num(ask, "first", -1);
    out->pace_ms = fake_marker_num(ask, "pace", -1);
    out->ending = stall       ? FAKE_OAI_STALL
                  : cut       ? FAKE_OAI_CUT
                  : error_mid ? FAKE_OAI_ERROR_CLOSE
                              : FAKE_OAI_FINISH;
    out->behaviour = behaviour;
}

static const char *const fault_markers[] = {"429-noretry", "429",       "529",       "503",
                                            "500",         "400",       "cut",       "error-mid",
                                            "stall",       "malformed", "max-tokens"};

void fake_openai_handle(json_t *headers, json_t *body, unsigned long request_no, json_t *flaky,
                        const char *default_text, struct fake_openai_reply *out)
{
    memset(out, 0, sizeof(*out));
    out->pace_ms = out->first_ms = -1;
    long bytes = 0;
    const char *last = check_request(headers, body, out, &bytes);
    if (!last)
        return;
    const char *behaviour = "normal";
    for (size_t i = 0; i < sizeof(fault_markers) / sizeof(fault_markers[0]); i++) {
        if (fake_has_marker(last, fault_markers[i])) {
            behaviour = fault_markers[i];
            break;
        }
    }
    long n_flaky = fake_marker_num(last, "flaky", -1);
    if (n_flaky >= 0) {
        char name[32];
        snprintf(name, sizeof(name), "flaky:%ld", n_flaky);
        json_int_t seen = json_integer_value(json_object_get(flaky, name));
        json_object_set_new(flaky, name, json_integer(seen + 1));
        if (seen < n_flaky)
            behaviour = "429"; /* what a loaded on-prem server answers */
    }
    if (!strcmp(behaviour, "429")) {
        snprintf(out->extra_headers, sizeof(out->extra_headers), "retry-after: 1\r\n");
        error_reply(out, 429,
                    oai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                    behaviour);
    } else if (!strcmp(behaviour, "429-noretry")) {
        error_reply(out, 429,
                    oai_error("You exceeded your current quota", "insufficient_quota",
                              "insufficient_quota"),
                    behaviour);
    } else if (!strcmp(behaviour, "500")) {
        error_reply(out, 500, oai_error("The server had an error", "server_error", NULL),
                    behaviour);
    } else if (!strcmp(behaviour, "503") || !strcmp(behaviour, "529")) {
        /* older vLLM's flat shape */
        error_reply(out, 503,
                    json_pack("{s:s,s:s,s:s,s:n,s:i}", "object", "error", "message",
                              "The model is overloaded", "type", "ServiceUnavailableError", "param",
                              "code", 503),
                    behaviour);
    } else if (!strcmp(behaviour, "400")) {
        error_reply(out, 400,
                    json_pack("{s:{s:s,s:s,s:n,s:i}}", "error", "message",
                              "This model's maximum context length is 8192 tokens", "type",
                              "BadRequestError", "param", "code", 400),
                    behaviour);
    } else {
        stream_reply(json_string_value(json_object_get(body, "model")), last, bytes / 4, request_no,
                     default_text, behaviour, out);
    }
}

void fake_openai_reply_cleanup(struct fake_openai_reply *r)
{
    free(r->body);
    json_decref(r->events);
    r->body = NULL;
    r->events = NULL;
}
