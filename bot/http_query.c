/* Query strings; see http_query.h. */
#include "bot/http_query.h"

#include <string.h>

bool http_query_value(const char *query, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (outlen == 0)
        return false;
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = len - n - 1;
            if (v >= outlen)
                v = outlen - 1;
            memcpy(out, p + n + 1, v);
            out[v] = '\0';
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}
