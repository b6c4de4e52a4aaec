/* A fake session store: every call the engine makes is recorded with its arguments and waits
 * until the test answers it (or fails at once when told to), so each Redis reply arrives
 * exactly when the test wants it. Contexts are real heap objects freed by
 * sess_turn_context_free, counted so a test can assert that none leaked. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/policy_source.h"
#include "sessions/policy_store.h"
#include "tests/unit/turn/seams/seams.h"

static struct fake_call *calls; /* oldest first */
static size_t counts[CALL_POLICY + 1];
static int fail_status[CALL_POLICY + 1];
static size_t ctx_live;

struct fake_ctx {
    struct sess_turn_context ctx; /* first: the engine frees what it was given */
    struct sess_entry *entries;
    size_t n;
    char **strings;
    size_t n_strings;
};

static void free_call(struct fake_call *c)
{
    pl_free(c->text);
    pl_free(c->client_id);
    pl_free(c->citations);
    pl_free(c);
}

void fake_store_reset(void)
{
    while (calls) {
        struct fake_call *c = calls;
        calls = c->next;
        free_call(c);
    }
    memset(counts, 0, sizeof(counts));
    memset(fail_status, 0, sizeof(fail_status));
    memset(&fake_budget, 0, sizeof(fake_budget));
}

static int record(enum fake_call_kind kind, const char *sid, void *cb, void *ud,
                  struct fake_call **out)
{
    counts[kind]++;
    if (fail_status[kind]) {
        int rc = fail_status[kind];
        fail_status[kind] = 0;
        return rc;
    }
    struct fake_call *c = pl_calloc(1, sizeof(*c));
    c->kind = kind;
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    c->cb = cb;
    c->ud = ud;
    struct fake_call **tail = &calls;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    *out = c;
    return PL_OK;
}

