/* Retrieval quality over a set of questions: recall@1, recall@3 and mean reciprocal rank, from
 * the documents each question expects and the documents a search ranked. The computation only;
 * I/O-free. */
#ifndef PARLEY_KNOWLEDGE_KB_EVAL_H
#define PARLEY_KNOWLEDGE_KB_EVAL_H

#include <stddef.h>

struct kb_eval_case {
    const char *question;        /* for the caller's report; not read */
    const char *const *expected; /* documents that answer it */
    size_t n_expected;
    const char *const *ranked; /* documents as the search ranked them, best first; a name
                                  seen again (another chunk of it) is skipped, so ranks
                                  count distinct documents */
    size_t n_ranked;
};

struct kb_eval_score {
    double recall_at_1; /* share of the expected documents among the first 1 ranked */
    double recall_at_3; /* ... among the first 3 */
    double rr;          /* 1 / rank of the first expected document, 0 if none is ranked */
};

struct kb_eval_result {
    size_t questions;                     /* counted: those with at least one expected document */
    size_t skipped;                       /* without any */
    double recall_at_1, recall_at_3, mrr; /* means over the counted questions (0 if none) */
};

/** The scores of one question. False (scores 0) if it expects no document. */
int kb_eval_case_score(const struct kb_eval_case *c, struct kb_eval_score *out);

/** The means over `n` questions. */
void kb_eval_compute(const struct kb_eval_case *cases, size_t n, struct kb_eval_result *out);

#endif
