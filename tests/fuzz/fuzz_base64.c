/* libFuzzer target for base64url (common/base64.h), which decodes the three parts of every
 * token a stranger sends. Decoding accepts only the canonical unpadded encoding, so whatever
 * decodes must encode back to the same characters; and any bytes (the input as data) must
 * encode to text that decodes back to them. */
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *raw = NULL;
    size_t raw_len = 99;
    int rc = pl_base64url_decode((const char *)data, size, &raw, &raw_len);
    if (rc == PL_OK) {
        CHECK(raw_len == size * 3 / 4 && raw[raw_len] == '\0');
        char *again = pl_base64url_encode(raw, raw_len);
        CHECK(strlen(again) == size && memcmp(again, data, size) == 0);
        pl_free(again);
        pl_free(raw);
    } else {
        CHECK(rc == PL_EINVAL && raw == NULL && raw_len == 0);
    }

    char *text = pl_base64url_encode(data, size);
    size_t len = strlen(text);
    CHECK(len == (size * 4 + 2) / 3 && !strchr(text, '='));
    CHECK(pl_base64url_decode(text, len, &raw, &raw_len) == PL_OK);
    CHECK(raw_len == size && (size == 0 || memcmp(raw, data, size) == 0));
    pl_free(raw);
    pl_free(text);
    return 0;
}
