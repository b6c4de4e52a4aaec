/* The handoff packet; see handoff.h. A summary first (it may take a model call), then the
 * session's webhook facts, then its record and recent transcript, from which the packet is
 * built and told at once. */
#include "bot/handoff.h"

#include <stdio.h>
#include <string.h>

#include "bot/config.h"
#include "bot/summary.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/wall_clock.h"
#include "knowledge/kb_index.h"
#include "sessions/session_handoff.h"
#include "sessions/webhook_store.h"

#define SEARCH_MAX 16 /* passages looked at for the last question */

struct handoff_op {
    struct bot_server *srv;
    char sid[SESS_ID_LEN + 1];
    handoff_cb cb;
    void *ud;
    char *summary;
    struct sess_handoff_facts facts;
    json_t *citations[HANDOFF_ENTRIES]; /* parsed, kept until the callback returns */
    size_t n_citations;
    char passage_source[HANDOFF_PASSAGES][300];
};

const char *handoff_identity_name(enum handoff_identity id)
{
    switch (id) {
    case HANDOFF_VERIFIED:
        return "verified";
    case HANDOFF_BY_FLOW:
        return "contact_flow";
    case HANDOFF_BY_SIGN_IN:
        return "sign_in";
    default:
        return "none";
    }
}

static void op_free(struct handoff_op *op)
{
    for (size_t i = 0; i < op->n_citations; i++)
        json_decref(op->citations[i]);
    pl_free(op->summary);
    pl_free(op);
}

static void fail(struct handoff_op *op, int status)
{
    op->cb(op->ud, status, NULL);
    op_free(op);
}

static bool named(const struct handoff_doc *docs, size_t n, const char *source)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(docs[i].source, source) == 0)
            return true;
    return false;
}

/* The documents the recent answers cited, newest answer first, each once. */
static void add_sources(struct handoff_op *op, struct handoff *h, const struct sess_entry *entries,
                        size_t n)
{
    for (size_t i = n; i-- > 0 && h->n_sources < HANDOFF_SOURCES;) {
        if (strcmp(entries[i].role, "assistant") != 0 || !entries[i].citations[0] ||
            op->n_citations == HANDOFF_ENTRIES)
            continue;
        json_t *cites = json_loads(entries[i].citations, 0, NULL);
        if (!json_is_array(cites)) {
            json_decref(cites);
            continue;
        }
        op->citations[op->n_citations++] = cites;
        size_t k;
        json_t *cite;
        json_array_foreach(cites, k, cite)
        {
            const char *source = json_string_value(json_object_get(cite, "source"));
            const char *title = json_string_value(json_object_get(cite, "title"));
            if (!source || !*source || h->n_sources == HANDOFF_SOURCES ||
                named(h->sources, h->n_sources, source))
                continue;
            h->sources[h->n_sources++] =
                (struct handoff_doc){.source = source, .title = title ? title : "", .text = ""};
        }
    }
}

/* When the recent answers cited knowledge-base documents, only those files' passages are the
 * ones the bot used: is `source` one of them (or were none cited)? */
static bool cited_kb(const struct handoff *h, const char *source)
{
    for (size_t i = 0; i < h->n_sources; i++)
        if (strncmp(h->sources[i].source, "kb:", 3) == 0)
            return named(h->sources, h->n_sources, source);
    return true;
}

/* The passages the prompt placed for the caller's last question, found again. */
static void add_passages(struct handoff_op *op, struct handoff *h)
{
    struct kb_index *kb = op->srv->kb;
    uint32_t k = op->srv->cfg->kb_passages;
    if (!kb || k == 0 || !h->question[0])
        return;
    struct kb_hit hits[SEARCH_MAX];
    size_t n = kb_index_search(kb, h->question, strlen(h->question), hits,
                               k < SEARCH_MAX ? k : SEARCH_MAX);
    for (size_t i = 0; i < n && h->n_passages < HANDOFF_PASSAGES; i++) {
        char *source = op->passage_source[h->n_passages];
        snprintf(source, sizeof(op->passage_source[0]), "kb:%s", hits[i].doc);
        if (!cited_kb(h, source))
            continue;
        size_t len = strlen(hits[i].text);
        h->passages[h->n_passages++] =
            (struct handoff_doc){.source = source,
                                 .title = hits[i].title ? hits[i].title : "",
                                 .text = hits[i].text,
                                 .text_len = pl_utf8_cut(hits[i].text, len, HANDOFF_PASSAGE_TEXT)};
    }
}

static enum handoff_identity identity_of(const struct sess_record *rec,
                                         const struct sess_handoff_facts *f)
{
    if (!rec->policy_number[0])
        return HANDOFF_NOT_IDENTIFIED;
    if (f->hook_verified)
        return HANDOFF_VERIFIED;
    return f->hook[0] ? HANDOFF_BY_FLOW : HANDOFF_BY_SIGN_IN;
}

static void on_opened(void *ud, int status, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n)
{
    struct handoff_op *op = ud;
    if (status != PL_OK) {
        fail(op, status);
        return;
    }
    struct handoff h = {.session_id = op->sid,
                        .channel = rec->channel,
                        .state = rec->state,
                        .caller_id = rec->caller_id,
                        .caller_name = rec->caller_name,
                        .policy_number = rec->policy_number,
                        .identity = identity_of(rec, &op->facts),
                        .reason = op->facts.escalation_reason,
                        .waiting_since_ms = op->facts.waiting_since_ms,
                        .summary = op->summary,
                        .question = ""};
    for (size_t i = n; i-- > 0;)
        if (strcmp(entries[i].role, "caller") == 0) {
            h.question = entries[i].text;
            break;
        }
    add_sources(op, &h, entries, n);
    add_passages(op, &h);
    op->cb(op->ud, PL_OK, &h);
    op_free(op);
}

