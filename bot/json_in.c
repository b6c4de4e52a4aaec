/* The checks of client JSON frames; see json_in.h. */
#include "bot/json_in.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

void json_in_error(struct chat_error *err, enum api_error code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->code = code;
    size_t len = strlen(err->message), i = 0, k;
    while (i < len && (k = pl_utf8_seq_len(err->message + i, len - i)) > 0)
        i += k;
    err->message[i] = '\0';
}

int json_in_quoted_len(const char *s)
{
    size_t len = strlen(s), i = 0, k;
    while (i < len && (k = pl_utf8_seq_len(s + i, len - i)) > 0 && i + k <= JSON_IN_QUOTED_BYTES)
        i += k;
    return (int)i;
}

json_t *json_in_object(const char *data, size_t len, size_t max_bytes, const char *example,
                       struct chat_error *err)
{
    if (len > max_bytes) {
        json_in_error(err, API_ERR_TOO_LARGE,
                      "the frame is %zu bytes and the limit is %zu bytes; send a shorter message",
                      len, max_bytes);
        return NULL;
    }
    if (!pl_utf8_valid(data, len)) {
        json_in_error(err, API_ERR_BAD_REQUEST, "frame is not valid UTF-8");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_null_character)
            json_in_error(err, API_ERR_BAD_REQUEST,
                          "strings must not contain NUL characters (\\u0000) (at line %d, column "
                          "%d)",
                          jerr.line, jerr.column);
        else
            json_in_error(err, API_ERR_BAD_REQUEST,
                          "frame is not valid JSON (%s at line %d, column %d); send one JSON "
                          "object per text frame",
                          jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_in_error(err, API_ERR_BAD_REQUEST, "frame must be a JSON object such as %s, not %s",
                      example, json_is_array(root) ? "an array" : "a bare value");
        json_decref(root);
        return NULL;
    }
    return root;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int json_in_text(json_t *root, const char *frame, size_t max_chars, const char *too_long_hint,
                 const char **text, size_t *len, struct chat_error *err)
{
    json_t *v = json_object_get(root, "text");
    if (!json_is_string(v)) {
        json_in_error(err, API_ERR_BAD_REQUEST, "%s: \"text\" is required and must be a string",
                      frame);
        return PL_EINVAL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '\0', n)) {
        json_in_error(err, API_ERR_BAD_REQUEST, "%s: \"text\" must not contain NUL characters",
                      frame);
        return PL_EINVAL;
    }
    size_t lead = 0;
    while (lead < n && is_space(s[lead]))
        lead++;
    if (lead == n) {
        json_in_error(err, API_ERR_BAD_REQUEST, "%s: \"text\" is empty; type something and send it",
                      frame);
        return PL_EINVAL;
    }
    size_t chars = pl_utf8_count(s, n);
    if (chars > max_chars) {
        json_in_error(err, API_ERR_TOO_LARGE,
                      "%s: the text has %zu characters and the limit is %zu%s", frame, chars,
                      max_chars, too_long_hint ? too_long_hint : "");
        return PL_EINVAL;
    }
    *text = s;
    *len = n;
    return PL_OK;
}

bool json_in_opt_string(json_t *obj, const char *key, json_t **dst)
{
    json_t *v = json_object_get(obj, key);
    *dst = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *dst = v;
    return true;
}
