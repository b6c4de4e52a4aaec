/* libFuzzer target for the agent protocol (bot/agent_proto.h): every frame an agent's
 * WebSocket sends goes through its parser, and the agent's name (a token's subject) and every
 * session event go through its encoders. The parser runs under tight limits (so the size checks
 * are reached) and generous ones; what it accepts must satisfy its contract (a valid session id
 * where the type needs one, a token, a say text that is valid UTF-8 within the limit without
 * NUL); a refusal has a defined code and a terminated, valid UTF-8 message. The encoders must
 * write one JSON object that jansson reads back (a caller frame that is a JSON object comes back
 * with the same members plus session_id), and leave a buffer too small for it as it was. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/agent_proto.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

#define SID "0123456789abcdef0123456789abcdef"

static void check(const struct agent_in *in, const struct chat_limits *lim)
{
    switch (in->type) {
    case AGENT_IN_HELLO:
        CHECK(in->token && in->token[0] && pl_utf8_valid(in->token, strlen(in->token)));
        break;
    case AGENT_IN_LIST:
        break;
    case AGENT_IN_SAY:
        CHECK(in->text && in->text_len > 0 && pl_utf8_valid(in->text, in->text_len));
        CHECK(pl_utf8_count(in->text, in->text_len) <= lim->max_text_chars);
        CHECK(memchr(in->text, '\0', in->text_len) == NULL);
        /* fall through: say names a session too */
    case AGENT_IN_WATCH:
    case AGENT_IN_UNWATCH:
    case AGENT_IN_TAKEOVER:
    case AGENT_IN_RELEASE:
        CHECK(sess_id_valid(in->session_id));
        break;
    default:
        CHECK(!"unknown type");
    }
}

static void check_refusal(const struct chat_error *err)
{
    CHECK(err->code == API_ERR_BAD_REQUEST || err->code == API_ERR_TOO_LARGE);
    CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    CHECK(err->message[0] != '\0' && pl_utf8_valid(err->message, strlen(err->message)));
}

static json_t *read_back(const struct pl_buf *b)
{
    CHECK(b->len > 0 && pl_utf8_valid(b->data, b->len));
    json_error_t jerr;
    json_t *j = json_loadb(b->data, b->len, JSON_ALLOW_NUL, &jerr);
    CHECK(json_is_object(j));
    return j;
}

static void check_encoders(const uint8_t *data, size_t size)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    char *name = pl_strndup((const char *)data, size < 300 ? size : 300);
    agent_out_ready(&b, name, "agent", 7);
    json_t *j = read_back(&b);
    if (pl_utf8_valid(name, strlen(name)))
        CHECK(strcmp(json_string_value(json_object_get(j, "agent")), name) == 0);
    json_decref(j);
    pl_free(name);

    /* a caller frame: when it is a JSON object without session_id, it comes back with it */
    pl_buf_reset(&b);
    agent_out_for_session(&b, SID, (const char *)data, size);
    json_error_t jerr;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (json_is_object(in) && !json_object_get(in, "session_id") && size > 0 && data[0] == '{' &&
        pl_utf8_valid((const char *)data, size)) {
        json_t *out = read_back(&b);
        CHECK(strcmp(json_string_value(json_object_get(out, "session_id")), SID) == 0);
        CHECK(json_object_size(out) == json_object_size(in) + 1);
        json_decref(out);
    }
    json_decref(in);
    /* too small: unchanged */
    if (b.len > 0) {
        struct pl_buf small;
        pl_buf_init(&small, b.len);
        pl_buf_append_str(&small, "X");
        agent_out_for_session(&small, SID, (const char *)data, size);
        CHECK(small.len == 1 && strcmp(small.data, "X") == 0);
        pl_buf_cleanup(&small);
    }
    pl_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct chat_limits limits[] = {
        {.max_frame_bytes = 65536, .max_text_chars = 4000},
        {.max_frame_bytes = 80, .max_text_chars = 3},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct agent_in in;
        struct chat_error err;
        if (agent_in_parse((const char *)data, size, &limits[i], &in, &err) == PL_OK)
            check(&in, &limits[i]);
        else
            check_refusal(&err);
        agent_in_cleanup(&in);
    }
    check_encoders(data, size);
    return 0;
}
