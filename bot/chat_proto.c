/* Caller protocol encoders and frame parser; see chat_proto.h. Encoders write through a small
 * writer that remembers the first error so that a frame is either complete or not written. */
#include "bot/chat_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bot/json_in.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"

#define ID_MAX_BYTES     128
#define REASON_MAX_CHARS 500
#define KNOWN_TYPES      "hello, message, cancel, escalate"

/* ---- encoders ---- */

struct writer {
    struct pl_buf *b;
    size_t start; /* length of b when the message began */
    int rc;       /* first error */
};

static void w_begin(struct writer *w, struct pl_buf *b)
{
    w->b = b;
    w->start = b->len;
    w->rc = PL_OK;
}

static void w_raw(struct writer *w, const char *s)
{
    if (!w->rc)
        w->rc = pl_buf_append_str(w->b, s);
}

static void w_printf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(struct writer *w, const char *fmt, ...)
{
    if (w->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = pl_buf_vprintf(w->b, fmt, ap);
    va_end(ap);
}

/* A decimal integer, without printf: the delta frame is written once per token. */
static void w_long(struct writer *w, long v)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *--p = '-';
    if (!w->rc)
        w->rc = pl_buf_append(w->b, p, (size_t)(digits + sizeof(digits) - p));
}

/* A JSON string of the `n` bytes at `s` (null if s is NULL); invalid UTF-8 becomes U+FFFD. */
static void w_strn(struct writer *w, const char *s, size_t n)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    if (w->rc)
        return;
    if (!s) {
        w->rc = pl_buf_append_str(w->b, "null");
        return;
    }
    w->rc = pl_buf_append(w->b, "\"", 1);
    size_t i = 0;
    while (!w->rc && i < n) {
        size_t run = i;
        size_t k;
        while (run < n && (k = pl_utf8_seq_len(s + run, n - run)) > 0)
            run += k;
        w->rc = pl_buf_append_json_escaped(w->b, s + i, run - i);
        if (!w->rc && run < n) {
            w->rc = pl_buf_append(w->b, replacement, sizeof(replacement) - 1);
            run++;
        }
        i = run;
    }
    if (!w->rc)
        w->rc = pl_buf_append(w->b, "\"", 1);
}

static void w_str(struct writer *w, const char *s)
{
    w_strn(w, s, s ? strlen(s) : 0);
}

/* On failure put the buffer back as it was before the message. */
static void w_end(struct writer *w)
{
    if (!w->rc)
        return;
    w->b->len = w->start;
    if (w->b->data)
        w->b->data[w->start] = '\0';
}

static const char *bool_name(bool v)
{
    return v ? "true" : "false";
}

void chat_out_ready(struct pl_buf *b, const char *sid, const char *token, bool resumed)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"ready\",\"session_id\":");
    w_str(&w, sid);
    w_raw(&w, ",\"token\":");
    w_str(&w, token);
    w_printf(&w, ",\"resumed\":%s}", bool_name(resumed));
    w_end(&w);
}

void chat_out_ack(struct pl_buf *b, const char *client_id, long turn)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"ack\",\"id\":");
    w_str(&w, client_id);
    w_printf(&w, ",\"turn\":%ld}", turn);
    w_end(&w);
}

void chat_out_turn_start(struct pl_buf *b, long turn)
{
    struct writer w;
    w_begin(&w, b);
    w_printf(&w, "{\"type\":\"turn_start\",\"turn\":%ld}", turn);
    w_end(&w);
}

void chat_out_agent_joined(struct pl_buf *b, const char *name)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"agent_joined\",\"name\":");
    w_str(&w, name ? name : "");
    w_raw(&w, "}");
    w_end(&w);
}

void chat_out_agent_message(struct pl_buf *b, const char *text, size_t len)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"agent_message\",\"text\":");
    w_strn(&w, text ? text : "", text ? len : 0);
    w_raw(&w, "}");
    w_end(&w);
}

void chat_out_agent_left(struct pl_buf *b)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"agent_left\"}");
    w_end(&w);
}

void chat_out_delta(struct pl_buf *b, long turn, long seq, const char *text, size_t len)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"delta\",\"turn\":");
    w_long(&w, turn);
    w_raw(&w, ",\"seq\":");
    w_long(&w, seq);
    w_raw(&w, ",\"text\":");
    w_strn(&w, text ? text : "", text ? len : 0);
    w_raw(&w, "}");
    w_end(&w);
}

static void w_citations(struct writer *w, const struct turn_end *e)
{
    w_raw(w, ",\"citations\":[");
    for (size_t i = 0; i < e->n_citations; i++) {
        w_raw(w, i ? ",{\"source\":" : "{\"source\":");
        w_str(w, e->citations[i].source);
        w_raw(w, ",\"title\":");
        w_str(w, e->citations[i].title);
        w_raw(w, "}");
    }
    w_raw(w, "]");
}

