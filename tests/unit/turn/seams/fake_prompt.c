/* A fake prompt builder: records the history it was given (as one string to assert on) and
 * places the citations the test chose; refuses like the real one when the turn's caller
 * message is missing. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "tests/unit/turn/seams/seams.h"

static int builder_storage;
const struct prompt_builder *fake_prompts = (const struct prompt_builder *)&builder_storage;

static struct pl_buf history;
static struct prompt_citation cites[4];
static size_t n_cites;
static int fail_next;
static struct pl_buf policy;
static long summary_due;       /* the next prompt's summary_due_through */
static char summary_seen[128]; /* "N:TEXT" of the caller's summary, "" when none */

void fake_prompt_reset(void)
{
    pl_buf_cleanup(&history);
    pl_buf_init(&history, 1 << 20);
    for (size_t i = 0; i < n_cites; i++) {
        pl_free((char *)cites[i].source);
        pl_free((char *)cites[i].title);
    }
    n_cites = 0;
    fail_next = 0;
    summary_due = 0;
    summary_seen[0] = '\0';
    pl_buf_cleanup(&policy);
    pl_buf_init(&policy, 1 << 20);
}

const char *fake_prompt_policy(void)
{
    return policy.data ? policy.data : "";
}

const char *fake_prompt_history(void)
{
    return history.data ? history.data : "";
}

void fake_prompt_cite(const char *source, const char *title)
{
    cites[n_cites].source = pl_strdup(source);
    cites[n_cites].title = pl_strdup(title);
    n_cites++;
}

void fake_prompt_summary_due(long through)
{
    summary_due = through;
}

const char *fake_prompt_summary(void)
{
    return summary_seen;
}

void fake_prompt_fail_next(int status)
{
    fail_next = status;
}

struct fake_storage {
    struct prompt_message messages[1];
    char *question;
};

int prompt_build(const struct prompt_builder *b, const struct prompt_caller *caller,
                 const struct prompt_history_item *items, size_t n, long turn, struct prompt *out)
{
    (void)b;
    memset(out, 0, sizeof(*out));
    pl_buf_reset(&policy);
    summary_seen[0] = '\0';
    if (caller && caller->summary && *caller->summary)
        snprintf(summary_seen, sizeof(summary_seen), "%ld:%s", caller->summary_through,
                 caller->summary);
    if (caller && caller->policy_number && *caller->policy_number)
        pl_buf_printf(&policy, "%s:%s", caller->policy_number,
                      caller->policy_record ? caller->policy_record : "");
    if (fail_next) {
        int rc = fail_next;
        fail_next = 0;
        return rc;
    }
    static const char *const roles[] = {"caller", "assistant", "agent"};
    pl_buf_reset(&history);
    const char *question = NULL;
    for (size_t i = 0; i < n; i++) {
        if (items[i].turn > turn)
            continue;
        pl_buf_printf(&history, "%s%s:%ld:%s%s", history.len ? "|" : "", roles[items[i].role],
                      items[i].turn, items[i].text, items[i].failed ? "(failed)" : "");
        if (items[i].role == PROMPT_ROLE_CALLER && items[i].turn == turn)
            question = items[i].text;
    }
    if (!question)
        return PL_ENOTFOUND;
    struct fake_storage *st = pl_calloc(1, sizeof(*st));
    st->question = pl_strdup(question);
    st->messages[0] = (struct prompt_message){"user", st->question};
    out->messages = st->messages;
    out->n_messages = 1;
    out->max_tokens = 100;
    out->summary_due_through = summary_due;
    out->citations = n_cites ? cites : NULL;
    out->n_citations = n_cites;
    out->_storage = st;
    return PL_OK;
}

void prompt_cleanup(struct prompt *p)
{
    struct fake_storage *st = p->_storage;
    if (st) {
        pl_free(st->question);
        pl_free(st);
    }
    memset(p, 0, sizeof(*p));
}
