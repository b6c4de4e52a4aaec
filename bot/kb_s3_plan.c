/* The S3 sync's plan; see kb_s3_plan.h. */
#include "bot/kb_s3_plan.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "knowledge/kb_chunk.h"

static bool name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* The prefix's folder: its length up to and including its last '/'. */
static size_t folder_len(const char *prefix)
{
    const char *slash = strrchr(prefix, '/');
    return slash ? (size_t)(slash - prefix) + 1 : 0;
}

int kb_s3_name_from_key(const char *prefix, const char *key, char name[KB_STORE_NAME_MAX + 1],
                        const char **why)
{
    size_t f = folder_len(prefix), n = 0;
    name[0] = '\0';
    if (strncmp(key, prefix, strlen(prefix)) != 0) {
        *why = "outside the prefix";
        return PL_EINVAL;
    }
    const char *rel = key + f;
    if (!*rel) {
        *why = "the prefix's folder itself";
        return PL_EINVAL;
    }
    bool seg_start = true, in_run = false;
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            name[0] = '\0';
            *why = "the key holds a control character";
            return PL_EINVAL;
        }
        if (seg_start && *p == '.') {
            name[0] = '\0';
            *why = "a hidden file or folder (a part of the key starts with \".\")";
            return PL_EINVAL;
        }
        seg_start = *p == '/';
        char c;
        if (*p == '/')
            c = '-', in_run = false;
        else if (name_char(*p))
            c = (char)*p, in_run = false;
        else if (in_run)
            continue;
        else
            c = '_', in_run = true;
        if (n == KB_STORE_NAME_MAX) {
            name[0] = '\0';
            *why = "its document name would be longer than 128 characters";
            return PL_EINVAL;
        }
        name[n++] = c;
    }
    name[n] = '\0';
    if (!kb_store_name_valid(name)) { /* cannot happen by the rules above; kept as a guard */
        name[0] = '\0';
        *why = "no document name can be made from it";
        return PL_EINVAL;
    }
    return PL_OK;
}

