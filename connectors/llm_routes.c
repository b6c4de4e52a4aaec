/* Model routing; see llm_routes.h. */
#include "connectors/llm_routes.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_providers.h"

static const char *const purposes[] = {"chat", "summary", "extract"};
static const char *const kinds[] = {"anthropic", "bedrock", "openai", "local"};

static bool one_of(const char *s, size_t len, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(set[i]) == len && strncmp(set[i], s, len) == 0)
            return true;
    }
    return false;
}

bool llm_route_purpose_known(const char *purpose)
{
    return one_of(purpose, strlen(purpose), purposes, sizeof(purposes) / sizeof(*purposes));
}

static bool copy_part(char *dst, size_t dstlen, const char *s, size_t len)
{
    if (len >= dstlen)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

/* One entry [s, s+len), spaces trimmed by the caller. */
static int parse_entry(const char *s, size_t len, struct llm_route_spec *spec, char *err,
                       size_t errlen)
{
    memset(spec, 0, sizeof(*spec));
    const char *eq = memchr(s, '=', len);
    if (!eq) {
        snprintf(err, errlen, "--routes: \"%.*s\" is not purpose=provider[:model]", (int)len, s);
        return PL_EINVAL;
    }
    size_t plen = (size_t)(eq - s);
    const char *rest = eq + 1;
    size_t rlen = len - plen - 1;
    const char *colon = memchr(rest, ':', rlen);
    size_t klen = colon ? (size_t)(colon - rest) : rlen;
    if (plen == 4 && !strncmp(s, "chat", 4)) {
        snprintf(err, errlen,
                 "--routes: chat is set by --provider, --model and --fallback, not by a route");
        return PL_EINVAL;
    }
    if (!one_of(s, plen, purposes, sizeof(purposes) / sizeof(*purposes))) {
        snprintf(err, errlen, "--routes: unknown purpose \"%.*s\" (known: summary, extract)",
                 (int)plen, s);
        return PL_EINVAL;
    }
    if (!one_of(rest, klen, kinds, sizeof(kinds) / sizeof(*kinds))) {
        snprintf(err, errlen,
                 "--routes: unknown provider \"%.*s\" for %.*s (known: anthropic, bedrock, "
                 "openai, local)",
                 (int)klen, rest, (int)plen, s);
        return PL_EINVAL;
    }
    if (colon && colon + 1 == rest + rlen) {
        snprintf(err, errlen, "--routes: empty model in \"%.*s\"", (int)len, s);
        return PL_EINVAL;
    }
    copy_part(spec->purpose, sizeof(spec->purpose), s, plen);
    copy_part(spec->kind, sizeof(spec->kind), rest, klen);
    if (colon && !copy_part(spec->model, sizeof(spec->model), colon + 1, rlen - klen - 1)) {
        snprintf(err, errlen, "--routes: the model of %s is longer than %zu bytes", spec->purpose,
                 sizeof(spec->model) - 1);
        return PL_EINVAL;
    }
    return PL_OK;
}

int llm_routes_parse(const char *text, struct llm_route_spec *out, size_t max, size_t *n, char *err,
                     size_t errlen)
{
    *n = 0;
    if (!text)
        return PL_OK;
    const char *p = text;
    while (*p == ' ')
        p++;
    if (!*p)
        return PL_OK;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && *s == ' ') {
            s++;
            len--;
        }
        while (len && s[len - 1] == ' ')
            len--;
        if (len == 0) {
            snprintf(err, errlen, "--routes: an empty entry (two commas, or one at an end)");
            return PL_EINVAL;
        }
        if (*n == max) {
            snprintf(err, errlen, "--routes: more than %zu routes", max);
            return PL_EINVAL;
        }
        int rc = parse_entry(s, len, &out[*n], err, errlen);
        if (rc)
            return rc;
        for (size_t i = 0; i < *n; i++) {
            if (!strcmp(out[i].purpose, out[*n].purpose)) {
                snprintf(err, errlen, "--routes: %s is routed twice", out[i].purpose);
                return PL_EINVAL;
            }
        }
        (*n)++;
        if (!end)
            return PL_OK;
        p = end + 1;
    }
}

struct route {
    char *purpose;
    struct llm_provider *chain;
};

struct llm_routes {
    struct llm_provider *chat; /* borrowed */
    struct route *items;
    size_t n;
};

struct llm_routes *llm_routes_create(struct llm_provider *chat)
{
    struct llm_routes *r = pl_calloc(1, sizeof(*r));
    r->chat = chat;
    return r;
}

void llm_routes_add(struct llm_routes *r, const char *purpose, struct llm_provider *chain)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->items[i].purpose, purpose)) {
            llm_provider_destroy(chain);
            return;
        }
    }
    r->items = pl_realloc(r->items, (r->n + 1) * sizeof(*r->items));
    r->items[r->n].purpose = pl_strdup(purpose);
    r->items[r->n].chain = chain;
    r->n++;
}

struct llm_provider *llm_route(const struct llm_routes *r, const char *purpose)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->items[i].purpose, purpose))
            return r->items[i].chain;
    }
    return r->chat;
}

void llm_routes_describe(const struct llm_routes *r, char *out, size_t outlen)
{
    size_t used = 0;
    int k = snprintf(out, outlen, "chat=%s", llm_provider_name(r->chat));
    used = k > 0 ? (size_t)k : 0;
    for (size_t i = 0; i < r->n && used < outlen; i++) {
        k = snprintf(out + used, outlen - used, ", %s=%s", r->items[i].purpose,
                     llm_provider_name(r->items[i].chain));
        used += k > 0 ? (size_t)k : 0;
    }
}

void llm_routes_destroy(struct llm_routes *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        pl_free(r->items[i].purpose);
        llm_provider_destroy(r->items[i].chain);
    }
    pl_free(r->items);
    pl_free(r);
}
