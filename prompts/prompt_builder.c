/* History shaping for model requests; see prompt_builder.h. Estimates are deliberately crude
 * (bytes / 4): they only need to keep requests under the model's window with some slack. */
#include "prompts/prompt_builder.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

size_t prompt_estimate_tokens(const char *text)
{
    if (!text)
        return 0;
    size_t n = strlen(text);
    return n / 4 + (n % 4 != 0);
}

static bool same_role(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

void prompt_merge_roles(const struct prompt_message *in, size_t n, struct prompt_merged *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    out->messages = pl_calloc(n, sizeof(*out->messages));
    out->_texts = pl_calloc(n, sizeof(*out->_texts));
    size_t i = 0;
    while (i < n) {
        struct pl_buf b;
        pl_buf_init(&b, SIZE_MAX);
        size_t j = i;
        for (; j < n && same_role(in[j].role, in[i].role); j++) {
            if (j > i)
                pl_buf_append(&b, "\n\n", 2);
            if (in[j].text)
                pl_buf_append_str(&b, in[j].text);
        }
        char *text = pl_buf_take(&b);
        out->_texts[out->n] = text;
        out->messages[out->n] = (struct prompt_message){.role = in[i].role, .text = text};
        out->n++;
        i = j;
    }
}

void prompt_merged_cleanup(struct prompt_merged *m)
{
    for (size_t i = 0; m->_texts && i < m->n; i++)
        pl_free(m->_texts[i]);
    pl_free(m->_texts);
    pl_free(m->messages);
    memset(m, 0, sizeof(*m));
}

static bool is_user(const struct prompt_message *m)
{
    return m->role && strcmp(m->role, "user") == 0;
}

size_t prompt_trim_to_budget(const char *system, const struct prompt_message *msgs, size_t n,
                             size_t budget_tokens)
{
    if (n == 0)
        return 0;
    size_t limit = n - 1; /* most messages we may drop */
    for (size_t i = n; i-- > 0;) {
        if (is_user(&msgs[i])) {
            limit = i;
            break;
        }
    }
    size_t total = prompt_estimate_tokens(system);
    for (size_t i = 0; i < n; i++)
        total += prompt_estimate_tokens(msgs[i].text);
    size_t drop = 0;
    while (drop < limit && total > budget_tokens)
        total -= prompt_estimate_tokens(msgs[drop++].text);
    while (drop < limit && !is_user(&msgs[drop]))
        drop++;
    return drop;
}
