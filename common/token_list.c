/* Comma-separated token lists; see token_list.h. */
#include "common/token_list.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

bool token_list_has(const char *v, const char *token)
{
    size_t tlen = strlen(token);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == tlen && strncasecmp(v, token, tlen) == 0)
            return true;
        v = e;
    }
    return false;
}
