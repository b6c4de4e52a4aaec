/* The prompt builder; see prompt.h. Transcript roles map to model roles: caller -> user,
 * assistant -> assistant, a human agent's words -> assistant, marked as the agent's so the model
 * does not claim them. Failed answers are skipped with their questions, empty ones skipped,
 * consecutive same-role messages merged
 * and the oldest dropped to fit the budget (prompt_builder.h); the system prompt is the "system"
 * template (template.h) rendered with the caller's data. */
#include "prompts/prompt.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "prompts/prompt_builder.h"
#include "prompts/prompt_templates.h"
#include "prompts/template.h"

/* Bound on a rendered system prompt: far above any sensible template, it only stops a template
 * that repeats a long value many times from growing without limit. */
#define SYSTEM_PROMPT_MAX (1024 * 1024)
#define AGENT_MARK        "[A human agent wrote to the caller:] "

struct prompt_builder {
    struct prompt_templates *templates; /* swapped whole by prompt_builder_set_templates */
    char *assistant_name;
    char *company_name;
    uint32_t context_tokens;
    uint32_t max_output_tokens;
};

/* Everything prompt_build allocates for one prompt; struct prompt._storage points here. */
struct prompt_storage {
    char *system;
    char *user_id;
    struct prompt_merged merged; /* the messages; the prompt shows a tail of them */
    char **marked;               /* agent texts with their mark */
    size_t n_marked;
    struct prompt_citation *citations; /* the array and its strings are ours */
    size_t n_citations;
    struct prompt_document *documents; /* the array and its strings are ours */
    size_t n_documents;
};

int prompt_builder_create(const struct prompt_builder_opts *opts, struct prompt_builder **out,
                          char *err, size_t errlen)
{
    *out = NULL;
    if (!opts) {
        pl_errf(err, errlen, "no prompt builder options");
        return PL_EINVAL;
    }
    /* struct prompt carries max_tokens as an int. */
    if (opts->max_output_tokens == 0 || opts->max_output_tokens > INT_MAX) {
        pl_errf(err, errlen, "max output tokens must be between 1 and %d", INT_MAX);
        return PL_EINVAL;
    }
    struct prompt_templates *set = NULL;
    char notes[512];
    int rc = prompt_templates_load(opts->templates_dir, &set, notes, sizeof(notes), err, errlen);
    if (rc != PL_OK)
        return rc;
    if (*notes)
        PL_LOG(PL_LOG_WARN, "prompts", "%s", notes);
    struct prompt_builder *b = pl_calloc(1, sizeof(*b));
    b->templates = set;
    b->assistant_name = pl_strdup(opts->assistant_name);
    b->company_name = pl_strdup(opts->company_name);
    b->context_tokens = opts->context_tokens;
    b->max_output_tokens = opts->max_output_tokens;
    *out = b;
    return PL_OK;
}

void prompt_builder_set_templates(struct prompt_builder *b, struct prompt_templates *set)
{
    prompt_templates_free(b->templates);
    b->templates = set;
}

uint32_t prompt_model_context_tokens(const char *model)
{
    /* Published windows (200k for every Claude model; the offline provider has no limit, and
     * gets the same so that the offline mode trims as a real deployment would). */
    static const struct {
        const char *contains;
        uint32_t window;
    } windows[] = {{"claude", 200000}, {"parley-offline", 200000}};
    for (size_t i = 0; model && i < PL_ARRAY_LEN(windows); i++)
        if (strstr(model, windows[i].contains))
            return (uint32_t)((uint64_t)windows[i].window * (100 - PROMPT_WINDOW_MARGIN_PERCENT) /
                              100);
    return 0;
}

uint32_t prompt_builder_fit_model(struct prompt_builder *b, const char *model)
{
    uint32_t window = prompt_model_context_tokens(model);
    if (window && window < b->context_tokens) {
        PL_LOG(PL_LOG_NOTICE, "prompts",
               "--context-tokens %u is more than %s takes (%u with a %d%% margin): using %u",
               b->context_tokens, model, window, PROMPT_WINDOW_MARGIN_PERCENT, window);
        b->context_tokens = window;
    }
    return b->context_tokens;
}

size_t prompt_builder_history_budget(const struct prompt_builder *b)
{
    /* The answer's room comes out of the window; a window smaller than that (a configuration
     * the options' bounds allow) still leaves the history half of it. */
    return b->context_tokens > b->max_output_tokens ? b->context_tokens - b->max_output_tokens
                                                    : b->context_tokens / 2;
}

void prompt_builder_free(struct prompt_builder *b)
{
    if (!b)
        return;
    prompt_templates_free(b->templates);
    pl_free(b->assistant_name);
    pl_free(b->company_name);
    pl_free(b);
}

