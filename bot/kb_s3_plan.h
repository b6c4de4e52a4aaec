/* What `parley kb sync s3://BUCKET/PREFIX` does, decided without I/O (docs/knowledge.md
 * "Syncing from S3"): from the bucket's listing under the prefix and the server's documents
 * with their recorded origins, which objects to fetch and store (added, updated), which are
 * unchanged (same ETag as recorded), which are skipped and why, and which documents to delete
 * (copies from this bucket and prefix whose key is gone).
 *
 * Names. The part of the key after the prefix's folder (the prefix up to its last '/') becomes
 * the document name: '/' becomes '-', each run of other characters outside A-Za-z0-9 . _ -
 * becomes one '_'. "kb/motor/Glass cover.md" under prefix "kb/" is "motor-Glass_cover.md".
 * Skipped: keys not ending .md .markdown .txt .html .htm (any case), objects over 4 MiB, keys
 * with a segment starting with '.' (hidden files), with a control character, or whose name
 * would pass 128 characters. Keys ending '/' (folder markers) are ignored. A key already
 * copied keeps its document's name (so a sync of a shorter prefix renames nothing).
 *
 * Never overwrite: a name held by a document from elsewhere (stored by hand, or another bucket
 * or key) is skipped; when several keys give one name, the key that already holds it keeps it,
 * else the first in listing order; the others are skipped. A document of this scope whose key
 * is gone gives up its name to a new key taking it (an update, not a delete and an add). */
#ifndef PARLEY_BOT_KB_S3_PLAN_H
#define PARLEY_BOT_KB_S3_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "sessions/kb_store.h"

/* One object of the listing (borrowed). */
struct kb_s3_object {
    const char *key;
    const char *etag; /* quotes kept */
    uint64_t size;
};

/* One document on the server (borrowed); source and etag NULL when it has no origin. */
struct kb_s3_doc {
    const char *name;
    const char *source;
    const char *etag;
};

enum kb_s3_action { KB_S3_ADD, KB_S3_UPDATE, KB_S3_UNCHANGED, KB_S3_SKIP };

struct kb_s3_item {
    size_t object; /* index into the listing */
    enum kb_s3_action action;
    char name[KB_STORE_NAME_MAX + 1]; /* "" when the key has none */
    char reason[256];                 /* why it is skipped */
};

struct kb_s3_plan {
    struct kb_s3_item *items; /* one per listed object but folder markers, in listing order */
    size_t n;
    char **deletes; /* names of documents to delete, sorted */
    size_t n_deletes;
    size_t adds, updates, unchanged, skips;
};

/** The document name of `key` under `prefix` (rules above) into `name`; PL_OK, or PL_EINVAL
 *  with `why` (a fixed sentence) when it has none. Does not look at the extension or size. */
int kb_s3_name_from_key(const char *prefix, const char *key, char name[KB_STORE_NAME_MAX + 1],
                        const char **why);

/** "s3://BUCKET/KEY" into `out` (cut to outlen - 1). */
void kb_s3_source(const char *bucket, const char *key, char *out, size_t outlen);

/** Make the plan. PL_OK, or PL_ENOMEM. Release with kb_s3_plan_cleanup. */
int kb_s3_plan_make(const char *bucket, const char *prefix, const struct kb_s3_object *objects,
                    size_t n_objects, const struct kb_s3_doc *docs, size_t n_docs,
                    struct kb_s3_plan *out);
void kb_s3_plan_cleanup(struct kb_s3_plan *plan);

#endif
