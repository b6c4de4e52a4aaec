/* Escalation phrases; see escalation.h. */
#include "bot/escalation.h"

#include <string.h>

#include "common/alloc.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The `len` bytes of `s` as phrases are compared, into `out` (room for `len` bytes): ASCII
 * letters in lower case, each run of white space as one space. Returns the bytes written. */
static size_t fold(const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_space(s[i])) {
            if (n == 0 || out[n - 1] != ' ')
                out[n++] = ' ';
        } else {
            out[n++] = lower(s[i]);
        }
    }
    return n;
}

bool escalation_phrase_match(const char *phrases, const char *text, size_t len, char *matched,
                             size_t size)
{
    if (!phrases || !text || len == 0)
        return false;
    /* The text is folded once and each phrase looked for with memmem: an answer of a few
     * kilobytes is checked against the list after every turn. */
    char stack[1024], pstack[256];
    char *folded = len <= sizeof(stack) ? stack : pl_malloc(len);
    size_t flen = fold(text, len, folded);
    bool found = false;
    const char *p = phrases;
    while (*p && !found) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        size_t n = (size_t)(b - a);
        if (n > 0) {
            char *fp = n <= sizeof(pstack) ? pstack : pl_malloc(n);
            size_t fn = fold(a, n, fp);
            found = fn <= flen && memmem(folded, flen, fp, fn) != NULL;
            if (fp != pstack)
                pl_free(fp);
            if (found && matched && size > 0) {
                size_t m = n < size - 1 ? n : size - 1;
                memcpy(matched, a, m);
                matched[m] = '\0';
            }
        }
        p = *end ? end + 1 : end;
    }
    if (folded != stack)
        pl_free(folded);
    return found;
}