static bool has_question(const struct prompt_history_item *items, size_t n, long turn)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].role == PROMPT_ROLE_CALLER && items[i].turn == turn)
            return true;
    return false;
}

static bool has_policy_document(const struct prompt_caller *caller)
{
    return caller->policy_number && *caller->policy_number && caller->policy_record &&
           *caller->policy_record;
}

/* The caller's policy record as a document block (prompt.h): "</" inside it is written "<\/",
 * which JSON reads as the same string, so the record cannot close its block and pose as the
 * instructions that follow. PL_ETOOBIG past the buffer's bound. */
static int append_policy_document(struct pl_buf *buf, const char *number, const char *record,
                                  bool note_said)
{
    int rc = note_said ? PL_OK : pl_buf_printf(buf, "\n\n%s", PROMPT_DOCUMENTS_NOTE);
    bool at_line_start = note_said && buf->len > 0 && buf->data[buf->len - 1] == '\n';
    if (rc == PL_OK)
        rc = pl_buf_printf(buf, "%s<document id=\"policy:%s\" title=\"Your policy %s\">\n",
                           at_line_start ? "" : "\n", number, number);
    const char *p = record;
    for (const char *close; rc == PL_OK && (close = strstr(p, "</")); p = close + 2) {
        rc = pl_buf_append(buf, p, (size_t)(close - p));
        if (rc == PL_OK)
            rc = pl_buf_append(buf, "<\\/", 3);
    }
    if (rc == PL_OK)
        rc = pl_buf_append_str(buf, p);
    if (rc == PL_OK)
        rc = pl_buf_append_str(buf, "\n</document>");
    return rc == PL_OK ? PL_OK : PL_ETOOBIG;
}

/* Append s with every "</" written "<\/" and, when quotes is set, every '"' written "&quot;":
 * a passage cannot close its block, nor a title or id its attribute. */
static int append_escaped(struct pl_buf *buf, const char *s, bool quotes)
{
    int rc = PL_OK;
    for (; rc == PL_OK && *s; s++) {
        if (s[0] == '<' && s[1] == '/') {
            rc = pl_buf_append(buf, "<\\/", 3);
            s++;
        } else if (quotes && *s == '"') {
            rc = pl_buf_append_str(buf, "&quot;");
        } else {
            rc = pl_buf_append(buf, s, 1);
        }
    }
    return rc;
}

/* The knowledge passages as document blocks (prompt.h), after the note and any policy block. */
static int append_kb_documents(struct pl_buf *buf, const struct prompt_caller *caller,
                               bool note_said)
{
    int rc = note_said || has_policy_document(caller)
                 ? PL_OK
                 : pl_buf_printf(buf, "\n\n%s", PROMPT_DOCUMENTS_NOTE);
    for (size_t i = 0; rc == PL_OK && i < caller->n_documents; i++) {
        const struct prompt_document *d = &caller->documents[i];
        bool at_line_start = buf->len > 0 && buf->data[buf->len - 1] == '\n';
        rc = pl_buf_append_str(buf, at_line_start ? "<document id=\"" : "\n<document id=\"");
        if (rc == PL_OK)
            rc = append_escaped(buf, d->id ? d->id : "", true);
        if (rc == PL_OK)
            rc = pl_buf_append_str(buf, "\" title=\"");
        if (rc == PL_OK)
            rc = append_escaped(buf, d->title ? d->title : "", true);
        if (rc == PL_OK)
            rc = pl_buf_append_str(buf, "\">\n");
        if (rc == PL_OK)
            rc = append_escaped(buf, d->text ? d->text : "", false);
        if (rc == PL_OK)
            rc = pl_buf_append_str(buf, "\n</document>");
    }
    return rc == PL_OK ? PL_OK : PL_ETOOBIG;
}

static bool has_summary(const struct prompt_caller *caller)
{
    return caller && caller->summary && *caller->summary && caller->summary_through > 0;
}

/* The caller's summary as a delimited block of data (prompt.h), after everything else. */
static int append_summary(struct pl_buf *buf, const struct prompt_caller *caller)
{
    int rc = pl_buf_printf(buf, "\n\n%s\n<conversation_summary through_turn=\"%ld\">\n",
                           PROMPT_SUMMARY_NOTE, caller->summary_through);
    if (rc == PL_OK)
        rc = append_escaped(buf, caller->summary, false);
    if (rc == PL_OK)
        rc = pl_buf_append_str(buf, "\n</conversation_summary>");
    return rc == PL_OK ? PL_OK : PL_ETOOBIG;
}

