/* The double's marker grammar; see markers.h. */
#include "tests/fakes/markers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fake_has_marker(const char *text, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "[[%s]]", name);
    return strstr(text, pat) != NULL;
}

long fake_marker_num(const char *text, const char *name, long def)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "[[%s:", name);
    const char *m = strstr(text, pat);
    if (!m)
        return def;
    char *end;
    long v = strtol(m + strlen(pat), &end, 10);
    return strncmp(end, "]]", 2) == 0 && v >= 0 ? v : def;
}

json_t *fake_tokens_of(const char *text)
{
    json_t *out = json_array();
    for (const char *p = text; *p;) {
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        while (*q == ' ')
            q++;
        json_array_append_new(out, json_stringn(p, (size_t)(q - p)));
        p = q;
    }
    return out;
}
