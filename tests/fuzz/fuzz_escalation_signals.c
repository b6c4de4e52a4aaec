/* libFuzzer target for the escalation signals (bot/escalation_signals.h): the same bytes as a
 * caller's question (normalised and digested for `repeat`), as a model's answer (checked for
 * unsure phrases, the default list and, before the first NUL, one of the input's own) and as
 * the operator's --escalation-signals list. Checks: the normal form is no longer than the
 * question, lower-case ASCII, one space between words, none at either end, no punctuation mark
 * at the end, and normalising it again changes nothing; its digest is "" exactly when it is
 * empty, else 16 lower-case hex digits, and the same for the question and its normal form; the
 * unsure check answers the same twice and matches a text holding its phrase verbatim; a signal
 * list is parsed to known bits or refused with a message naming --escalation-signals. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/escalation_signals.h"
#include "common/alloc.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

#define ALL_SIGNALS                                                                                \
    (ESC_SIGNAL_UNSURE | ESC_SIGNAL_NO_PASSAGES | ESC_SIGNAL_UNAVAILABLE | ESC_SIGNAL_REPEAT)

static bool ends_with(const char *s, size_t n, const char *mark)
{
    size_t m = strlen(mark);
    return n >= m && memcmp(s + n - m, mark, m) == 0;
}

static void check_question(const char *q, size_t len)
{
    char *norm = esc_question_normalise(q, len);
    char digest[ESC_DIGEST_SIZE];
    if (memchr(q, '\0', len) != NULL) { /* kept inside: only the crash-free part is checked */
        esc_question_digest(q, len, digest);
        CHECK(strlen(digest) == 0 || strlen(digest) == 16);
        pl_free(norm);
        return;
    }
    size_t n = strlen(norm);
    CHECK(n <= len);
    for (size_t i = 0; i < n; i++) {
        CHECK(!(norm[i] >= 'A' && norm[i] <= 'Z'));
        CHECK(norm[i] != '\t' && norm[i] != '\n' && norm[i] != '\r' && norm[i] != '\f' &&
              norm[i] != '\v');
        CHECK(!(norm[i] == ' ' && (i == 0 || norm[i + 1] == ' ' || i + 1 == n)));
    }
    if (n) {
        CHECK(!strchr(".?!,;:", norm[n - 1]));
        CHECK(!ends_with(norm, n, "\xE2\x80\xA6") && !ends_with(norm, n, "\xEF\xBC\x9F") &&
              !ends_with(norm, n, "\xEF\xBC\x81") && !ends_with(norm, n, "\xE3\x80\x82"));
    }
    char *again = esc_question_normalise(norm, n);
    CHECK(strcmp(again, norm) == 0);
    pl_free(again);
    char b[ESC_DIGEST_SIZE];
    esc_question_digest(q, len, digest);
    esc_question_digest(norm, n, b);
    CHECK(strcmp(digest, b) == 0);
    CHECK(strlen(digest) == (n ? 16 : 0));
    for (size_t i = 0; digest[i]; i++)
        CHECK((digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f'));
    pl_free(norm);
}

static void check_unsure(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    bool u = esc_answer_unsure(ESC_UNSURE_PHRASES_DEFAULT, text, size);
    CHECK(u == esc_answer_unsure(ESC_UNSURE_PHRASES_DEFAULT, text, size));
    const char *nul = memchr(data, '\0', size);
    if (!nul)
        return;
    char *phrases = pl_strndup(text, (size_t)(nul - text));
    const char *rest = nul + 1;
    size_t len = size - (size_t)(nul - text) - 1;
    bool m = esc_answer_unsure(phrases, rest, len);
    CHECK(m == esc_answer_unsure(phrases, rest, len));
    /* a one-word first phrase found verbatim in an answer with no typographic apostrophe (no
     * 0xE2 byte: nothing is rewritten) matches */
    size_t first = strcspn(phrases, ", \t\n\r\f\v");
    if (first > 0 && (phrases[first] == '\0' || phrases[first] == ',') && len >= first &&
        !memchr(rest, 0xE2, len)) {
        for (size_t i = 0; i + first <= len; i++)
            if (memcmp(rest + i, phrases, first) == 0) {
                CHECK(m);
                break;
            }
    }
    pl_free(phrases);
}

static void check_signals(const uint8_t *data, size_t size)
{
    char *list = pl_strndup((const char *)data, size);
    unsigned bits = 12345;
    char err[160];
    err[0] = '\0';
    int rc = esc_signals_parse(list, &bits, err, sizeof(err));
    CHECK(rc == PL_OK || rc == PL_EINVAL);
    if (rc == PL_OK)
        CHECK((bits & ~(unsigned)ALL_SIGNALS) == 0);
    else
        CHECK(bits == 0 && strncmp(err, "--escalation-signals: ", 22) == 0);
    pl_free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_question((const char *)data, size);
    check_unsure(data, size);
    check_signals(data, size);
    return 0;
}
