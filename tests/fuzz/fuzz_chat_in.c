/* libFuzzer target for the caller protocol's parsers (bot/chat_proto.h): every WebSocket frame
 * and every HTTP message body a stranger sends goes through one of them. The same bytes are fed
 * to both, under tight limits (so the size checks are reached) and generous ones; whatever is
 * accepted must satisfy the parser's contract: valid UTF-8 text within the limit, an id within
 * its bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/chat_proto.h"
#include "common/err.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a crash for libFuzzer to report, in every build type (assert is not). */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

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
        if (chat_in_parse((const char *)data, size, &limits[i], &in, &err) == PL_OK)
            check(&in, &limits[i]);
        else
            CHECK(err.code == API_ERR_BAD_REQUEST || err.code == API_ERR_TOO_LARGE);
        chat_in_cleanup(&in);
        if (chat_in_parse_message((const char *)data, size, &limits[i], &in, &err) == PL_OK) {
            CHECK(in.type == CHAT_IN_MESSAGE);
            check(&in, &limits[i]);
        } else {
            CHECK(err.code == API_ERR_BAD_REQUEST || err.code == API_ERR_TOO_LARGE);
        }
        chat_in_cleanup(&in);
    }
    return 0;
}