void kb_s3_source(const char *bucket, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "s3://%s/%s", bucket, key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_doc(const void *a, const void *b)
{
    return strcmp(((const struct kb_s3_doc *)a)->name, ((const struct kb_s3_doc *)b)->name);
}

static int cmp_doc_source(const void *a, const void *b)
{
    return strcmp((*(const struct kb_s3_doc *const *)a)->source,
                  (*(const struct kb_s3_doc *const *)b)->source);
}

/* Indices of items, ordered by name then listing order. */
static int cmp_item(const void *a, const void *b, void *items)
{
    const struct kb_s3_item *it = items;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(it[x].name, it[y].name);
    return c ? c : (x < y ? -1 : x > y);
}

static bool etag_ok(const char *etag)
{
    if (strlen(etag) > KB_STORE_ETAG_MAX)
        return false;
    for (const char *p = etag; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

/* Is the document's source inside this sync's scope ("s3://BUCKET/PREFIX...")? Its key then. */
static const char *scoped_key(const char *source, const char *bucket, const char *prefix)
{
    size_t bl = strlen(bucket);
    if (!source || strncmp(source, "s3://", 5) != 0 || strncmp(source + 5, bucket, bl) != 0 ||
        source[5 + bl] != '/')
        return NULL;
    const char *key = source + 5 + bl + 1;
    return strncmp(key, prefix, strlen(prefix)) == 0 ? key : NULL;
}

static void skip(struct kb_s3_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(struct kb_s3_item *it, const char *fmt, ...)
{
    it->action = KB_S3_SKIP;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
    va_end(ap);
}

int kb_s3_plan_make(const char *bucket, const char *prefix, const struct kb_s3_object *objects,
                    size_t n_objects, const struct kb_s3_doc *docs, size_t n_docs,
                    struct kb_s3_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->items = pl_calloc(n_objects ? n_objects : 1, sizeof(*out->items));
    char source[KB_STORE_SOURCE_MAX + 64];
    /* Lookups: the documents by name and by source, the listed keys. */
    struct kb_s3_doc *by_name = pl_calloc(n_docs ? n_docs : 1, sizeof(*by_name));
    memcpy(by_name, docs, n_docs * sizeof(*docs));
    qsort(by_name, n_docs, sizeof(*by_name), cmp_doc);
    const struct kb_s3_doc **by_source = pl_calloc(n_docs ? n_docs : 1, sizeof(*by_source));
    size_t n_sourced = 0;
    for (size_t i = 0; i < n_docs; i++)
        if (docs[i].source)
            by_source[n_sourced++] = &docs[i];
    qsort(by_source, n_sourced, sizeof(*by_source), cmp_doc_source);
    const char **keys = pl_calloc(n_objects ? n_objects : 1, sizeof(*keys));
    for (size_t i = 0; i < n_objects; i++)
        keys[i] = objects[i].key;
    qsort(keys, n_objects, sizeof(*keys), cmp_str);

    /* 1. Each object on its own: a name (the one its copy already has, if any), or why not. */
    for (size_t i = 0; i < n_objects; i++) {
        const struct kb_s3_object *o = &objects[i];
        size_t kl = strlen(o->key);
        if (!kl || o->key[kl - 1] == '/')
            continue; /* a folder marker */
        struct kb_s3_item *it = &out->items[out->n++];
        it->object = i;
        it->action = KB_S3_ADD;
        enum kb_kind kind;
        const char *why;
        kb_s3_source(bucket, o->key, source, sizeof(source));
        struct kb_s3_doc want = {.source = source}, *wantp = &want;
        const struct kb_s3_doc **copy =
            bsearch(&wantp, by_source, n_sourced, sizeof(*by_source), cmp_doc_source);
        if (!kb_kind_from_name(o->key, &kind))
            skip(it, "not a .md, .txt or .html object");
        else if (copy)
            snprintf(it->name, sizeof(it->name), "%s", (*copy)->name);
        else if (kb_s3_name_from_key(prefix, o->key, it->name, &why) != PL_OK)
            skip(it, "%s", why);
        if (it->action == KB_S3_SKIP)
            ;
        else if (o->size > KB_DOC_MAX_BYTES)
            skip(it, "larger than 4 MiB");
        else if (strlen(source) > KB_STORE_SOURCE_MAX)
            skip(it, "the key is too long to record (2048 bytes with s3://BUCKET/)");
        else if (!etag_ok(o->etag))
            skip(it, "S3 gave an ETag of over 256 bytes or with control characters");
    }

    /* 2. Names: candidates grouped by name, each group settled against the document of that
     * name. */
    size_t *order = pl_calloc(out->n ? out->n : 1, sizeof(*order)), m = 0;
    for (size_t i = 0; i < out->n; i++)
        if (out->items[i].action != KB_S3_SKIP)
            order[m++] = i;
    qsort_r(order, m, sizeof(*order), cmp_item, out->items);
    /* Names of gone documents taken over by a new key: not deleted. */
    const char **taken = pl_calloc(m ? m : 1, sizeof(*taken));
    size_t n_taken = 0;
    for (size_t g = 0; g < m;) {
        size_t end = g + 1;
        while (end < m && !strcmp(out->items[order[end]].name, out->items[order[g]].name))
            end++;
        const char *name = out->items[order[g]].name;
        struct kb_s3_doc want = {.name = name};
        const struct kb_s3_doc *d = bsearch(&want, by_name, n_docs, sizeof(*by_name), cmp_doc);
        size_t owner = m; /* the group member that gets the name */
        const char *dkey = d ? scoped_key(d->source, bucket, prefix) : NULL;
        bool gone = dkey && !bsearch(&dkey, keys, n_objects, sizeof(*keys), cmp_str);
        if (!d || gone) {
            owner = g;
        } else {
            for (size_t j = g; j < end && owner == m; j++) {
                kb_s3_source(bucket, objects[out->items[order[j]].object].key, source,
                             sizeof(source));
                if (d->source && !strcmp(d->source, source))
                    owner = j;
            }
        }
        for (size_t j = g; j < end; j++) {
            struct kb_s3_item *it = &out->items[order[j]];
            const struct kb_s3_object *o = &objects[it->object];
            if (j == owner) {
                if (!d)
                    it->action = KB_S3_ADD;
                else if (gone)
                    it->action = KB_S3_UPDATE, taken[n_taken++] = name;
                else
                    it->action =
                        d->etag && !strcmp(d->etag, o->etag) ? KB_S3_UNCHANGED : KB_S3_UPDATE;
            } else if (owner < m) {
                skip(it, "its name %s is taken by %s", name,
                     objects[out->items[order[owner]].object].key);
            } else if (d->source) {
                skip(it, "a document named %s comes from %s", name, d->source);
            } else {
                skip(it, "a document named %s was stored by hand", name);
            }
        }
        g = end;
    }
    /* 3. Deletes: this scope's copies whose key is gone and whose name no new key took. */
    qsort(taken, n_taken, sizeof(*taken), cmp_str);
    out->deletes = pl_calloc(n_docs ? n_docs : 1, sizeof(*out->deletes));
    for (size_t i = 0; i < n_docs; i++) {
        const char *key = scoped_key(by_name[i].source, bucket, prefix);
        if (!key || bsearch(&key, keys, n_objects, sizeof(*keys), cmp_str) ||
            bsearch(&by_name[i].name, taken, n_taken, sizeof(*taken), cmp_str))
            continue;
        out->deletes[out->n_deletes++] = pl_strdup(by_name[i].name);
    }
    for (size_t i = 0; i < out->n; i++) {
        enum kb_s3_action a = out->items[i].action;
        out->adds += a == KB_S3_ADD;
        out->updates += a == KB_S3_UPDATE;
        out->unchanged += a == KB_S3_UNCHANGED;
        out->skips += a == KB_S3_SKIP;
    }
    pl_free(taken);
    pl_free(order);
    pl_free(keys);
    pl_free(by_source);
    pl_free(by_name);
    return PL_OK;
}

void kb_s3_plan_cleanup(struct kb_s3_plan *plan)
{
    for (size_t i = 0; i < plan->n_deletes; i++)
        pl_free(plan->deletes[i]);
    pl_free(plan->deletes);
    pl_free(plan->items);
    memset(plan, 0, sizeof(*plan));
}
