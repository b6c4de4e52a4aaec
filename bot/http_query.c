/* Query strings; see http_query.h. */
#include "bot/http_query.h"

#include <string.h>

#include "common/err.h"

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

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_query_decode(const char *in, size_t len, char *out, size_t outlen, size_t *outn)
{
    size_t o = 0;
    int rc = PL_OK;
    *outn = 0;
    if (outlen == 0)
        return PL_ETOOBIG;
    for (size_t i = 0; i < len && rc == PL_OK; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 1 < len ? hex_digit(in[i + 1]) : -1;
            int lo = hi >= 0 && i + 2 < len ? hex_digit(in[i + 2]) : -1;
            if (lo < 0) {
                rc = PL_EINVAL;
                break;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == '\0')
            rc = PL_EINVAL;
        else if (o + 1 >= outlen)
            rc = PL_ETOOBIG;
        else
            out[o++] = c;
    }
    out[rc == PL_OK ? o : 0] = '\0';
    if (rc == PL_OK)
        *outn = o;
    return rc;
}
