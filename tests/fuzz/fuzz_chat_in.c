/* libFuzzer target for the caller protocol (bot/chat_proto.h): every WebSocket frame and every
 * HTTP message body a stranger sends goes through its parsers, and what they accept comes back
 * to callers through its encoders. The same bytes are fed to both parsers, under tight limits
 * (so the size checks are reached) and generous ones; whatever is accepted must satisfy the
 * parser's contract: valid UTF-8 text within the limit, an id and a reason within their
 * bounds; a refusal has a defined code and a terminated, valid UTF-8 message. The encoders are
 * checked on what was accepted and on the raw bytes: each writes one JSON object that jansson
 * reads back to the same strings (invalid UTF-8 replaced by U+FFFD, so always valid UTF-8), and
 * leaves a buffer too small for it exactly as it was. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/chat_proto.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

static void check(const struct chat_in *in, const struct chat_limits *lim)
{
    if (in->type == CHAT_IN_MESSAGE) {
        CHECK(in->text && in->text_len > 0);
        CHECK(pl_utf8_valid(in->text, in->text_len));
        CHECK(pl_utf8_count(in->text, in->text_len) <= lim->max_text_chars);
        CHECK(memchr(in->text, '\0', in->text_len) == NULL);
        CHECK(!in->id || (strlen(in->id) >= 1 && strlen(in->id) <= 128));
    }
    if (in->type == CHAT_IN_HELLO && in->has_resume)
        CHECK(in->resume_turn >= 1 && in->resume_seq >= -1);
    if (in->type == CHAT_IN_HELLO && in->token)
        CHECK(pl_utf8_valid(in->token, strlen(in->token)));
    if (in->type == CHAT_IN_ESCALATE && in->reason)
        CHECK(pl_utf8_valid(in->reason, strlen(in->reason)) &&
              pl_utf8_count(in->reason, strlen(in->reason)) <= 500);
}

static void check_refusal(const struct chat_error *err)
{
    CHECK(err->code == API_ERR_BAD_REQUEST || err->code == API_ERR_TOO_LARGE);
    CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    CHECK(err->message[0] != '\0' && pl_utf8_valid(err->message, strlen(err->message)));
}

/* `b` holds one JSON object, valid UTF-8; returns it (new reference). */
static json_t *read_back(const struct pl_buf *b)
{
    CHECK(b->len > 0 && pl_utf8_valid(b->data, b->len));
    json_error_t jerr;
    json_t *j = json_loadb(b->data, b->len, JSON_ALLOW_NUL, &jerr); /* \u0000 is JSON */
    CHECK(json_is_object(j));
    return j;
}

/* The string member `key` of `j` is the `n` bytes at `s`, when those are valid UTF-8; otherwise
 * it is at least a string. */
static void check_member(json_t *j, const char *key, const char *s, size_t n)
{
    json_t *v = json_object_get(j, key);
    CHECK(json_is_string(v));
    if (pl_utf8_valid(s, n))
        CHECK(json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0);
}

/* Encode `text` (n bytes) as a delta, a pending answer and an error, and an `id` as an ack. */
static void check_encoders(const char *text, size_t n, const char *id)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    chat_out_delta(&b, 7, 3, text, n);
    json_t *j = read_back(&b);
    check_member(j, "text", text, n);
    CHECK(json_integer_value(json_object_get(j, "seq")) == 3);
    json_decref(j);

    /* A buffer one byte too small is left as it was. */
    struct pl_buf small;
    pl_buf_init(&small, 2 + b.len - 1);
    CHECK(pl_buf_append(&small, "{}", 2) == PL_OK);
    chat_out_delta(&small, 7, 3, text, n);
    CHECK(small.len == 2 && strcmp(small.data, "{}") == 0);
    pl_buf_cleanup(&small);

    pl_buf_reset(&b);
    chat_out_pending(&b, 7, text, n);
    j = read_back(&b);
    check_member(j, "text", text, n);
    json_decref(j);

    char *message = pl_strndup(text, n); /* the error encoder takes a C string */
    pl_buf_reset(&b);
    chat_out_error(&b, API_ERR_BAD_REQUEST, message);
    j = read_back(&b);
    check_member(j, "message", message, strlen(message));
    json_decref(j);
    pl_free(message);

    pl_buf_reset(&b);
    chat_out_ack(&b, id, 12);
    j = read_back(&b);
    if (id)
        check_member(j, "id", id, strlen(id));
    else
        CHECK(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    pl_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct chat_limits limits[] = {
        {.max_frame_bytes = 65536, .max_text_chars = 4000},
        {.max_frame_bytes = 64, .max_text_chars = 3},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct chat_in in;
        struct chat_error err;
        if (chat_in_parse((const char *)data, size, &limits[i], &in, &err) == PL_OK) {
            check(&in, &limits[i]);
            if (in.type == CHAT_IN_MESSAGE)
                check_encoders(in.text, in.text_len, in.id);
        } else {
            check_refusal(&err);
        }
        chat_in_cleanup(&in);
        if (chat_in_parse_message((const char *)data, size, &limits[i], &in, &err) == PL_OK) {
            CHECK(in.type == CHAT_IN_MESSAGE);
            check(&in, &limits[i]);
        } else {
            check_refusal(&err);
        }
        chat_in_cleanup(&in);
    }
    /* The raw bytes, whatever they are, through the encoders. */
    char *id = size < 200 ? pl_strndup((const char *)data, size) : NULL;
    check_encoders((const char *)data, size, id);
    pl_free(id);
    return 0;
}
