/* Metrics of kb_eval.h. Lists are short (a handful of documents), so plain scans do. */
#include "knowledge/kb_eval.h"

#include <string.h>

static int in_list(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Expected documents found among the first `k` distinct ranked documents. */
static size_t found_in_top(const struct kb_eval_case *c, size_t k)
{
    size_t distinct = 0, found = 0;
    for (size_t i = 0; i < c->n_ranked && distinct < k; i++) {
        const char *d = c->ranked[i];
        if (!d || in_list(d, c->ranked, i))
            continue;
        distinct++;
        if (in_list(d, c->expected, c->n_expected))
            found++; /* ranked names are distinct, so each expected name counts once */
    }
    return found;
}

/* Distinct expected names (a name given twice is expected once). */
static size_t expected_count(const struct kb_eval_case *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_expected; i++)
        if (c->expected[i] && !in_list(c->expected[i], c->expected, i))
            n++;
    return n;
}

int kb_eval_case_score(const struct kb_eval_case *c, struct kb_eval_score *out)
{
    out->recall_at_1 = out->recall_at_3 = out->rr = 0;
    size_t want = expected_count(c);
    if (want == 0)
        return 0;
    out->recall_at_1 = (double)found_in_top(c, 1) / (double)want;
    out->recall_at_3 = (double)found_in_top(c, 3) / (double)want;
    size_t rank = 0;
    for (size_t i = 0; i < c->n_ranked; i++) {
        const char *d = c->ranked[i];
        if (!d || in_list(d, c->ranked, i))
            continue;
        rank++;
        if (in_list(d, c->expected, c->n_expected)) {
            out->rr = 1.0 / (double)rank;
            break;
        }
    }
    return 1;
}

void kb_eval_compute(const struct kb_eval_case *cases, size_t n, struct kb_eval_result *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        struct kb_eval_score s;
        if (!kb_eval_case_score(&cases[i], &s)) {
            out->skipped++;
            continue;
        }
        out->questions++;
        out->recall_at_1 += s.recall_at_1;
        out->recall_at_3 += s.recall_at_3;
        out->mrr += s.rr;
    }
    if (out->questions) {
        out->recall_at_1 /= (double)out->questions;
        out->recall_at_3 /= (double)out->questions;
        out->mrr /= (double)out->questions;
    }
}
