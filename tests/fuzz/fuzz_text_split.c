/* libFuzzer target for cutting answers into channel messages (common/text_split.h): the text
 * is a model's answer, anything at all. The first byte picks the limit (1 to 256 characters).
 * Pieces come in order without overlap, are never empty, never start or end with a space, hold
 * at most the limit, never cut a UTF-8 sequence of valid text, and every byte that is not a
 * space is in a piece. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text_split.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_chars = (size_t)data[0] + 1;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    size_t cap = len + 1;
    struct text_span *sp = malloc(cap * sizeof(*sp));
    if (!sp)
        return 0;
    size_t n = text_split(s, len, max_chars, sp, cap);
    CHECK(n <= cap);
    int valid = pl_utf8_valid(s, len);
    size_t next = 0; /* every byte before it is covered or a space */
    for (size_t i = 0; i < n; i++) {
        CHECK(sp[i].len > 0);
        CHECK(sp[i].off >= next && sp[i].off + sp[i].len <= len);
        for (size_t k = next; k < sp[i].off; k++)
            CHECK(is_space(s[k]));
        CHECK(!is_space(s[sp[i].off]) && !is_space(s[sp[i].off + sp[i].len - 1]));
        if (valid) {
            CHECK(pl_utf8_valid(s + sp[i].off, sp[i].len));
            CHECK(pl_utf8_count(s + sp[i].off, sp[i].len) <= max_chars);
        } else {
            CHECK(sp[i].len <= 4 * max_chars);
        }
        next = sp[i].off + sp[i].len;
    }
    for (size_t k = next; k < len; k++)
        CHECK(is_space(s[k]));
    /* Asking for fewer gives the same count and the same first pieces. */
    if (n > 1) {
        struct text_span first;
        CHECK(text_split(s, len, max_chars, &first, 1) == n);
        CHECK(first.off == sp[0].off && first.len == sp[0].len);
    }
    free(sp);
    return 0;
}
