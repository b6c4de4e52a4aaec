/* Cutting text into messages; see text_split.h. */
#include "common/text_split.h"

#include <stdbool.h>

#include "common/utf8.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes of the character at s[i] (1 for a byte that is not UTF-8). */
static size_t char_len(const char *s, size_t len, size_t i)
{
    size_t n = pl_utf8_seq_len(s + i, len - i);
    return n ? n : 1;
}

/* True if the character ending just before byte `i` ends a sentence: . ! ? or U+2026. */
static bool ends_sentence(const char *s, size_t i)
{
    if (i >= 1 && (s[i - 1] == '.' || s[i - 1] == '!' || s[i - 1] == '?'))
        return true;
    return i >= 3 && (unsigned char)s[i - 3] == 0xE2 && (unsigned char)s[i - 2] == 0x80 &&
           (unsigned char)s[i - 1] == 0xA6;
}

static size_t skip_spaces(const char *s, size_t len, size_t i)
{
    while (i < len && is_space(s[i]))
        i++;
    return i;
}

static size_t emit(const char *s, size_t from, size_t to, struct text_span *out, size_t cap,
                   size_t n)
{
    while (to > from && is_space(s[to - 1]))
        to--;
    if (to == from)
        return n;
    if (n < cap)
        out[n] = (struct text_span){from, to - from};
    return n + 1;
}

size_t text_split(const char *s, size_t len, size_t max_chars, struct text_span *out, size_t cap)
{
    if (max_chars == 0)
        max_chars = 1;
    size_t n = 0;
    size_t pos = skip_spaces(s, len, 0);
    while (pos < len) {
        /* Walk the window of max_chars characters from pos; remember the cut candidates. */
        size_t i = pos, chars = 0, sentence = 0, space = 0, sentence_chars = 0;
        while (i < len && chars < max_chars) {
            if (is_space(s[i]) && i > pos) {
                space = i;
                if (s[i] == '\n' || ends_sentence(s, i)) {
                    sentence = i;
                    sentence_chars = chars;
                }
            }
            i += char_len(s, len, i);
            chars++;
        }
        if (i >= len) {
            n = emit(s, pos, len, out, cap, n);
            break;
        }
        /* The window is full; a space right after it makes its end a word's end too. */
        if (is_space(s[i])) {
            space = i;
            if (s[i] == '\n' || ends_sentence(s, i)) {
                sentence = i;
                sentence_chars = chars;
            }
        }
        /* A sentence end in the first half of the window would leave a stub: a word end then. */
        if (sentence_chars * 2 < max_chars)
            sentence = 0;
        size_t cut = sentence ? sentence : space ? space : i;
        n = emit(s, pos, cut, out, cap, n);
        pos = skip_spaces(s, len, cut);
    }
    return n;
}
