/* The knowledge passages of a turn (docs/knowledge.md "In the prompt"): a BM25 search of the
 * knowledge base with the caller's latest message, cut to the passages that score within
 * TURN_KB_RELATIVE_CUTOFF of the best one. Synchronous on the loop thread: k is small and a
 * search of 1,000 passages takes tens of microseconds. With dense retrieval on, the question is
 * embedded first (asynchronously, before the policy read: turn_kb_embed_question) and the
 * search fuses BM25 with the vectors (knowledge/kb_fusion.h), the cut-off then applying to the
 * BM25 list before fusion (docs/knowledge.md "Dense retrieval"). */
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "knowledge/kb_fusion.h"
#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"
#include "sessions/conversation_order.h"

/* A new string a + sep + b. */
static char *join(const char *a, const char *sep, const char *b)
{
    struct pl_buf buf;
    pl_buf_init(&buf, SIZE_MAX);
    pl_buf_append_str(&buf, a);
    pl_buf_append_str(&buf, sep);
    pl_buf_append_str(&buf, b);
    return pl_buf_take(&buf);
}

/* "TITLE > HEADING"; a heading path that already starts with the title (the document's first
 * heading is its title) is used as it is. */
static char *block_title(const char *title, const char *heading)
{
    size_t tl = strlen(title);
    if (!heading || !*heading || strcmp(heading, title) == 0)
        return pl_strdup(title);
    if (strncmp(heading, title, tl) == 0 && strncmp(heading + tl, KB_HEADING_SEP, 3) == 0)
        return pl_strdup(heading);
    return join(title, KB_HEADING_SEP, heading);
}

size_t turn_kb_find(struct kb_index *ix, const struct turn_kb_dense *dense, const float *qvec,
                    uint32_t k, const char *question, size_t len, struct turn_kb_passages *out)
{
    memset(out, 0, sizeof(*out));
    if (!ix || k == 0 || !question || len == 0)
        return 0;
    if (k > TURN_KB_MAX_PASSAGES)
        k = TURN_KB_MAX_PASSAGES;
    struct kb_hit hits[TURN_KB_MAX_PASSAGES];
    const struct kb_vectors *v = dense && qvec ? dense->vectors(dense->self) : NULL;
    /* Cut inside: by BM25 score before fusion (fused scores are ranks, not matches). */
    size_t n =
        kb_hybrid_search(ix, v, question, len, v ? qvec : NULL, TURN_KB_RELATIVE_CUTOFF, hits, k);
    for (size_t i = 0; i < n; i++) {
        const struct kb_hit *h = &hits[i];
        char number[16];
        snprintf(number, sizeof(number), "%u", (unsigned)h->chunk);
        const char *title = h->title && *h->title ? h->title : h->doc;
        struct prompt_document *d = &out->docs[out->n++];
        d->source = join("kb:", "", h->doc);
        d->id = join(d->source, "#", number);
        d->title = block_title(title, h->heading);
        d->doc_title = pl_strdup(title);
        d->text = pl_strdup(h->text ? h->text : "");
    }
    return out->n;
}

void turn_kb_cleanup(struct turn_kb_passages *p)
{
    for (size_t i = 0; i < p->n; i++) {
        pl_free((char *)p->docs[i].id);
        pl_free((char *)p->docs[i].source);
        pl_free((char *)p->docs[i].title);
        pl_free((char *)p->docs[i].doc_title);
        pl_free((char *)p->docs[i].text);
    }
    memset(p, 0, sizeof(*p));
}

/* ---- the question's embedding ---- */

/* The caller's latest message up to the active turn, in conversation order (as start_llm
 * finds it in the history). */
static const struct sess_entry *latest_question(const struct sess_turn_context *ctx, long turn)
{
    const struct sess_entry **ordered = pl_calloc(ctx->n ? ctx->n : 1, sizeof(*ordered));
    sess_conversation_order(ctx->entries, ctx->n, ordered);
    const struct sess_entry *q = NULL;
    for (size_t i = 0; i < ctx->n; i++)
        if (!strcmp(ordered[i]->role, "caller") && ordered[i]->turn <= turn && ordered[i]->text_len)
            q = ordered[i];
    pl_free(ordered);
    return q;
}

static void on_question_embedded(void *ud, const float *vec)
{
    struct turn_session *s = ud;
    struct turn_engine *e = s->engine;
    struct turn *t = s->active;
    t->kb_embed = NULL;
    t->begin_in_flight = false;
    const struct kb_vectors *v = e->opts.kb_dense->vectors(e->opts.kb_dense->self);
    if (vec && v) {
        size_t bytes = kb_vectors_dims(v) * sizeof(float);
        t->kb_qvec = pl_malloc(bytes);
        memcpy(t->kb_qvec, vec, bytes);
    }
    struct sess_turn_context *ctx = t->kb_ctx;
    t->kb_ctx = NULL;
    t->kb_next(s, ctx);
}

void turn_kb_embed_question(struct turn_session *s, struct sess_turn_context *ctx,
                            void (*next)(struct turn_session *s, struct sess_turn_context *ctx))
{
    struct turn_engine *e = s->engine;
    struct turn *t = s->active;
    const struct turn_kb_dense *dense = e->opts.kb_dense;
    const struct sess_entry *q =
        dense && e->opts.kb && e->opts.kb_passages ? latest_question(ctx, t->turn) : NULL;
    if (q) {
        t->kb_ctx = ctx;
        t->kb_next = next;
        t->begin_in_flight = true;
        t->kb_embed = dense->embed(dense->self, q->text, q->text_len, on_question_embedded, s);
        if (t->kb_embed)
            return;
        t->kb_ctx = NULL;
        t->begin_in_flight = false;
    }
    next(s, ctx);
}