static void w_usage(struct writer *w, const struct turn_end *e)
{
    w_raw(w, ",\"usage\":{\"input_tokens\":");
    w_long(w, e->input_tokens);
    w_raw(w, ",\"output_tokens\":");
    w_long(w, e->output_tokens);
    w_raw(w, ",\"cache_read_input_tokens\":");
    w_long(w, e->cache_read_input_tokens);
    w_raw(w, ",\"cache_creation_input_tokens\":");
    w_long(w, e->cache_creation_input_tokens);
    w_raw(w, "},\"cost_usd_micros\":");
    w_long(w, (long)e->cost_micros);
}

static void w_turn(struct writer *w, const struct turn_end *e)
{
    w_long(w, e->turn);
    if (e->answered_in != e->turn) {
        w_raw(w, ",\"answered_in\":");
        w_long(w, e->answered_in);
    }
}

void chat_out_turn_end(struct pl_buf *b, const struct turn_end *e)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"turn_end\",\"turn\":");
    w_turn(&w, e);
    w_raw(&w, ",\"stop_reason\":");
    w_str(&w, e->stop_reason);
    w_usage(&w, e);
    w_citations(&w, e);
    if (!e->streamed) {
        /* Answered on another instance (or by another turn): its deltas did not come here. */
        w_raw(&w, ",\"text\":");
        w_strn(&w, e->text ? e->text : "", e->text ? e->text_len : 0);
    }
    w_raw(&w, "}");
    w_end(&w);
}

static void w_error_fields(struct writer *w, enum api_error code, const char *message)
{
    w_raw(w, "\"code\":");
    w_str(w, api_error_code(code));
    w_raw(w, ",\"message\":");
    w_str(w, message ? message : api_error_message(code));
    w_printf(w, ",\"retryable\":%s", bool_name(api_error_retryable(code)));
}

void chat_out_error_retry_after(struct pl_buf *b, enum api_error code, const char *message,
                                uint32_t retry_after_ms)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"error\",");
    w_error_fields(&w, code, message);
    if (retry_after_ms) {
        w_raw(&w, ",\"retry_after_ms\":");
        w_long(&w, (long)retry_after_ms);
    }
    w_raw(&w, "}");
    w_end(&w);
}

void chat_out_error(struct pl_buf *b, enum api_error code, const char *message)
{
    chat_out_error_retry_after(b, code, message, 0);
}

void chat_out_answer(struct pl_buf *b, const struct turn_end *e)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"turn\":");
    w_turn(&w, e);
    w_raw(&w, ",\"text\":");
    w_strn(&w, e->text ? e->text : "", e->text ? e->text_len : 0);
    w_raw(&w, ",\"stop_reason\":");
    w_str(&w, e->stop_reason);
    w_usage(&w, e);
    w_citations(&w, e);
    if (e->error) {
        w_raw(&w, ",\"error\":{");
        w_error_fields(&w, e->error, e->error_message);
        if (e->retry_after_ms) {
            w_raw(&w, ",\"retry_after_ms\":");
            w_long(&w, (long)e->retry_after_ms);
        }
        w_raw(&w, "}");
    }
    w_raw(&w, "}");
    w_end(&w);
}

void chat_out_pending(struct pl_buf *b, long turn, const char *text, size_t len)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"turn\":");
    w_long(&w, turn);
    w_raw(&w, ",\"status\":\"pending\"");
    if (text) {
        w_raw(&w, ",\"text\":");
        w_strn(&w, text, len);
    }
    w_raw(&w, "}");
    w_end(&w);
}

void chat_out_history(struct pl_buf *b, const struct chat_history_item *items, size_t n)
{
    struct writer w;
    w_begin(&w, b);
    w_raw(&w, "{\"type\":\"history\",\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        const struct chat_history_item *it = &items[i];
        w_raw(&w, i ? ",{\"role\":" : "{\"role\":");
        w_str(&w, it->role);
        w_raw(&w, ",\"text\":");
        w_str(&w, it->text ? it->text : "");
        w_printf(&w, ",\"turn\":%ld,\"ts\":%lld", it->turn, it->ts_ms);
        if (it->stop_reason) {
            w_raw(&w, ",\"stop_reason\":");
            w_str(&w, it->stop_reason);
        }
        if (it->agent) {
            w_raw(&w, ",\"agent\":");
            w_str(&w, it->agent);
        }
        w_raw(&w, "}");
    }
    w_raw(&w, "]}");
    w_end(&w);
}

/* ---- parser ---- */

