/* Escalation phrases; see escalation.h. */
#include "bot/escalation.h"

#include <string.h>

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Does `text` at `i` start with the phrase p[0..n) (white space runs in the text match one
 * space of the phrase)? */
static bool match_at(const char *text, size_t len, size_t i, const char *p, size_t n)
{
    size_t k = 0;
    while (k < n) {
        if (i >= len)
            return false;
        if (p[k] == ' ') {
            if (!is_space(text[i]))
                return false;
            while (i < len && is_space(text[i]))
                i++;
            while (k < n && p[k] == ' ')
                k++;
            continue;
        }
        if (lower(text[i]) != lower(p[k]))
            return false;
        i++;
        k++;
    }
    return true;
}

bool escalation_phrase_match(const char *phrases, const char *text, size_t len, char *matched,
                             size_t size)
{
    if (!phrases || !text)
        return false;
    const char *p = phrases;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        size_t n = (size_t)(b - a);
        for (size_t i = 0; n > 0 && i < len; i++) {
            if (match_at(text, len, i, a, n)) {
                if (matched && size > 0) {
                    size_t m = n < size - 1 ? n : size - 1;
                    memcpy(matched, a, m);
                    matched[m] = '\0';
                }
                return true;
            }
        }
        p = *end ? end + 1 : end;
    }
    return false;
}
