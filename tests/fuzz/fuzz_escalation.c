/* libFuzzer target for the escalation phrases (bot/escalation.h): the operator's
 * --escalation-phrases list and a caller's text, split at the input's first NUL byte (no NUL:
 * the default list). Checks: the same answer twice; a phrase reported is terminated, fits, and
 * (cut or whole) appears in the list; a text that holds the list's first phrase verbatim (one
 * without white space) matches. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/escalation.h"
#include "common/alloc.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    char *phrases;
    const char *text;
    size_t len;
    if (nul) {
        phrases = pl_strndup((const char *)data, (size_t)(nul - (const char *)data));
        text = nul + 1;
        len = size - (size_t)(nul - (const char *)data) - 1;
    } else {
        phrases = pl_strdup(ESCALATION_PHRASES_DEFAULT);
        text = (const char *)data;
        len = size;
    }
    char got[16], again[16];
    memset(got, 'x', sizeof(got));
    bool m = escalation_phrase_match(phrases, text, len, got, sizeof(got));
    CHECK(m == escalation_phrase_match(phrases, text, len, again, sizeof(again)));
    CHECK(m == escalation_phrase_match(phrases, text, len, NULL, 0));
    if (m) {
        CHECK(memchr(got, '\0', sizeof(got)) != NULL);
        CHECK(got[0] != '\0' && strstr(phrases, got) != NULL);
        CHECK(strcmp(got, again) == 0);
    }
    /* the first item, when it has no white space and no comma, found verbatim must match */
    size_t first = strcspn(phrases, ", \t\n\r\f\v");
    if (first > 0 && (phrases[first] == '\0' || phrases[first] == ',') && len >= first) {
        for (size_t i = 0; i + first <= len; i++)
            if (memcmp(text + i, phrases, first) == 0) {
                CHECK(m);
                break;
            }
    }
    pl_free(phrases);
    return 0;
}
