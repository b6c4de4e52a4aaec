/* An answer's citations: copied from the prompt when the turn is answered here, stored with the
 * answer as a JSON array of {"source","title"}, read back from it when the answer was stored
 * by another instance or an earlier turn. */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"

void turn_citations_copy(struct turn_citations *dst, const struct prompt_citation *src, size_t n)
{
    dst->items = n ? pl_calloc(n, sizeof(*dst->items)) : NULL;
    dst->n = n;
    for (size_t i = 0; i < n; i++) {
        dst->items[i].source = pl_strdup(src[i].source ? src[i].source : "");
        dst->items[i].title = pl_strdup(src[i].title ? src[i].title : "");
    }
}

void turn_citations_parse(struct turn_citations *dst, const char *json)
{
    memset(dst, 0, sizeof(*dst));
    if (!json || !*json)
        return;
    json_t *a = json_loads(json, 0, NULL);
    if (json_is_array(a) && json_array_size(a)) {
        dst->items = pl_calloc(json_array_size(a), sizeof(*dst->items));
        size_t i;
        json_t *c;
        json_array_foreach(a, i, c)
        {
            const char *source = json_string_value(json_object_get(c, "source"));
            const char *title = json_string_value(json_object_get(c, "title"));
            if (!source && !title)
                continue;
            dst->items[dst->n].source = pl_strdup(source ? source : "");
            dst->items[dst->n].title = pl_strdup(title ? title : "");
            dst->n++;
        }
    }
    json_decref(a);
}

char *turn_citations_json(const struct turn_citations *c)
{
    if (!c->n)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < c->n; i++)
        json_array_append_new(
            a, json_pack("{s:s,s:s}", "source", c->items[i].source, "title", c->items[i].title));
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    char *out = pl_strdup(text);
    free(text);
    return out;
}

void turn_citations_cleanup(struct turn_citations *c)
{
    for (size_t i = 0; i < c->n; i++) {
        pl_free((char *)c->items[i].source);
        pl_free((char *)c->items[i].title);
    }
    pl_free(c->items);
    memset(c, 0, sizeof(*c));
}

/* Whether `answer` names `source` ("kb:FILE") as "[kb:FILE]" or "[kb:FILE#N]". */
static bool cites(const char *answer, const char *source)
{
    size_t n = strlen(source);
    for (const char *p = answer; (p = strchr(p, '[')) != NULL; p++)
        if (strncmp(p + 1, source, n) == 0 && (p[1 + n] == ']' || p[1 + n] == '#'))
            return true;
    return false;
}

void turn_citations_narrow(struct turn_citations *c, const char *answer)
{
    if (!answer || !strstr(answer, "[kb:"))
        return;
    bool any = false;
    for (size_t i = 0; i < c->n && !any; i++)
        any = strncmp(c->items[i].source, "kb:", 3) == 0 && cites(answer, c->items[i].source);
    if (!any)
        return; /* the answer names none of the passages supplied: keep them all */
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (strncmp(c->items[i].source, "kb:", 3) == 0 && !cites(answer, c->items[i].source)) {
            pl_free((char *)c->items[i].source);
            pl_free((char *)c->items[i].title);
            continue;
        }
        c->items[k++] = c->items[i];
    }
    c->n = k;
}