static void unlink_call(struct fake_call *c)
{
    for (struct fake_call **p = &calls; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

struct fake_call *fake_store_pending(enum fake_call_kind kind)
{
    for (struct fake_call *c = calls; c; c = c->next) {
        if (c->kind == kind)
            return c;
    }
    return NULL;
}

size_t fake_store_count(enum fake_call_kind kind)
{
    return counts[kind];
}

void fake_store_fail_next(enum fake_call_kind kind, int status)
{
    fail_status[kind] = status;
}

/* ---- the calls ---- */

bool sess_id_valid(const char *sid)
{
    return sid && strlen(sid) == SESS_ID_LEN;
}

int sess_append_caller(struct sess_store *s, const char *sid, const struct sess_sender *sender,
                       const char *client_id, const char *text, size_t len,
                       const struct sess_begin_opts *begin, sess_append_cb cb, void *ud)
{
    (void)s;
    struct fake_call *c;
    int rc = record(CALL_APPEND, sid, (void *)cb, ud, &c);
    if (rc)
        return rc;
    c->text = pl_strndup(text, len);
    c->client_id = pl_strdup(client_id);
    c->with_begin = begin != NULL;
    snprintf(c->address, sizeof(c->address), "%s",
             sender && sender->address ? sender->address : "");
    c->cost = sender ? sender->cost : 0;
    return PL_OK;
}

int sess_turn_begin(struct sess_store *s, const char *sid, const struct sess_begin_opts *begin,
                    sess_begin_cb cb, void *ud)
{
    (void)s;
    struct fake_call *c;
    int rc = record(CALL_BEGIN, sid, (void *)cb, ud, &c);
    if (rc)
        return rc;
    c->turn = begin->turn;
    return PL_OK;
}

int sess_turn_end(struct sess_store *s, const char *sid, const char *owner,
                  const struct sess_answer *a, sess_done_cb cb, void *ud)
{
    (void)s;
    (void)owner;
    struct fake_call *c;
    int rc = record(CALL_END, sid, (void *)cb, ud, &c);
    if (rc)
        return rc;
    c->turn = a->turn;
    c->text = pl_strndup(a->text, a->text_len);
    snprintf(c->stop_reason, sizeof(c->stop_reason), "%s", a->stop_reason);
    snprintf(c->error, sizeof(c->error), "%s", a->error ? a->error : "");
    c->citations = pl_strdup(a->citations);
    c->input_tokens = a->input_tokens;
    c->output_tokens = a->output_tokens;
    snprintf(c->reservation, sizeof(c->reservation), "%s", a->reservation ? a->reservation : "");
    return PL_OK;
}

int sess_turn_renew(struct sess_store *s, const char *sid, const char *owner, uint32_t lock_ttl_ms,
                    sess_done_cb cb, void *ud)
{
    (void)s;
    (void)owner;
    (void)lock_ttl_ms;
    struct fake_call *c;
    return record(CALL_RENEW, sid, (void *)cb, ud, &c);
}

int sess_turn_release(struct sess_store *s, const char *sid, const char *owner, sess_done_cb cb,
                      void *ud)
{
    (void)s;
    (void)owner;
    struct fake_call *c;
    return record(CALL_RELEASE, sid, (void *)cb, ud, &c);
}

int sess_turn_answer(struct sess_store *s, const char *sid, long turn, sess_answer_cb cb, void *ud)
{
    (void)s;
    struct fake_call *c;
    int rc = record(CALL_ANSWER, sid, (void *)cb, ud, &c);
    if (rc)
        return rc;
    c->turn = turn;
    return PL_OK;
}

/* ---- answers ---- */

void fake_store_answer_append(struct fake_call *c, int status, long turn, bool duplicate,
                              struct sess_turn_context *begun)
{
    unlink_call(c);
    struct sess_append_result r = {
        .status = status, .turn = turn, .duplicate = duplicate, .begun = begun};
    ((sess_append_cb)c->cb)(c->ud, &r);
    free_call(c);
}

void fake_store_refuse_append(struct fake_call *c, uint32_t retry_after_ms)
{
    unlink_call(c);
    struct sess_append_result r = {.status = PL_ELIMITED, .retry_after_ms = retry_after_ms};
    ((sess_append_cb)c->cb)(c->ud, &r);
    free_call(c);
}

void fake_store_answer_begin(struct fake_call *c, struct sess_turn_context *ctx)
{
    unlink_call(c);
    ((sess_begin_cb)c->cb)(c->ud, ctx);
    free_call(c);
}

void fake_store_answer_done(struct fake_call *c, int status)
{
    unlink_call(c);
    if (c->cb)
        ((sess_done_cb)c->cb)(c->ud, status);
    free_call(c);
}

void fake_store_answer_answer(struct fake_call *c, int status, const struct sess_record *rec,
                              const struct sess_entry *answer)
{
    unlink_call(c);
    ((sess_answer_cb)c->cb)(c->ud, status, rec, answer, 0);
    free_call(c);
}

void fake_store_refuse_answer(struct fake_call *c, uint32_t retry_after_ms)
{
    unlink_call(c);
    ((sess_answer_cb)c->cb)(c->ud, PL_ELIMITED, NULL, NULL, retry_after_ms);
    free_call(c);
}

/* ---- contexts ---- */

static struct fake_ctx *ctx_new(int status, enum sess_begin_result result)
{
    struct fake_ctx *f = pl_calloc(1, sizeof(*f));
    f->ctx.status = status;
    f->ctx.result = result;
    snprintf(f->ctx.rec.channel, sizeof(f->ctx.rec.channel), "web");
    snprintf(f->ctx.rec.state, sizeof(f->ctx.rec.state), "bot");
    ctx_live++;
    return f;
}

static const char *keep(struct fake_ctx *f, const char *s)
{
    f->strings = pl_realloc(f->strings, (f->n_strings + 1) * sizeof(*f->strings));
    f->strings[f->n_strings] = pl_strdup(s ? s : "");
    return f->strings[f->n_strings++];
}

static void copy_entry(struct fake_ctx *f, struct sess_entry *dst, const struct sess_entry *src)
{
    *dst = *src;
    dst->role = keep(f, src->role);
    dst->text = keep(f, src->text);
    dst->text_len = strlen(dst->text);
    dst->client_id = keep(f, src->client_id);
    dst->stop_reason = keep(f, src->stop_reason);
    dst->error = keep(f, src->error);
    dst->model = keep(f, src->model);
    dst->citations = keep(f, src->citations);
}

struct sess_turn_context *fake_ctx_locked_with(const struct sess_entry *entries, size_t n,
                                               long turns, long answered)
{
    struct fake_ctx *f = ctx_new(PL_OK, SESS_BEGIN_LOCKED);
    f->ctx.rec.turns = turns;
    f->ctx.rec.answered = answered;
    f->entries = pl_calloc(n ? n : 1, sizeof(*f->entries));
    for (size_t i = 0; i < n; i++)
        copy_entry(f, &f->entries[i], &entries[i]);
    f->n = n;
    f->ctx.entries = f->entries;
    f->ctx.n = n;
    return &f->ctx;
}

struct sess_turn_context *fake_ctx_locked(long turns)
{
    struct sess_entry e[16];
    memset(e, 0, sizeof(e));
    char texts[16][8];
    for (long i = 0; i < turns && i < 16; i++) {
        snprintf(texts[i], sizeof(texts[i]), "q%ld", i + 1);
        e[i].role = "caller";
        e[i].turn = i + 1;
        e[i].text = texts[i];
    }
    return fake_ctx_locked_with(e, (size_t)(turns < 16 ? turns : 16), turns, 0);
}

struct sess_turn_context *fake_ctx_held(void)
{
    return &ctx_new(PL_OK, SESS_BEGIN_HELD_ELSEWHERE)->ctx;
}

struct sess_turn_context *fake_ctx_with_agent(void)
{
    return &ctx_new(PL_OK, SESS_BEGIN_WITH_AGENT)->ctx;
}

struct sess_turn_context *fake_ctx_answered(const struct sess_entry *answer, long answered)
{
    struct fake_ctx *f = ctx_new(PL_OK, SESS_BEGIN_ANSWERED);
    f->ctx.rec.answered = answered;
    f->ctx.rec.turns = answered;
    if (answer) {
        f->entries = pl_calloc(1, sizeof(*f->entries));
        copy_entry(f, f->entries, answer);
        f->n = 1;
        f->ctx.answer = f->entries;
    }
    return &f->ctx;
}

struct sess_turn_context *fake_ctx_status(int status)
{
    return &ctx_new(status, SESS_BEGIN_LOCKED)->ctx;
}

void sess_turn_context_free(struct sess_turn_context *ctx)
{
    if (!ctx)
        return;
    struct fake_ctx *f = (struct fake_ctx *)ctx;
    for (size_t i = 0; i < f->n_strings; i++)
        pl_free(f->strings[i]);
    pl_free(f->strings);
    pl_free(f->entries);
    pl_free(ctx->summary); /* as the real store: the context owns its summary */
    pl_free(f);
    ctx_live--;
}

size_t fake_ctx_live(void)
{
    return ctx_live;
}

struct fake_budget fake_budget;

/* A reservation is answered at once, as fake_budget says. */
int sess_reserve(struct sess_store *s, const struct sess_reservation *r, sess_reserve_cb cb,
                 void *ud)
{
    (void)s;
    fake_budget.reserves++;
    snprintf(fake_budget.member, sizeof(fake_budget.member), "%s", r->member);
    fake_budget.tokens = r->tokens;
    cb(ud, fake_budget.status, fake_budget.result, fake_budget.warn);
    return PL_OK;
}

int sess_unreserve(struct sess_store *s, const char *tenant, const char *day, const char *member,
                   sess_done_cb cb, void *ud)
{
    (void)s;
    (void)tenant;
    (void)day;
    (void)member;
    (void)cb;
    (void)ud;
    fake_budget.unreserves++;
    return PL_OK;
}

/* ---- policy records (sessions/policy_store.h) ---- */

bool sess_policy_number_valid(const char *number)
{
    return number && *number;
}

int sess_policy_get(struct sess_store *s, const char *number, sess_policy_get_cb cb, void *ud)
{
    (void)s;
    struct fake_call *c;
    int rc = record(CALL_POLICY, "", (void *)cb, ud, &c);
    if (rc)
        return rc;
    c->text = pl_strdup(number);
    return PL_OK;
}

/* The engine reads policy records through its policy source (connectors/policy_source.h); here
 * the source is the fake store. */
int policy_source_get(struct policy_source *src, const char *number, policy_source_cb cb, void *ud)
{
    (void)src;
    return sess_policy_get(NULL, number, cb, ud);
}

const char *policy_source_kind(const struct policy_source *src)
{
    (void)src;
    return "redis";
}

void fake_store_answer_policy(struct fake_call *c, int status, const char *record)
{
    unlink_call(c);
    ((sess_policy_get_cb)c->cb)(c->ud, status, record, record ? strlen(record) : 0);
    free_call(c);
}
