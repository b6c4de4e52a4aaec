/* The knowledge base of one parleyd: the documents of --kb DIR read at start into an in-memory
 * index (knowledge/kb_index.h) that turns search on the loop thread (docs/knowledge.md). */
#ifndef PARLEY_BOT_KB_SETUP_H
#define PARLEY_BOT_KB_SETUP_H

#include <stddef.h>

#include "knowledge/kb_index.h"

/** Read every .md, .txt and .html file of `dir` (not its sub-folders), in name order, chunk it
 *  and add it to `index`. A blocking read: call at start-up only. PL_OK with the counts in
 *  `docs` and `chunks`; otherwise PL_EIO / PL_EINVAL / PL_EUTF8 / PL_ETOOBIG with a message
 *  naming the folder or file in `err`. */
int kb_setup_load_dir(struct kb_index *index, const char *dir, size_t *docs, size_t *chunks,
                      char *err, size_t errlen);

/** Read and chunk the document `name` of `dir` into `doc` (kb_doc_cleanup it), as
 *  kb_setup_load_dir reads each. Blocking: at start-up, or on libuv's thread pool. PL_OK;
 *  PL_ENOTFOUND when there is no such file; otherwise PL_EIO / PL_EINVAL / PL_EUTF8 /
 *  PL_ETOOBIG with a message naming the file in `err`. */
int kb_setup_read_doc(const char *dir, const char *name, struct kb_doc *doc, char *err,
                      size_t errlen);

#endif
