/* Reading --kb DIR at start; see kb_setup.h. */
#include "bot/kb_setup.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "knowledge/kb_chunk.h"

#define KB_FILE_MAX (4 * 1024 * 1024) /* kb_chunk's document limit */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, struct pl_buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "knowledge base: cannot read %s: %s", path, strerror(errno));
        return errno == ENOENT ? PL_ENOTFOUND : PL_EIO;
    }
    char chunk[65536];
    size_t n;
    int rc = PL_OK;
    while (rc == PL_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = pl_buf_append(out, chunk, n);
    if (rc == PL_OK && ferror(f))
        rc = PL_EIO;
    fclose(f);
    if (rc == PL_ETOOBIG)
        snprintf(err, errlen, "knowledge base: %s is larger than %d bytes", path, KB_FILE_MAX);
    else if (rc != PL_OK)
        snprintf(err, errlen, "knowledge base: cannot read %s", path);
    return rc;
}

int kb_setup_read_doc(const char *dir, const char *name, struct kb_doc *doc, char *err,
                      size_t errlen)
{
    enum kb_kind kind;
    if (!kb_kind_from_name(name, &kind)) {
        snprintf(err, errlen, "knowledge base: %s is not a .md, .txt or .html file", name);
        return PL_EINVAL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct pl_buf text;
    pl_buf_init(&text, KB_FILE_MAX);
    int rc = read_file(path, &text, err, errlen);
    if (rc == PL_OK) {
        rc = kb_chunk_document(name, text.data ? text.data : "", text.len, kind, NULL, doc);
        if (rc != PL_OK)
            snprintf(err, errlen, "knowledge base: %s: %s", path,
                     rc == PL_EUTF8 ? "not valid UTF-8" : pl_strerror(rc));
    }
    pl_buf_cleanup(&text);
    return rc;
}

static int load_one(struct kb_index *index, const char *dir, const char *name, size_t *chunks,
                    char *err, size_t errlen)
{
    struct kb_doc doc;
    int rc = kb_setup_read_doc(dir, name, &doc, err, errlen);
    if (rc == PL_OK) {
        rc = kb_index_add(index, &doc);
        if (rc != PL_OK)
            snprintf(err, errlen, "knowledge base: %s/%s: cannot be indexed (%s)", dir, name,
                     pl_strerror(rc));
        else
            *chunks += doc.n_chunks;
        kb_doc_cleanup(&doc);
    }
    return rc;
}

int kb_setup_load_dir(struct kb_index *index, const char *dir, size_t *docs, size_t *chunks,
                      char *err, size_t errlen)
{
    *docs = *chunks = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "knowledge base: cannot open folder %s: %s", dir, strerror(errno));
        return PL_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        enum kb_kind kind;
        if (e->d_name[0] == '.' || !kb_kind_from_name(e->d_name, &kind))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = pl_realloc(names, cap * sizeof(*names));
        }
        names[n++] = pl_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    int rc = PL_OK;
    for (size_t i = 0; i < n; i++) {
        if (rc == PL_OK) {
            rc = load_one(index, dir, names[i], chunks, err, errlen);
            if (rc == PL_OK)
                (*docs)++;
        }
        pl_free(names[i]);
    }
    pl_free(names);
    return rc;
}
