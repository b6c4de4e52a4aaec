/* The knowledge passages of a turn (docs/knowledge.md "In the prompt"): a BM25 search of the
 * knowledge base with the caller's latest message, cut to the passages that score within
 * TURN_KB_RELATIVE_CUTOFF of the best one. Synchronous on the loop thread: k is small and a
 * search of 1,000 passages takes tens of microseconds. */
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "knowledge/kb_index.h"

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

size_t turn_kb_find(struct kb_index *ix, uint32_t k, const char *question, size_t len,
                    struct turn_kb_passages *out)
{
    memset(out, 0, sizeof(*out));
    if (!ix || k == 0 || !question || len == 0)
        return 0;
    if (k > TURN_KB_MAX_PASSAGES)
        k = TURN_KB_MAX_PASSAGES;
    struct kb_hit hits[TURN_KB_MAX_PASSAGES];
    size_t n = kb_index_search(ix, question, len, hits, k);
    for (size_t i = 0; i < n; i++) {
        const struct kb_hit *h = &hits[i];
        if (h->score <= 0 || h->score < TURN_KB_RELATIVE_CUTOFF * hits[0].score)
            break; /* hits come best first */
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
