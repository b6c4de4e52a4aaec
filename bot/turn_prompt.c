/* From a session's transcript to the model request of one turn; see turn_prompt.h. Transcript
 * roles map to Messages API roles: caller -> user, assistant -> assistant, a human agent's words
 * -> assistant, marked as the agent's so the model does not claim them. Failed (empty) answers
 * are skipped, consecutive same-role messages merged, and the oldest dropped to fit the
 * context budget. */
#include "bot/turn_prompt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "prompts/prompt_builder.h"
#include "prompts/template.h"
#include "sessions/conversation_order.h"

#define SYSTEM_PROMPT_MAX (256 * 1024)

struct prompt_storage {
    char *system;
    struct prompt_merged merged;
    char **texts; /* agent-prefixed texts we allocated */
    size_t n_texts;
};

int turn_prompt_setup(struct bot_server *srv, char *err, size_t errlen)
{
    return prompt_template_load(srv->cfg->prompts_dir, "system", &srv->system_prompt, err, errlen);
}

void turn_prompt_teardown(struct bot_server *srv)
{
    prompt_template_free(srv->system_prompt);
    srv->system_prompt = NULL;
}

static char *render_system(const struct bot_server *srv, const struct sess_record *rec)
{
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    const struct prompt_var vars[] = {
        {"assistant_name", srv->cfg->assistant_name},
        {"company_name", srv->cfg->company_name},
        {"caller_name", rec->caller_name[0] ? rec->caller_name : NULL},
        {"policy_number", rec->policy_number[0] ? rec->policy_number : NULL},
        {"channel", rec->channel},
        {"today", today},
    };
    struct pl_buf b;
    pl_buf_init(&b, SYSTEM_PROMPT_MAX);
    prompt_template_render(srv->system_prompt, vars, sizeof(vars) / sizeof(vars[0]), &b);
    return pl_buf_take(&b);
}

int turn_prompt_build(struct bot_server *srv, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n, long turn,
                      struct turn_prompt *out)
{
    memset(out, 0, sizeof(*out));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (entries[i].turn == turn && strcmp(entries[i].role, "caller") == 0)
            found = true;
    if (!found)
        return PL_ENOTFOUND;

    struct prompt_storage *st = pl_calloc(1, sizeof(*st));
    struct prompt_message *raw = pl_calloc(n, sizeof(*raw));
    const struct sess_entry **ordered = pl_calloc(n, sizeof(*ordered));
    sess_conversation_order(entries, n, ordered);
    st->texts = pl_calloc(n, sizeof(*st->texts));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sess_entry *e = ordered[i];
        if (e->turn > turn)
            break; /* messages queued after this one are answered by their own turns */
        if (strcmp(e->role, "caller") == 0) {
            raw[k++] = (struct prompt_message){"user", e->text};
        } else if (strcmp(e->role, "assistant") == 0) {
            if (e->text_len == 0 || e->turn == turn)
                continue;
            raw[k++] = (struct prompt_message){"assistant", e->text};
        } else if (strcmp(e->role, "agent") == 0) {
            struct pl_buf b;
            pl_buf_init(&b, SIZE_MAX);
            pl_buf_printf(&b, "[A human agent wrote to the caller:] %s", e->text);
            st->texts[st->n_texts] = pl_buf_take(&b);
            raw[k++] = (struct prompt_message){"assistant", st->texts[st->n_texts++]};
        }
    }
    st->system = render_system(srv, rec);

    prompt_merge_roles(raw, k, &st->merged);
    size_t budget = srv->cfg->context_tokens > srv->cfg->max_output_tokens
                        ? srv->cfg->context_tokens - srv->cfg->max_output_tokens
                        : srv->cfg->context_tokens / 2;
    size_t drop = prompt_trim_to_budget(st->system, st->merged.messages, st->merged.n, budget);
    pl_free(raw);
    pl_free(ordered);

    out->request.system = st->system;
    out->request.messages = st->merged.messages + drop;
    out->request.n_messages = st->merged.n - drop;
    out->request.max_tokens = (int)srv->cfg->max_output_tokens;
    out->request.user_id = rec->id;
    out->_storage = st;
    return PL_OK;
}

void turn_prompt_cleanup(struct turn_prompt *p)
{
    struct prompt_storage *st = p->_storage;
    if (!st)
        return;
    prompt_merged_cleanup(&st->merged);
    for (size_t i = 0; i < st->n_texts; i++)
        pl_free(st->texts[i]);
    pl_free(st->texts);
    pl_free(st->system);
    pl_free(st);
    p->_storage = NULL;
}
