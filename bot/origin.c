/* Allowed browser origins; see origin.h. Origins are compared as browsers serialise them
 * (RFC 6454 section 6.1): lower-case scheme and host, the port only when it is not the scheme's
 * default. */
#include "bot/origin.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/err.h"

struct origin_list {
    bool any;
    size_t n;
    char **entries; /* normalised: "https://shop.example", "http://localhost:3000" */
};

/* Split an origin "scheme://host[:port]" (`len` bytes) into its scheme length and authority
 * (host[:port], without a default port). False when it is not one. */
static bool split_origin(const char *s, size_t len, size_t *scheme_len, const char **auth,
                         size_t *auth_len)
{
    const char *sep = memmem(s, len, "://", 3);
    if (!sep)
        return false;
    size_t sl = (size_t)(sep - s);
    bool http = sl == 4 && strncasecmp(s, "http", 4) == 0;
    bool https = sl == 5 && strncasecmp(s, "https", 5) == 0;
    if (!http && !https)
        return false;
    const char *a = sep + 3;
    size_t al = len - (size_t)(a - s);
    if (al == 0)
        return false;
    for (size_t i = 0; i < al; i++) {
        unsigned char c = (unsigned char)a[i];
        if (!isalnum(c) && !strchr("-._~[]:%", c))
            return false; /* no path, query, user info or spaces */
    }
    /* The port, if any, is digits after the last ':' outside brackets. */
    const char *colon = NULL;
    for (size_t i = al; i-- > 0;) {
        if (a[i] == ']')
            break;
        if (a[i] == ':') {
            colon = a + i;
            break;
        }
    }
    if (colon) {
        size_t pl = al - (size_t)(colon - a) - 1;
        if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") < pl || colon == a)
            return false;
        if ((http && pl == 2 && !strncmp(colon + 1, "80", 2)) ||
            (https && pl == 3 && !strncmp(colon + 1, "443", 3)))
            al = (size_t)(colon - a);
    }
    *scheme_len = sl;
    *auth = a;
    *auth_len = al;
    return true;
}

int origin_list_parse(const char *spec, struct origin_list **out, char *err, size_t errlen)
{
    struct origin_list *l = pl_calloc(1, sizeof(*l));
    *out = NULL;
    for (const char *p = spec ? spec : ""; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        size_t len = (size_t)(t - p);
        if (len == 0) {
            p = e;
            continue;
        }
        if (len == 1 && *p == '*') {
            l->any = true;
            p = e;
            continue;
        }
        size_t sl, al;
        const char *auth;
        if (!split_origin(p, len, &sl, &auth, &al)) {
            pl_errf(err, errlen,
                    "--allowed-origins: \"%.*s\" is not an origin (scheme://host[:port] with "
                    "http or https, nothing after the port) nor *",
                    (int)len, p);
            origin_list_free(l);
            return PL_EINVAL;
        }
        char *n = pl_malloc(sl + 3 + al + 1);
        for (size_t i = 0; i < sl; i++)
            n[i] = (char)tolower((unsigned char)p[i]);
        memcpy(n + sl, "://", 3);
        for (size_t i = 0; i < al; i++)
            n[sl + 3 + i] = (char)tolower((unsigned char)auth[i]);
        n[sl + 3 + al] = '\0';
        l->entries = pl_realloc(l->entries, (l->n + 1) * sizeof(*l->entries));
        l->entries[l->n++] = n;
        p = e;
    }
    *out = l;
    return PL_OK;
}

void origin_list_free(struct origin_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        pl_free(l->entries[i]);
    pl_free(l->entries);
    pl_free(l);
}

/* Is `host` (a Host header) the authority `auth` (of an origin with scheme length `sl`: 4 http,
 * 5 https), the default port of that scheme dropped from either? */
static bool same_authority(const char *auth, size_t al, size_t sl, const char *host)
{
    size_t hl = strlen(host);
    const char *def = sl == 4 ? ":80" : ":443";
    size_t dl = strlen(def);
    if (hl > dl && strcmp(host + hl - dl, def) == 0 && host[hl - dl - 1] != ']')
        hl -= dl;
    return hl == al && hl > 0 && strncasecmp(auth, host, al) == 0;
}

bool origin_allowed(const struct origin_list *l, const char *origin, const char *host)
{
    if (l && l->any)
        return true;
    size_t sl, al;
    const char *auth;
    if (!split_origin(origin, strlen(origin), &sl, &auth, &al))
        return false; /* "null" (a sandboxed page, a file) or garbage */
    if (host && same_authority(auth, al, sl, host))
        return true;
    for (size_t i = 0; l && i < l->n; i++) {
        const char *e = l->entries[i];
        if (strncasecmp(e, origin, sl) == 0 && e[sl] == ':' && strlen(e) == sl + 3 + al &&
            strncasecmp(e + sl + 3, auth, al) == 0)
            return true;
    }
    return false;
}
