/* In-memory inverted index of knowledge-base chunks with BM25 search. Documents are added whole
 * (their chunks from kb_chunk.h) and removed by name, so an update is a remove then an add.
 * Scores: BM25 (k1, b) over the chunk text, where a term also found in the document's title or
 * the chunk's heading path counts `field_boost` extra occurrences, then, for queries of two
 * terms or more, the best candidates multiplied by 1 + phrase_boost x (share of the query's
 * adjacent term pairs found adjacent in the chunk). Ties go to the document name, then the chunk
 * number, ascending. Formulas, defaults and memory: docs/knowledge.md. Single-threaded (a search
 * uses scratch space of the index); I/O-free. */
#ifndef PARLEY_KNOWLEDGE_KB_INDEX_H
#define PARLEY_KNOWLEDGE_KB_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knowledge/kb_chunk.h"

#define KB_BM25_K1          1.2
#define KB_BM25_B           0.75
#define KB_FIELD_BOOST      2.0 /* extra occurrences for a term of the title or heading path */
#define KB_PHRASE_BOOST     0.5 /* most extra share of the score for adjacent query terms */
#define KB_PHRASE_POOL      50  /* candidates re-scored for phrases (at least 4 x k) */
#define KB_INDEX_MAX_CHUNKS 4000000u

struct kb_index_params {
    double k1, b, field_boost, phrase_boost;
};

struct kb_hit {
    double score;
    const char *doc;     /* document name; borrowed from the index */
    const char *title;   /* borrowed */
    const char *heading; /* heading path; borrowed */
    const char *text;    /* chunk text; borrowed */
    uint32_t chunk;      /* its number in its document, from 0 */
};

struct kb_index;

/** The defaults above. */
struct kb_index_params kb_index_params_default(void);

/** A new empty index; `p` may be NULL for the defaults. */
struct kb_index *kb_index_new(const struct kb_index_params *p);
/** Accepts NULL. */
void kb_index_free(struct kb_index *ix);

/** Index the chunks of `doc` (copied; the caller keeps `doc`). PL_EBUSY if a document of that
 *  name is indexed (remove it first), PL_ETOOBIG past KB_INDEX_MAX_CHUNKS, PL_EINVAL for a
 *  document without a name. Nothing changes on failure. */
int kb_index_add(struct kb_index *ix, const struct kb_doc *doc);

/** Drop the document `name` and its chunks. PL_ENOTFOUND if it is not indexed. */
int kb_index_remove(struct kb_index *ix, const char *name);

size_t kb_index_docs(const struct kb_index *ix);
size_t kb_index_chunks(const struct kb_index *ix);
/** Bytes the index holds on the heap (its arrays, strings and postings; not the allocator's own
 *  overhead). */
size_t kb_index_bytes(const struct kb_index *ix);

/** The `k` best chunks for the `len` bytes of `query` into `hits` (room for k), best first;
 *  returns how many (0 when no query term is indexed). The hits' strings stay valid until the
 *  next add or remove. */
size_t kb_index_search(struct kb_index *ix, const char *query, size_t len, struct kb_hit *hits,
                       size_t k);

/** Chunk `chunk` of document `doc` as a hit (score 0; strings borrowed as for a search).
 *  False if there is no such chunk. */
bool kb_index_chunk(const struct kb_index *ix, const char *doc, uint32_t chunk, struct kb_hit *out);

/** How many chunks document `doc` has (0 when it is not indexed). */
uint32_t kb_index_doc_chunks(const struct kb_index *ix, const char *doc);

/** Call `fn` with the name of every indexed document (in no particular order); `fn` must
 *  not add or remove documents. */
void kb_index_each_doc(const struct kb_index *ix, void (*fn)(const char *name, void *ud), void *ud);

#endif