/* A new string with the rendered system prompt in *out; PL_ETOOBIG past SYSTEM_PROMPT_MAX. */
static int render_system(const struct prompt_builder *b, const struct prompt_caller *caller,
                         char **out)
{
    static const struct prompt_caller nobody;
    if (!caller)
        caller = &nobody;
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    const struct prompt_template *t =
        prompt_templates_get(b->templates, prompt_channel_template(caller->channel));
    bool documents = has_policy_document(caller) || caller->n_documents > 0;
    /* The renderer treats NULL and "" alike: both are absent. */
    const struct prompt_var vars[] = {
        {"assistant_name", b->assistant_name},
        {"company_name", b->company_name},
        {"caller_name", caller->name},
        {"policy_number", caller->policy_number},
        {"channel", caller->channel},
        {"today", today},
        {"documents_note", documents ? PROMPT_DOCUMENTS_NOTE : NULL},
    };
    struct pl_buf buf;
    pl_buf_init(&buf, SYSTEM_PROMPT_MAX);
    int rc = prompt_template_render(t, vars, PL_ARRAY_LEN(vars), &buf);
    /* A template that places the note has said it; one that does not gets it before the
     * documents, so the model is told once either way. */
    if (rc == PL_OK && has_policy_document(caller))
        rc = append_policy_document(&buf, caller->policy_number, caller->policy_record,
                                    prompt_template_uses(t, "documents_note"));
    if (rc == PL_OK && caller->n_documents > 0)
        rc = append_kb_documents(&buf, caller, prompt_template_uses(t, "documents_note"));
    if (rc == PL_OK && has_summary(caller))
        rc = append_summary(&buf, caller);
    if (rc != PL_OK) {
        pl_buf_cleanup(&buf);
        return rc;
    }
    *out = pl_buf_take(&buf);
    return PL_OK;
}

static void storage_free(struct prompt_storage *st)
{
    if (!st)
        return;
    prompt_merged_cleanup(&st->merged);
    for (size_t i = 0; i < st->n_marked; i++)
        pl_free(st->marked[i]);
    pl_free(st->marked);
    for (size_t i = 0; i < st->n_citations; i++) {
        pl_free((char *)st->citations[i].source);
        pl_free((char *)st->citations[i].title);
    }
    pl_free(st->citations);
    for (size_t i = 0; i < st->n_documents; i++) {
        pl_free((char *)st->documents[i].id);
        pl_free((char *)st->documents[i].source);
        pl_free((char *)st->documents[i].title);
        pl_free((char *)st->documents[i].doc_title);
        pl_free((char *)st->documents[i].text);
    }
    pl_free(st->documents);
    pl_free(st->system);
    pl_free(st->user_id);
    pl_free(st);
}

static void add_citations(struct prompt_storage *st, const struct prompt_caller *caller);

/* The turn of the first raw message of merged message `drop` (prompt_merge_roles merges runs of
 * one role, so merged message m starts where the role changed for the m-th time). */
static long first_turn_kept(const struct prompt_message *raw, const long *raw_turn, size_t k,
                            size_t drop)
{
    size_t m = 0;
    for (size_t r = 0; r < k; r++) {
        if (r > 0 && strcmp(raw[r].role, raw[r - 1].role) != 0)
            m++;
        if (m == drop)
            return raw_turn[r];
    }
    return k ? raw_turn[k - 1] : 0;
}