static void on_facts(void *ud, int status, const struct sess_handoff_facts *facts)
{
    struct handoff_op *op = ud;
    if (status != PL_OK) {
        fail(op, status);
        return;
    }
    op->facts = *facts;
    int rc = sess_open(op->srv->store, op->sid, HANDOFF_ENTRIES, on_opened, op);
    if (rc != PL_OK)
        fail(op, rc);
}

static void read_facts(struct handoff_op *op)
{
    int rc = sess_handoff_facts(op->srv->store, op->sid, on_facts, op);
    if (rc != PL_OK)
        fail(op, rc);
}

static void on_summarised(void *ud, int status, const char *text, long through)
{
    (void)through;
    struct handoff_op *op = ud;
    if (status == PL_OK && text)
        op->summary = pl_strdup(text);
    else if (status != PL_ENOTFOUND)
        PL_LOG(PL_LOG_WARN, "handoff", "session %s: no summary for the handoff (%s)", op->sid,
               pl_strerror(status));
    read_facts(op);
}

int handoff_build(struct bot_server *srv, const char *sid, handoff_cb cb, void *ud)
{
    if (!sess_id_valid(sid) || !cb)
        return PL_EINVAL;
    struct handoff_op *op = pl_calloc(1, sizeof(*op));
    op->srv = srv;
    snprintf(op->sid, sizeof(op->sid), "%s", sid);
    op->cb = cb;
    op->ud = ud;
    if (srv->summaries && summarizer_run(srv->summaries, sid, 0, on_summarised, op) == PL_OK)
        return PL_OK;
    int rc = sess_handoff_facts(srv->store, op->sid, on_facts, op);
    if (rc != PL_OK)
        pl_free(op);
    return rc;
}

void handoff_text(const struct handoff *h, struct pl_buf *out)
{
    switch (h->identity) {
    case HANDOFF_VERIFIED:
        pl_buf_printf(out, "Caller: verified, policy %s.", h->policy_number);
        break;
    case HANDOFF_BY_FLOW:
        pl_buf_printf(out, "Caller: identified by the contact flow, policy %s.", h->policy_number);
        break;
    case HANDOFF_BY_SIGN_IN:
        pl_buf_printf(out, "Caller: signed in on the website, policy %s.", h->policy_number);
        break;
    default:
        pl_buf_append_str(out, "Caller: not verified.");
    }
    pl_buf_printf(out, " Escalated: %s.", h->reason[0] ? h->reason : "no");
    pl_buf_printf(out, " Summary: %s", h->summary ? h->summary : "no conversation yet.");
    for (size_t i = 0; i < h->n_sources; i++) {
        const struct handoff_doc *d = &h->sources[i];
        pl_buf_printf(out, "%s%s", i ? "; " : " Sources: ", d->title[0] ? d->title : d->source);
        if (d->title[0])
            pl_buf_printf(out, " (%s)", d->source);
    }
    if (h->n_sources)
        pl_buf_append_str(out, ".");
}

int handoff_store(struct bot_server *srv, const struct handoff *h, char **text,
                  void (*cb)(void *ud, int status), void *ud)
{
    struct pl_buf packet;
    pl_buf_init(&packet, 64 * 1024);
    handoff_text(h, &packet);
    *text = pl_buf_take(&packet);
    char now[24];
    snprintf(now, sizeof(now), "%lld", pl_wall_ms());
    const char *names[] = {"handoff", "handoff_updated"};
    const char *values[] = {*text, now};
    return hook_session_set(srv->store, h->session_id, names, values, 2, cb, ud);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *handoff_json(const struct handoff *h)
{
    json_t *sources = json_array(), *passages = json_array();
    for (size_t i = 0; i < h->n_sources; i++)
        json_array_append_new(sources, json_pack("{s:s,s:o}", "source", h->sources[i].source,
                                                 "title", str_or_null(h->sources[i].title)));
    for (size_t i = 0; i < h->n_passages; i++) {
        const struct handoff_doc *d = &h->passages[i];
        json_t *text = json_stringn(d->text, d->text_len);
        json_array_append_new(passages,
                              json_pack("{s:s,s:o,s:o}", "source", d->source, "title",
                                        str_or_null(d->title), "text", text ? text : json_null()));
    }
    return json_pack(
        "{s:s,s:o,s:o,s:{s:o,s:o,s:o,s:s},s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "session_id",
        h->session_id, "channel", str_or_null(h->channel), "state", str_or_null(h->state), "caller",
        "id", str_or_null(h->caller_id), "name", str_or_null(h->caller_name), "policy_number",
        str_or_null(h->policy_number), "identified_by", handoff_identity_name(h->identity),
        "verified", h->identity != HANDOFF_NOT_IDENTIFIED, "reason", str_or_null(h->reason),
        "waiting_since", h->waiting_since_ms ? json_integer(h->waiting_since_ms) : json_null(),
        "summary", str_or_null(h->summary), "question", str_or_null(h->question), "sources",
        sources, "passages", passages);
}
