/* Plain text for channels; see plain_text.h. */
#include "common/plain_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"

/* The length of a citation mark at s[i] ("[kb:NAME#N]", "[kb:NAME]", "[policy:N]": names of
 * A-Z a-z 0-9 . _ - and a #N), or 0. */
static size_t citation_len(const char *s, size_t i, size_t len)
{
    static const char *const prefixes[] = {"[kb:", "[policy:"};
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        size_t pl = strlen(prefixes[p]);
        if (len - i < pl + 2 || memcmp(s + i, prefixes[p], pl) != 0)
            continue;
        size_t j = i + pl;
        while (j < len && ((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= 'a' && s[j] <= 'z') ||
                           (s[j] >= '0' && s[j] <= '9') || s[j] == '.' || s[j] == '_' ||
                           s[j] == '-' || s[j] == '#'))
            j++;
        if (j > i + pl && j < len && s[j] == ']')
            return j + 1 - i;
    }
    return 0;
}

/* A control character of `n` bytes at s (common/utf8.h's set), as a space. */
static bool is_control(const char *s, size_t n)
{
    return pl_utf8_has_control(s, n);
}

char *pl_plain_text(const char *s, size_t len)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append(&b, "", 0);
    bool line_start = true, space = false;
    size_t i = 0;
    while (i < len) {
        size_t n = pl_utf8_seq_len(s + i, len - i);
        if (n == 0) {
            i++; /* not UTF-8: left out */
            continue;
        }
        char c = s[i];
        bool blank = n == 1 && (c == ' ' || c == '\t');
        if (n == 1 && (c == '\n' || c == '\r'))
            line_start = true;
        if (blank || is_control(s + i, n)) {
            space = b.len > 0;
            i += n;
            continue;
        }
        if (line_start) {
            /* "# Heading", "- item", "* item", "+ item": the marks are layout, not words. */
            size_t j = i;
            while (j < len && s[j] == '#')
                j++;
            if (j == i && j < len && (s[j] == '-' || s[j] == '*' || s[j] == '+'))
                j++;
            if (j > i && (j == len || s[j] == ' ' || s[j] == '\t')) {
                i = j;
                line_start = false;
                continue;
            }
            line_start = false;
        }
        size_t mark = n == 1 && c == '[' ? citation_len(s, i, len) : 0;
        if (mark) {
            i += mark; /* for the transcript, not to be said */
            if (i < len && strchr(".,;:!?)", s[i]))
                space = false; /* "covered [kb:x]." reads "covered." */
            continue;
        }
        if (n == 1 && (c == '`' || c == '*')) {
            i++;
            continue;
        }
        if (n == 1 && c == '_' && i + 1 < len && s[i + 1] == '_') {
            i += 2;
            continue;
        }
        if (space)
            pl_buf_append(&b, " ", 1);
        space = false;
        pl_buf_append(&b, s + i, n);
        i += n;
    }
    return pl_buf_take(&b);
}
