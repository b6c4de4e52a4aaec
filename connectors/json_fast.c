/* Exact JSON fast paths; see json_fast.h. */
#include "connectors/json_fast.h"

#include <string.h>

#include "common/utf8.h"

long json_fast_string(const char *p, const char *limit, char *out, size_t max, const char **end)
{
    size_t n = 0;
    const char *run = p; /* start of the bytes not yet copied */
    for (; p < limit; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            size_t k = (size_t)(p - run);
            if (n + k > max || !pl_utf8_valid(run, k))
                return -1;
            memcpy(out + n, run, k);
            n += k;
            if (ch == '"') {
                *end = p + 1;
                return (long)n;
            }
            if (++p == limit || n == max)
                return -1;
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *e = memchr(from, *p, sizeof(from) - 1);
            if (!e)
                return -1; /* \uXXXX or invalid */
            out[n++] = to[e - from];
            run = p + 1;
        } else if (ch < 0x20) {
            return -1;
        }
    }
    return -1;
}

bool json_fast_index(const char *p, size_t n)
{
    return n >= 1 && n <= 18 && (n == 1 || p[0] != '0');
}

const char *json_fast_index_then(const char *p, const char *limit, const char *after)
{
    const char *digits = p;
    while (p < limit && *p >= '0' && *p <= '9')
        p++;
    size_t n = strlen(after);
    if (!json_fast_index(digits, (size_t)(p - digits)) || (size_t)(limit - p) < n ||
        memcmp(p, after, n) != 0)
        return NULL;
    return p + n;
}

bool json_fast_padding_end(const char *p, const char *limit, const char *key)
{
    size_t k = strlen(key);
    if ((size_t)(limit - p) < k + 6 || p[0] != '"' || memcmp(p + 1, key, k) != 0 ||
        memcmp(p + 1 + k, "\":\"", 3) != 0 || limit[-2] != '"' || limit[-1] != '}')
        return false;
    for (const char *c = p + k + 4; c < limit - 2; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    return true;
}
