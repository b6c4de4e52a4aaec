/* libFuzzer target for the offline provider's answer (connectors/local_reply.h), which echoes a
 * summary of whatever a caller typed. The input is the question. The answer must be the same
 * every time, valid UTF-8 with no control, line-separator or invisible formatting character
 * (the echo is sanitised), the echo at most LOCAL_REPLY_ECHO_MAX characters plus an ellipsis;
 * its streaming chunks, and those of the raw input, must concatenate to the text exactly, each
 * non-empty and, for the answer, valid UTF-8 on its own. The input is also a knowledge passage
 * of the grounded answer: quoted after "Here is what I found in T: " with at most
 * LOCAL_REPLY_WORDS_MAX words, no NUL or line break inside the quote, followed by its id, and
 * valid UTF-8 when the passage is. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/utf8.h"
#include "connectors/local_reply.h"
#include "prompts/prompt.h"
#include "tests/fuzz/fuzz_check.h"

static const char prefix[] = "No AI model is configured on this server, so I am running in "
                             "offline demo mode and cannot answer questions yet.";
static const char asked[] = " You asked: \"";
static const char asked_end[] = "\".";
static const char suffix[] = " To enable answers, the administrator can set ANTHROPIC_API_KEY or "
                             "AWS credentials and restart the server, or choose a provider with "
                             "--provider. Would you like me to connect you to a human agent?";

/* Chunks of `text` cover it exactly, each one non-empty (and valid UTF-8 if `utf8`). */
static void check_chunks(const char *text, size_t len, bool utf8)
{
    size_t at = 0;
    while (at < len) {
        size_t n = local_reply_next_chunk(text, len, at);
        CHECK(n > 0 && n <= len - at);
        if (utf8)
            CHECK(pl_utf8_valid(text + at, n));
        at += n;
    }
    CHECK(local_reply_next_chunk(text, len, len) == 0);
}

/* No C0/C1 control, DEL, NBSP, line or paragraph separator, or invisible formatting character. */
static bool clean_code_point(uint32_t cp)
{
    return cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp <= 0xA0) && cp != 0x2028 &&
           cp != 0x2029 && !(cp >= 0x200B && cp <= 0x200F) && !(cp >= 0x202A && cp <= 0x202E) &&
           !(cp >= 0x2066 && cp <= 0x2069) && cp != 0xFEFF;
}

static void check_echo(const char *s, size_t len)
{
    CHECK(len > 0 && s[0] != ' ');
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        size_t k = pl_utf8_seq_len(s + i, len - i);
        CHECK(k > 0);
        uint32_t cp = (unsigned char)s[i];
        if (k > 1) {
            cp &= 0xFFu >> (k + 1);
            for (size_t j = 1; j < k; j++)
                cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3F);
        }
        CHECK(clean_code_point(cp));
        i += k;
        chars++;
    }
    CHECK(chars <= LOCAL_REPLY_ECHO_MAX + 1); /* + the ellipsis of a cut question */
}

static void check_grounded(const char *passage, size_t size)
{
    const struct prompt_document d = {"kb:f.md#0", "kb:f.md", "T", "T", passage};
    char *answer = local_reply_grounded(&d, 1);
    char *again = local_reply_grounded(&d, 1);
    CHECK(strcmp(answer, again) == 0);
    static const char head[] = "Here is what I found in T: ";
    CHECK(memcmp(answer, head, sizeof(head) - 1) == 0);
    const char *end = strstr(answer, " [kb:f.md#0]\n\n(No AI model is configured");
    CHECK(end != NULL);
    const char *quote = answer + sizeof(head) - 1;
    size_t words = 0;
    for (const char *p = quote; p < end; p++) {
        CHECK(*p != '\n' && *p != '\r' && *p != '\t');
        if (*p != ' ' && (p == quote || p[-1] == ' '))
            words++;
    }
    CHECK(words <= LOCAL_REPLY_WORDS_MAX + 1); /* + the "..." of a cut passage */
    if (pl_utf8_valid(passage, size))
        CHECK(pl_utf8_valid(answer, strlen(answer)));
    pl_free(again);
    pl_free(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *question = pl_malloc(size + 1);
    if (size)
        memcpy(question, data, size);
    question[size] = '\0';

    char *answer = local_reply_text(question, NULL);
    char *again = local_reply_text(question, NULL);
    CHECK(strcmp(answer, again) == 0);
    size_t len = strlen(answer);
    CHECK(pl_utf8_valid(answer, len));
    size_t p = sizeof(prefix) - 1, a = sizeof(asked) - 1, e = sizeof(asked_end) - 1,
           x = sizeof(suffix) - 1;
    CHECK(len >= p + x && memcmp(answer, prefix, p) == 0 && strcmp(answer + len - x, suffix) == 0);
    if (len > p + x) {
        CHECK(len > p + a + e + x && memcmp(answer + p, asked, a) == 0 &&
              memcmp(answer + len - x - e, asked_end, e) == 0);
        check_echo(answer + p + a, len - p - a - e - x);
    }
    check_chunks(answer, len, true);
    check_chunks((const char *)data, size, false);
    check_grounded(question, strlen(question));

    pl_free(again);
    pl_free(answer);
    pl_free(question);
    return 0;
}
