/* A document of the knowledge base cut into chunks for retrieval: its title (the first `# `
 * heading, else the file name without its extension) and chunks of at most a few hundred words
 * along its headings and paragraphs, each with its heading path ("Motor glass cover > Excess").
 * Neighbouring chunks of one section overlap by one short paragraph or its last words. HTML is
 * stripped to text first. I/O-free; the rules and limits are in docs/knowledge.md. */
#ifndef PARLEY_KNOWLEDGE_KB_CHUNK_H
#define PARLEY_KNOWLEDGE_KB_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

enum kb_kind { KB_KIND_MD, KB_KIND_TXT, KB_KIND_HTML };

#define KB_DOC_MAX_BYTES   (4u * 1024 * 1024) /* largest document accepted */
#define KB_DOC_MAX_CHUNKS  2000u              /* most chunks of one document */
#define KB_CHUNK_MAX_WORDS 250u               /* most words of one chunk */
#define KB_CHUNK_OVERLAP   40u                /* most words carried into the next chunk */
#define KB_HEADING_SEP     " > "              /* between the headings of a path */

struct kb_chunk_opts {
    size_t max_bytes;     /* KB_DOC_MAX_BYTES */
    size_t max_chunks;    /* KB_DOC_MAX_CHUNKS */
    size_t max_words;     /* KB_CHUNK_MAX_WORDS */
    size_t overlap_words; /* KB_CHUNK_OVERLAP; must be less than max_words */
};

struct kb_chunk {
    char *heading; /* heading path, "" before the first heading and in plain text; owned */
    char *text;    /* paragraphs joined by a blank line; owned, valid UTF-8, no NUL */
    size_t words;  /* whitespace-separated words of text */
};

struct kb_doc {
    char *name;  /* as given; owned */
    char *title; /* owned */
    enum kb_kind kind;
    struct kb_chunk *chunks; /* owned */
    size_t n_chunks;
};

/** The default options (the KB_* values above). */
struct kb_chunk_opts kb_chunk_opts_default(void);

/** The kind a file name's extension names: .md/.markdown, .txt, .html/.htm (any case). False
 *  for anything else. */
bool kb_kind_from_name(const char *name, enum kb_kind *kind);

/** Append the text of the `len` bytes of HTML at `html` (borrowed) to `out`: tags removed,
 *  script, style, title and comments dropped, entities decoded (named: amp lt gt quot apos nbsp
 *  pound euro ndash mdash hellip lsquo rsquo ldquo rdquo copy; any numeric one, U+FFFD for one
 *  that names no character or a control), runs of white space made one space, block elements
 *  separated by a blank line, <br> a line break, h1-h3 turned into `# `, `## `, `### ` lines.
 *  PL_ETOOBIG if `out` fills. */
int kb_html_to_text(const char *html, size_t len, struct pl_buf *out);

/** Cut the `len` bytes at `text` (borrowed; must be valid UTF-8) of the document `name` into
 *  `out` (initialised here; release with kb_doc_cleanup). `opts` may be NULL for the defaults.
 *  Returns PL_OK, PL_EUTF8 for text that is not UTF-8, PL_ETOOBIG past max_bytes or max_chunks
 *  (out left empty), PL_EINVAL for bad options or an empty name. */
int kb_chunk_document(const char *name, const char *text, size_t len, enum kb_kind kind,
                      const struct kb_chunk_opts *opts, struct kb_doc *out);

/** Free what kb_chunk_document filled in. Accepts NULL and a cleaned-up document. */
void kb_doc_cleanup(struct kb_doc *doc);

#endif
