/* The summary request; see summary_prompt.h. */
#include "prompts/summary_prompt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "prompts/template.h"

#define SUMMARY_PROMPT_MAX (1024 * 1024)

struct summary_prompts {
    struct prompt_template *t;
};

/* What summary_prompt_build allocates; struct prompt._storage points here. */
struct summary_storage {
    char *text;
    char *user_id;
    struct prompt_message message;
};

int summary_prompts_load(const char *dir, struct summary_prompts **out, char *err, size_t errlen)
{
    *out = NULL;
    struct prompt_template *t = NULL;
    int rc = prompt_template_load(dir, "summary", &t, err, errlen);
    if (rc == PL_ENOTFOUND && dir)
        rc = prompt_template_load(NULL, "summary", &t, err, errlen);
    if (rc == PL_ENOTFOUND)
        rc = PL_EINVAL; /* the built-in one missing: a build error */
    if (rc != PL_OK)
        return rc;
    static const char *const known[] = {SUMMARY_PROMPT_PLACEHOLDERS};
    char cerr[160];
    if (prompt_template_check_names(t, known, PL_ARRAY_LEN(known), cerr, sizeof(cerr)) != PL_OK) {
        pl_errf(err, errlen, "%s/summary.txt: %s", dir ? dir : "built-in", cerr);
        prompt_template_free(t);
        return PL_EINVAL;
    }
    struct summary_prompts *sp = pl_calloc(1, sizeof(*sp));
    sp->t = t;
    *out = sp;
    return PL_OK;
}

void summary_prompts_free(struct summary_prompts *sp)
{
    if (!sp)
        return;
    prompt_template_free(sp->t);
    pl_free(sp);
}

/* `len` bytes of `text` with every "</" written "<\/". */
static int append_data(struct pl_buf *b, const char *text, size_t len)
{
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < len; i++) {
        if (text[i] == '<' && i + 1 < len && text[i + 1] == '/') {
            rc = pl_buf_append(b, "<\\/", 3);
            i++;
        } else {
            rc = pl_buf_append(b, text + i, 1);
        }
    }
    return rc;
}

int summary_prompt_transcript(const struct prompt_history_item *items, size_t n, struct pl_buf *b)
{
    static const char *const who[] = {"Caller", "Assistant", "Human agent"};
    bool first = true;
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        const struct prompt_history_item *it = &items[i];
        if (!it->text || it->text_len == 0)
            continue;
        rc = pl_buf_printf(b, "%s%s (turn %ld): ", first ? "" : "\n", who[it->role], it->turn);
        if (rc == PL_OK)
            rc = append_data(b, it->text, it->text_len);
        first = false;
    }
    return rc == PL_OK ? PL_OK : PL_ETOOBIG;
}

int summary_prompt_build(const struct summary_prompts *sp, const struct prompt_fold *fold,
                         int max_tokens, const char *session_id, struct prompt *out)
{
    memset(out, 0, sizeof(*out));
    if (!fold || fold->n_items == 0 || max_tokens < 1)
        return PL_EINVAL;
    struct pl_buf transcript, previous, text;
    pl_buf_init(&transcript, SUMMARY_PROMPT_MAX);
    pl_buf_init(&previous, SUMMARY_PROMPT_MAX);
    pl_buf_init(&text, SUMMARY_PROMPT_MAX);
    int rc = summary_prompt_transcript(fold->items, fold->n_items, &transcript);
    if (rc == PL_OK && fold->previous && *fold->previous)
        rc = append_data(&previous, fold->previous, strlen(fold->previous)) == PL_OK ? PL_OK
                                                                                     : PL_ETOOBIG;
    char through[24], previous_through[24];
    snprintf(through, sizeof(through), "%ld", fold->through);
    snprintf(previous_through, sizeof(previous_through), "%ld", fold->previous_through);
    const struct prompt_var vars[] = {
        {"through", through},
        {"previous_summary", previous.data},
        {"previous_through", previous.data ? previous_through : NULL},
        {"transcript", transcript.data},
    };
    if (rc == PL_OK)
        rc = prompt_template_render(sp->t, vars, PL_ARRAY_LEN(vars), &text);
    pl_buf_cleanup(&transcript);
    pl_buf_cleanup(&previous);
    if (rc != PL_OK) {
        pl_buf_cleanup(&text);
        return PL_ETOOBIG;
    }
    struct summary_storage *st = pl_calloc(1, sizeof(*st));
    st->text = pl_buf_take(&text);
    st->user_id = pl_strdup(session_id);
    st->message = (struct prompt_message){"user", st->text};
    *out = (struct prompt){.system = SUMMARY_PROMPT_SYSTEM,
                           .messages = &st->message,
                           .n_messages = 1,
                           .max_tokens = max_tokens,
                           .user_id = st->user_id,
                           .purpose = PROMPT_PURPOSE_SUMMARY,
                           .fold = fold,
                           ._storage = st};
    return PL_OK;
}

void summary_prompt_cleanup(struct prompt *p)
{
    if (!p)
        return;
    struct summary_storage *st = p->_storage;
    if (st) {
        pl_free(st->text);
        pl_free(st->user_id);
        pl_free(st);
    }
    memset(p, 0, sizeof(*p));
}