int prompt_build(const struct prompt_builder *b, const struct prompt_caller *caller,
                 const struct prompt_history_item *items, size_t n, long turn, struct prompt *out)
{
    memset(out, 0, sizeof(*out));
    if (!has_question(items, n, turn))
        return PL_ENOTFOUND;

    struct prompt_storage *st = pl_calloc(1, sizeof(*st));
    int rc = render_system(b, caller, &st->system);
    if (rc != PL_OK) {
        storage_free(st);
        return rc;
    }
    /* The turns whose answer failed, in increasing order (items come in conversation order):
     * their questions are left out, found with one cursor over this list. */
    long *failed = pl_calloc(n, sizeof(*failed));
    size_t n_failed = 0, cursor = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].failed)
            failed[n_failed++] = items[i].turn;
    struct prompt_message *raw = pl_calloc(n, sizeof(*raw));
    long *raw_turn = pl_calloc(n, sizeof(*raw_turn)); /* the turn of each raw message */
    st->marked = pl_calloc(n, sizeof(*st->marked));
    long summarised = has_summary(caller) ? caller->summary_through : 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct prompt_history_item *it = &items[i];
        bool empty = !it->text || it->text_len == 0;
        if (it->turn > turn)
            continue; /* messages queued after this one are answered by their own turns */
        if (it->turn <= summarised && it->turn < turn)
            continue; /* the summary tells it */
        raw_turn[k] = it->turn;
        switch (it->role) {
        case PROMPT_ROLE_CALLER:
            while (cursor < n_failed && failed[cursor] < it->turn)
                cursor++;
            if (cursor == n_failed || failed[cursor] != it->turn)
                raw[k++] = (struct prompt_message){"user", it->text ? it->text : ""};
            break;
        case PROMPT_ROLE_ASSISTANT:
            /* An empty answer is a failed one; this turn's own answer is being written. */
            if (!empty && it->turn != turn)
                raw[k++] = (struct prompt_message){"assistant", it->text};
            break;
        case PROMPT_ROLE_AGENT:
            if (!empty) {
                struct pl_buf m;
                pl_buf_init(&m, SIZE_MAX);
                pl_buf_append_str(&m, AGENT_MARK);
                pl_buf_append_str(&m, it->text);
                st->marked[st->n_marked] = pl_buf_take(&m);
                raw[k++] = (struct prompt_message){"assistant", st->marked[st->n_marked++]};
            }
            break;
        }
    }
    prompt_merge_roles(raw, k, &st->merged);
    pl_free(failed);

    size_t budget = prompt_builder_history_budget(b);
    size_t drop = prompt_trim_to_budget(st->system, st->merged.messages, st->merged.n, budget);
    out->history_from_turn = first_turn_kept(raw, raw_turn, k, drop);
    /* Turns left out and not summarised: some trimmed by the budget, or turns between the
     * summary and the oldest item given (the context read holds the newest entries only). */
    long oldest = n ? items[0].turn : 0;
    for (size_t i = 1; i < n; i++)
        if (items[i].turn < oldest)
            oldest = items[i].turn;
    if (drop > 0 || oldest - 1 > summarised) {
        size_t half =
            prompt_trim_to_budget(st->system, st->merged.messages, st->merged.n, budget / 2);
        out->summary_due_through = first_turn_kept(raw, raw_turn, k, half) - 1;
        if (out->summary_due_through < out->history_from_turn - 1)
            out->summary_due_through = out->history_from_turn - 1;
        if (out->summary_due_through <= summarised)
            out->summary_due_through = 0;
    }
    pl_free(raw);
    pl_free(raw_turn);
    if (caller && caller->session_id && *caller->session_id)
        st->user_id = pl_strdup(caller->session_id);

    out->system = st->system;
    out->messages = st->merged.messages + drop;
    out->n_messages = st->merged.n - drop;
    out->max_tokens = (int)b->max_output_tokens;
    out->user_id = st->user_id;
    add_citations(st, caller);
    out->citations = st->citations;
    out->n_citations = st->n_citations;
    out->documents = st->documents;
    out->n_documents = st->n_documents;
    out->_storage = st;
    return PL_OK;
}

static char *dup_or_empty(const char *s)
{
    return pl_strdup(s ? s : "");
}

/* The policy's citation, then one per knowledge file (the first passage's doc_title), and the
 * copies of the passages. */
static void add_citations(struct prompt_storage *st, const struct prompt_caller *caller)
{
    if (!caller || (!has_policy_document(caller) && caller->n_documents == 0))
        return;
    st->citations = pl_calloc(1 + caller->n_documents, sizeof(*st->citations));
    if (caller->n_documents)
        st->documents = pl_calloc(caller->n_documents, sizeof(*st->documents));
    if (has_policy_document(caller)) {
        struct pl_buf source, title;
        pl_buf_init(&source, SIZE_MAX);
        pl_buf_init(&title, SIZE_MAX);
        pl_buf_printf(&source, "policy:%s", caller->policy_number);
        pl_buf_printf(&title, "Your policy %s", caller->policy_number);
        st->citations[0] = (struct prompt_citation){pl_buf_take(&source), pl_buf_take(&title)};
        st->n_citations = 1;
    }
    for (size_t i = 0; i < caller->n_documents; i++) {
        const struct prompt_document *d = &caller->documents[i];
        st->documents[i] = (struct prompt_document){
            dup_or_empty(d->id), dup_or_empty(d->source), dup_or_empty(d->title),
            dup_or_empty(d->doc_title), dup_or_empty(d->text)};
        bool listed = false;
        for (size_t j = 0; j < st->n_citations && !listed; j++)
            listed = strcmp(st->citations[j].source, st->documents[i].source) == 0;
        if (!listed)
            st->citations[st->n_citations++] = (struct prompt_citation){
                pl_strdup(st->documents[i].source), pl_strdup(st->documents[i].doc_title)};
    }
    st->n_documents = caller->n_documents;
}

void prompt_cleanup(struct prompt *p)
{
    if (!p)
        return;
    storage_free(p->_storage);
    memset(p, 0, sizeof(*p));
}