static int parse_hello(json_t *root, struct chat_in *out, struct chat_error *err)
{
    json_t *token;
    if (!json_in_opt_string(root, "token", &token)) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "hello: \"token\" must be a string (the token from ready or "
                      "from the site); leave it out for an anonymous session");
        return PL_EINVAL;
    }
    json_t *resume = json_object_get(root, "resume");
    if (resume && !json_is_null(resume)) {
        json_t *turn = json_object_get(resume, "turn");
        json_t *seq = json_object_get(resume, "seq");
        if (!json_is_object(resume) || !json_is_integer(turn) || !json_is_integer(seq) ||
            json_integer_value(turn) < 1 || json_integer_value(turn) > 0x7fffffff ||
            json_integer_value(seq) < -1 || json_integer_value(seq) > 0x7fffffff) {
            json_in_error(err, API_ERR_BAD_REQUEST,
                          "hello: \"resume\" must be {\"turn\":N,\"seq\":M} with integers N >= 1 "
                          "(the turn) and M >= -1 (the last delta seq received, -1 for none)");
            return PL_EINVAL;
        }
        out->has_resume = true;
        out->resume_turn = (long)json_integer_value(turn);
        out->resume_seq = (long)json_integer_value(seq);
    }
    if (token)
        out->token = pl_strndup(json_string_value(token), json_string_length(token));
    return PL_OK;
}

static int parse_message(json_t *root, const struct chat_limits *lim, struct chat_in *out,
                         struct chat_error *err)
{
    const char *s;
    size_t n;
    if (json_in_text(root, "message", lim->max_text_chars,
                     "; shorten it or send it as several messages", &s, &n, err) != PL_OK)
        return PL_EINVAL;
    json_t *id;
    if (!json_in_opt_string(root, "id", &id) ||
        (id && (json_string_length(id) == 0 || json_string_length(id) > ID_MAX_BYTES ||
                pl_utf8_has_control(json_string_value(id), json_string_length(id))))) {
        json_in_error(
            err, API_ERR_BAD_REQUEST,
            "message: \"id\" must be a string of 1 to %d bytes without control characters "
            "(a client id to match the ack)",
            ID_MAX_BYTES);
        return PL_EINVAL;
    }
    out->text = pl_strndup(s, n);
    out->text_len = n;
    if (id)
        out->id = pl_strndup(json_string_value(id), json_string_length(id));
    return PL_OK;
}

static int parse_escalate(json_t *root, struct chat_in *out, struct chat_error *err)
{
    json_t *reason;
    if (!json_in_opt_string(root, "reason", &reason) ||
        (reason &&
         pl_utf8_count(json_string_value(reason), json_string_length(reason)) > REASON_MAX_CHARS)) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "escalate: \"reason\" must be a string of at most %d characters, or left out",
                      REASON_MAX_CHARS);
        return PL_EINVAL;
    }
    if (reason)
        out->reason = pl_strndup(json_string_value(reason), json_string_length(reason));
    return PL_OK;
}

static void parse_begin(struct chat_in *out, struct chat_error *err)
{
    memset(out, 0, sizeof(*out));
    err->code = API_ERR_NONE;
    err->message[0] = '\0';
}

static int parse_end(json_t *root, int rc, struct chat_in *out)
{
    json_decref(root);
    if (rc != PL_OK)
        chat_in_cleanup(out);
    return rc;
}

int chat_in_parse(const char *data, size_t len, const struct chat_limits *lim, struct chat_in *out,
                  struct chat_error *err)
{
    parse_begin(out, err);
    json_t *root = json_in_object(data, len, lim->max_frame_bytes, "{\"type\":\"hello\"}", err);
    if (!root)
        return PL_EINVAL;
    int rc = PL_EINVAL;
    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "frame needs a \"type\" string; the known types are " KNOWN_TYPES);
        return parse_end(root, rc, out);
    }
    const char *t = json_string_value(type);
    if (strcmp(t, "hello") == 0) {
        out->type = CHAT_IN_HELLO;
        rc = parse_hello(root, out, err);
    } else if (strcmp(t, "message") == 0) {
        out->type = CHAT_IN_MESSAGE;
        rc = parse_message(root, lim, out, err);
    } else if (strcmp(t, "cancel") == 0) {
        out->type = CHAT_IN_CANCEL;
        rc = PL_OK;
    } else if (strcmp(t, "escalate") == 0) {
        out->type = CHAT_IN_ESCALATE;
        rc = parse_escalate(root, out, err);
    } else {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "unknown type \"%.*s\"; the known types are " KNOWN_TYPES,
                      json_in_quoted_len(t), t);
    }
    return parse_end(root, rc, out);
}

int chat_in_parse_message(const char *data, size_t len, const struct chat_limits *lim,
                          struct chat_in *out, struct chat_error *err)
{
    parse_begin(out, err);
    json_t *root = json_in_object(data, len, lim->max_frame_bytes, "{\"text\":\"...\"}", err);
    if (!root)
        return PL_EINVAL;
    int rc = PL_EINVAL;
    json_t *type = json_object_get(root, "type");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "message") == 0)) {
        json_in_error(err, API_ERR_BAD_REQUEST,
                      "the body is a message: {\"id\":S?,\"text\":S}; \"type\" may be left out");
        return parse_end(root, rc, out);
    }
    out->type = CHAT_IN_MESSAGE;
    rc = parse_message(root, lim, out, err);
    return parse_end(root, rc, out);
}

void chat_in_cleanup(struct chat_in *in)
{
    if (!in)
        return;
    pl_free(in->token);
    pl_free(in->id);
    pl_free(in->text);
    pl_free(in->reason);
    memset(in, 0, sizeof(*in));
}
