/* libFuzzer target for query-string reading (bot/http_query.h): the query of every HTTP request
 * a stranger sends goes through it. The input is the query; several names are looked up, each
 * into a small buffer (so values are cut) and a roomy one; a value found must be a prefix-cut
 * copy of what follows "name=" in the query, and always NUL-terminated. The whole input is
 * also percent-decoded: a decoded text is as long as its escapes say, holds no NUL and
 * is cut to nothing when it does not fit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/http_query.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = malloc(size + 1);
    if (!query)
        return 0;
    memcpy(query, data, size);
    query[size] = '\0';
    static const char *const names[] = {"wait_ms", "q", "k", "a", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char small[4], roomy[64];
        char *outs[] = {small, roomy};
        size_t lens[] = {sizeof(small), sizeof(roomy)};
        for (size_t k = 0; k < 2; k++) {
            memset(outs[k], 'x', lens[k]);
            if (!http_query_value(query, names[i], outs[k], lens[k]))
                continue;
            size_t got = strnlen(outs[k], lens[k]);
            CHECK(got < lens[k]); /* NUL-terminated inside the buffer */
            /* "name=<got bytes>" stands in the query. */
            size_t n = strlen(names[i]), qlen = strlen(query);
            int found = 0;
            for (size_t j = 0; !found && j + n < qlen; j++)
                found = strncmp(query + j, names[i], n) == 0 && query[j + n] == '=' &&
                        strncmp(query + j + n + 1, outs[k], got) == 0;
            CHECK(found);
        }
    }
    /* The decoder, on the whole input: two bytes less per escape, no NUL, "" on failure. */
    size_t cap = size < 32 ? 8 : size + 1, n = 7;
    char *out = malloc(cap);
    if (out) {
        int rc = http_query_decode((const char *)data, size, out, cap, &n);
        CHECK(rc == PL_OK || rc == PL_EINVAL || rc == PL_ETOOBIG);
        if (rc == PL_OK) {
            size_t escapes = 0;
            for (size_t i = 0; i < size; i++)
                escapes += data[i] == '%';
            CHECK(n == size - 2 * escapes);
            CHECK(strlen(out) == n);
            CHECK(n < cap);
        } else {
            CHECK(n == 0 && out[0] == '\0');
            CHECK(rc != PL_ETOOBIG || cap <= size); /* room for all: never too big */
        }
        free(out);
    }
    free(query);
    return 0;
}
