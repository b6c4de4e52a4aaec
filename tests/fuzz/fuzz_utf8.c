/* libFuzzer target for UTF-8 checking (common/utf8.h), which decides whether a caller's frame,
 * message or reason is text at all. Differential: pl_utf8_valid must agree with jansson's own
 * check (json_stringn, RFC 3629 as well: no overlong forms, no surrogates, nothing above
 * U+10FFFF; NUL allowed). pl_utf8_seq_len must walk valid input in steps that cover it exactly
 * and stop somewhere in invalid input; pl_utf8_count must count those steps. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool valid = pl_utf8_valid(s, size);
    json_t *j = json_stringn(s, size);
    CHECK(valid == (j != NULL));
    json_decref(j);

    size_t at = 0, steps = 0, k;
    while (at < size && (k = pl_utf8_seq_len(s + at, size - at)) > 0) {
        CHECK(k <= 4 && k <= size - at);
        CHECK(pl_utf8_valid(s + at, k));
        at += k;
        steps++;
    }
    CHECK(valid == (at == size));
    if (valid)
        CHECK(pl_utf8_count(s, size) == steps);
    return 0;
}
