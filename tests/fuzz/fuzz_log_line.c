/* libFuzzer target for the log line (common/log.h, common/redact.h): a caller's text reaches the
 * log (an escalate reason, a path), so whatever the message holds, the line must be one line: a
 * single '\n' at its end, no other control byte, valid UTF-8 in text format, a JSON object whose
 * "msg" is a string in JSON format. The input is the message (cut at its first NUL, as a C
 * string is). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

static void check_one_line(const struct pl_buf *b)
{
    CHECK(b->data && b->len > 0 && b->data[b->len - 1] == '\n');
    for (size_t i = 0; i + 1 < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        CHECK(c >= 0x20 && c != 0x7F);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size + 1);
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    msg[size] = '\0';
    struct pl_buf b;

    pl_buf_init(&b, 1 << 20);
    pl_log_format_line(&b, PL_LOG_TEXT, "2026-01-02T03:04:05.678Z", PL_LOG_NOTICE, "chat", msg);
    check_one_line(&b);
    CHECK(pl_utf8_valid(b.data, b.len));
    pl_buf_cleanup(&b);

    pl_buf_init(&b, 1 << 20);
    pl_log_format_line(&b, PL_LOG_JSON, "2026-01-02T03:04:05.678Z", PL_LOG_NOTICE, "chat", msg);
    check_one_line(&b);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    CHECK(json_is_object(j) && json_is_string(json_object_get(j, "msg")));
    json_decref(j);
    pl_buf_cleanup(&b);
    free(msg);
    return 0;
}
