/* Session store operations over one Redis connection; see session_store.h for the contract and
 * session_scripts.h for the atomic scripts. Replies are parsed here into borrowed structs. */
#include "sessions/session_store.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/wall_clock.h"
#include "sessions/ack_promise.h"
#include "sessions/redis_conn.h"
#include "sessions/script_args.h"
#include "sessions/session_conn.h"
#include "sessions/session_keys.h"
#include "sessions/session_live.h"
#include "sessions/session_scripts.h"

/* Each script of session_scripts.h: SCRIPT_<NAME>, its text, its argument indices
 * (<NAME>_<name>, script_args.h) and its spec for the builder. */
#define SCRIPT_ENUM(S) SCRIPT_##S,
enum script { SESS_SCRIPTS(SCRIPT_ENUM) SCRIPT_COUNT };

#define ARG_INDICES(S) SCRIPT_ARG_INDICES(S, SESS_##S##_ARGS)
SESS_SCRIPTS(ARG_INDICES)

#define SPEC(S) [SCRIPT_##S] = SCRIPT_SPEC_INIT(S, SESS_##S##_ARGS),
static const struct script_spec script_specs[SCRIPT_COUNT] = {SESS_SCRIPTS(SPEC)};

#define SCRIPT_TEXT(S) [SCRIPT_##S] = SESS_LUA_##S,
static const char *const script_text[SCRIPT_COUNT] = {SESS_SCRIPTS(SCRIPT_TEXT)};

struct sess_store {
    struct rconn *conn;
    struct rconn_script scripts[SCRIPT_COUNT];
    uint32_t ttl_s;
    struct sess_limits limits;
    char *append_text; /* the append script, after this instance's limits (session_scripts.h) */
    sess_state_cb on_state;
    void *state_ud;
    unsigned ack_replicas;
    uint32_t ack_timeout_ms;
    bool replicas_short; /* the last WAIT came back short: probe with a short WAIT until one
                            does not, so that a missing replica does not hold the connection
                            ack_timeout_ms for every message */
    /* The owner's reference, plus one per call whose reply handling uses the store after the
     * owner may have destroyed it (replies are still read while the connection flushes). */
    unsigned refs;
    bool destroyed;
};

/* One pending operation: the callback to run and what the reply parser needs. */
struct op {
    struct sess_store *store;
    void *ud;
    union {
        sess_record_cb record;
        sess_anon_cb anon;
        sess_open_cb open;
        sess_append_cb append;
        sess_begin_cb begin;
        sess_answer_cb answer;
        sess_done_cb done;
        sess_reserve_cb reserve;
        sess_tenant_day_cb tenant_day;
        sess_summary_cb summary;
    } cb;
    char sid[SESS_ID_LEN + 1];
    enum script script; /* the script the call runs */
    bool anonymous;     /* CREATE: sess_create_anonymous's (cb.anon) */
    /* An append waiting for replicas (--ack-replicas): it holds a store reference (without one
     * the store may be gone by the reply, and must not be read); what its callback will get;
     * the owner of a lock its script may have taken. */
    bool holds_store;
    struct sess_append_result appended;
    char owner[96];
};

bool sess_id_valid(const char *sid)
{
    if (!sid || strlen(sid) != SESS_ID_LEN)
        return false;
    for (const char *p = sid; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

static void store_ref(struct sess_store *s)
{
    s->refs++;
}

static void store_unref(struct sess_store *s)
{
    if (--s->refs > 0)
        return;
    pl_free(s->append_text);
    pl_free(s);
}

/* ---- what an ack promises: Redis's persistence settings, read on each connection ---- */

struct persistence_check {
    struct sess_store *store;
    int pending;
    bool lost; /* the connection went before all replies came */
    struct sess_persistence p;
};

static void persistence_done(struct persistence_check *k);

static void on_config_reply(void *ud, int status, redisReply *reply)
{
    struct persistence_check *k = ud;
    if (status != PL_OK) {
        k->lost = true;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!k->p.refusal[0])
            snprintf(k->p.refusal, sizeof(k->p.refusal), "%s", reply->str);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[0]->type == REDIS_REPLY_STRING &&
               reply->element[1]->type == REDIS_REPLY_STRING) {
        const char *name = reply->element[0]->str, *value = reply->element[1]->str;
        if (strcmp(name, "appendonly") == 0)
            k->p.appendonly = strcmp(value, "yes") == 0;
        else if (strcmp(name, "appendfsync") == 0)
            snprintf(k->p.fsync, sizeof(k->p.fsync), "%s", value);
        else if (strcmp(name, "save") == 0)
            snprintf(k->p.save, sizeof(k->p.save), "%s", value);
    } else if (!k->p.refusal[0]) {
        snprintf(k->p.refusal, sizeof(k->p.refusal), "an unexpected reply");
    }
    persistence_done(k);
}

/* One reply (or the sending hold) less; after the last, log the promise. */
static void persistence_done(struct persistence_check *k)
{
    if (--k->pending > 0)
        return;
    struct sess_store *s = k->store;
    if (!k->lost && !s->destroyed) {
        k->p.known = !k->p.refusal[0] && k->p.fsync[0];
        if (!k->p.known && !k->p.refusal[0])
            snprintf(k->p.refusal, sizeof(k->p.refusal), "no appendfsync setting");
        char promise[1024];
        enum pl_log_level level =
            sess_ack_promise(&k->p, s->ack_replicas, promise, sizeof(promise));
        PL_LOG(level, "redis", "ack promise: %s", promise);
    }
    pl_free(k);
    store_unref(s);
}

/* Read appendonly, appendfsync and save (one CONFIG GET each: older Redis takes one pattern),
 * then log what an ack promises. CONFIG may be renamed, disabled or denied: that is logged. */
static void check_persistence(struct sess_store *s)
{
    static const char *const params[] = {"appendonly", "appendfsync", "save"};
    struct persistence_check *k = pl_calloc(1, sizeof(*k));
    k->store = s;
    store_ref(s);
    k->pending = 1; /* held while sending */
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        const char *argv[3] = {"CONFIG", "GET", params[i]};
        if (rconn_command_argv(s->conn, on_config_reply, k, 3, argv, NULL) == PL_OK)
            k->pending++;
        else
            k->lost = true;
    }
    persistence_done(k); /* drops the sending hold */
}

static void on_state(void *ud, bool up)
{
    struct sess_store *s = ud;
    if (up)
        check_persistence(s);
    if (s->on_state)
        s->on_state(s->state_ud, up);
}

int sess_store_create(uv_loop_t *loop, const struct sess_store_opts *opts, sess_state_cb cb,
                      void *state_ud, struct sess_store **out, char *err, size_t errlen)
{
    struct sess_store *s = pl_calloc(1, sizeof(*s));
    s->ttl_s = opts->ttl_s ? opts->ttl_s : 7 * 24 * 3600;
    s->limits = opts->limits;
    if (!s->limits.messages_burst)
        s->limits.messages_burst = 1;
    if (!s->limits.max_session_messages)
        s->limits.max_session_messages = 1000;
    const struct sess_limits *lim = &s->limits;
    int n = snprintf(NULL, 0, SESS_LUA_APPEND_LIMITS, lim->messages_per_minute, lim->messages_burst,
                     lim->messages_per_minute_per_address, lim->max_session_messages);
    size_t len = (size_t)n + sizeof(SESS_LUA_APPEND_CALLER);
    s->append_text = pl_malloc(len);
    n = snprintf(s->append_text, len, SESS_LUA_APPEND_LIMITS, lim->messages_per_minute,
                 lim->messages_burst, lim->messages_per_minute_per_address,
                 lim->max_session_messages);
    memcpy(s->append_text + n, SESS_LUA_APPEND_CALLER, sizeof(SESS_LUA_APPEND_CALLER));
    s->on_state = cb;
    s->state_ud = state_ud;
    s->refs = 1;
    s->ack_replicas = opts->ack_replicas;
    s->ack_timeout_ms = opts->ack_timeout_ms       ? opts->ack_timeout_ms
                        : opts->command_timeout_ms ? opts->command_timeout_ms
                                                   : 3000;
    for (int i = 0; i < SCRIPT_COUNT; i++)
        rconn_script_init(&s->scripts[i],
                          i == SCRIPT_APPEND_CALLER ? s->append_text : script_text[i]);
    struct rconn_opts ro = {
        .url = opts->redis_url,
        .connect_timeout_ms = opts->connect_timeout_ms,
        .command_timeout_ms = opts->command_timeout_ms,
    };
    int rc = rconn_create(loop, &ro, on_state, s, &s->conn, err, errlen);
    if (rc) {
        pl_free(s->append_text);
        pl_free(s);
        return rc;
    }
    if (s->ack_replicas)
        PL_LOG(PL_LOG_INFO, "redis", "caller messages are acknowledged once %u %s them",
               s->ack_replicas, s->ack_replicas == 1 ? "replica has" : "replicas have");
    *out = s;
    return PL_OK;
}

void sess_store_destroy(struct sess_store *s)
{
    if (!s)
        return;
    s->destroyed = true;
    rconn_destroy(s->conn);
    store_unref(s);
}

bool sess_store_ready(const struct sess_store *s)
{
    return rconn_is_up(s->conn);
}

struct rconn *sess_store_rconn(struct sess_store *s)
{
    return s->conn;
}

static struct op *op_new(struct sess_store *s, const char *sid, void *ud)
{
    struct op *op = pl_calloc(1, sizeof(*op));
    op->store = s;
    op->ud = ud;
    if (sid)
        snprintf(op->sid, sizeof(op->sid), "%s", sid);
    return op;
}

/* Start a call of `script` for the session of `op`. */
static void call_begin(struct script_args *a, struct op *op, enum script script)
{
    op->script = script;
    script_args_begin(a, &script_specs[script], op->sid);
}

/* Send the call built in `a` (script_args.h), `op` as the reply's context; on failure `op` is
 * freed and `cb` never runs. */
static int call_send(struct op *op, struct script_args *a, rconn_reply_cb cb)
{
    int argc;
    const char **argv;
    const size_t *lens;
    int rc = script_args_finish(a, &argc, &argv, &lens);
    if (rc == PL_OK)
        rc = rconn_eval(op->store->conn, &op->store->scripts[op->script], cb, op, argc, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

/* ---- reply parsing ---- */

/* True if `r` is an array of `n` elements whose first is the string `kind`. */
static bool reply_kind(const redisReply *r, const char *kind, size_t n)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == n &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, kind) == 0;
}

/* A script's {'limited', ms} reply (a rate limit's refusal): true with the wait in `*ms`. */
static bool limited_reply(const redisReply *r, uint32_t *ms)
{
    if (!reply_kind(r, "limited", 2) || r->element[1]->type != REDIS_REPLY_INTEGER)
        return false;
    long long v = r->element[1]->integer;
    *ms = v < 1 ? 1 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return true;
}

/* Key `i` of `a` is `address`'s key `part` when `per_minute` limits it, else left out. */
static void address_key(struct script_args *a, int i, const char *address, uint32_t per_minute,
                        const char *part)
{
    if (per_minute && address && *address) {
        char key[SESS_KEY_MAX];
        sess_address_key(key, address, part);
        script_key_set(a, i, key);
    } else {
        script_key_omit(a, i);
    }
}

static int create_status(int status, const redisReply *reply, uint32_t *retry_after_ms)
{
    if (status == PL_OK && !rconn_reply_ok(reply, "session create"))
        return PL_EUPSTREAM;
    if (status != PL_OK)
        return status;
    if (limited_reply(reply, retry_after_ms))
        return PL_ELIMITED;
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1)
        return PL_EBUSY; /* id collision: 128 random bits make this theoretical */
    return PL_OK;
}

static void copy_field(char *dst, size_t cap, const redisReply *v)
{
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(dst, v->str, n);
    dst[n] = '\0';
}

/* The usage_* fields of a session record, by name. */
static bool usage_field(const char *name, const char *v, struct sess_usage_totals *u)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"input_tokens", offsetof(struct sess_usage_totals, input_tokens)},
        {"output_tokens", offsetof(struct sess_usage_totals, output_tokens)},
        {"cache_read_input_tokens", offsetof(struct sess_usage_totals, cache_read_input_tokens)},
        {"cache_creation_input_tokens",
         offsetof(struct sess_usage_totals, cache_creation_input_tokens)},
        {"cost_micros", offsetof(struct sess_usage_totals, cost_micros)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(name, fields[i].name) == 0) {
            *(long long *)((char *)u + fields[i].offset) = strtoll(v, NULL, 10);
            return true;
        }
    }
    return false;
}

static bool parse_record(const redisReply *r, struct sess_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->tenant, sizeof(rec->tenant), "anonymous");
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "id") == 0)
            copy_field(rec->id, sizeof(rec->id), v);
        else if (strcmp(k->str, "channel") == 0)
            copy_field(rec->channel, sizeof(rec->channel), v);
        else if (strcmp(k->str, "state") == 0)
            copy_field(rec->state, sizeof(rec->state), v);
        else if (strcmp(k->str, "agent") == 0)
            copy_field(rec->agent, sizeof(rec->agent), v);
        else if (strcmp(k->str, "caller_id") == 0)
            copy_field(rec->caller_id, sizeof(rec->caller_id), v);
        else if (strcmp(k->str, "caller_name") == 0)
            copy_field(rec->caller_name, sizeof(rec->caller_name), v);
        else if (strcmp(k->str, "policy_number") == 0)
            copy_field(rec->policy_number, sizeof(rec->policy_number), v);
        else if (strcmp(k->str, "created") == 0)
            rec->created_ms = strtoll(v->str, NULL, 10);
        else if (strcmp(k->str, "updated") == 0)
            rec->updated_ms = strtoll(v->str, NULL, 10);
        else if (strcmp(k->str, "turns") == 0)
            rec->turns = strtol(v->str, NULL, 10);
        else if (strcmp(k->str, "answered") == 0)
            rec->answered = strtol(v->str, NULL, 10);
        else if (strcmp(k->str, "tenant") == 0 && v->len > 0)
            copy_field(rec->tenant, sizeof(rec->tenant), v);
        else if (strncmp(k->str, "usage_", 6) == 0)
            usage_field(k->str + 6, v->str, &rec->usage);
        else if (strcmp(k->str, "summary_through") == 0)
            rec->summary_through = strtol(v->str, NULL, 10);
    }
    return true;
}

#define ENTRY_FIELD_ID(id, name) F_##id,
enum entry_field { SESS_ENTRY_FIELDS(ENTRY_FIELD_ID) F_COUNT };
#undef ENTRY_FIELD_ID

/* Unpack one entry ("<length>:<bytes>" per field, session_scripts.h) into `x`, copying each
 * value NUL-terminated to *arena. False if the entry is malformed. */
static bool unpack_entry(const char *p, size_t len, struct sess_entry *x, char **arena)
{
    const char *end = p + len;
    const char *v[F_COUNT];
    size_t vlen[F_COUNT];
    for (int f = 0; f < F_COUNT; f++) {
        size_t n = 0;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9' && p - digits < 10)
            n = n * 10 + (size_t)(*p++ - '0');
        if (p == digits || p == end || *p++ != ':' || (size_t)(end - p) < n)
            return false;
        char *copy = *arena;
        memcpy(copy, p, n);
        copy[n] = '\0';
        *arena += n + 1;
        v[f] = copy;
        vlen[f] = n;
        p += n;
    }
    if (p != end)
        return false;
    x->role = v[F_ROLE];
    x->turn = strtol(v[F_TURN], NULL, 10);
    x->text = v[F_TEXT];
    x->text_len = vlen[F_TEXT];
    x->ts_ms = strtoll(v[F_TS], NULL, 10);
    x->client_id = v[F_CLIENT_ID];
    x->stop_reason = v[F_STOP_REASON];
    x->error = v[F_ERROR];
    x->input_tokens = strtol(v[F_INPUT_TOKENS], NULL, 10);
    x->output_tokens = strtol(v[F_OUTPUT_TOKENS], NULL, 10);
    x->model = v[F_MODEL];
    x->citations = v[F_CITATIONS];
    x->cache_read_input_tokens = strtol(v[F_CACHE_READ], NULL, 10);
    x->cache_creation_input_tokens = strtol(v[F_CACHE_CREATION], NULL, 10);
    x->cost_micros = strtoll(v[F_COST], NULL, 10);
    x->agent = v[F_AGENT];
    return true;
}

/* Bytes to unpack `n` packed entries into: the structs, then every field NUL-terminated. */
static size_t entries_bytes(redisReply *const *items, size_t n)
{
    size_t bytes = n * sizeof(struct sess_entry);
    for (size_t i = 0; i < n; i++)
        bytes += items[i]->len + F_COUNT;
    return bytes;
}

/* Unpack `n` packed entries, newest first in `items`, oldest first into `out` (entries_bytes
 * long: their strings follow the structs). Malformed entries are skipped. Returns how many. */
static size_t unpack_entries(redisReply *const *items, size_t n, struct sess_entry *out)
{
    char *arena = (char *)(out + n);
    size_t k = 0;
    for (size_t i = n; i-- > 0;) {
        const redisReply *item = items[i];
        if (item->type == REDIS_REPLY_STRING && unpack_entry(item->str, item->len, &out[k], &arena))
            k++;
        else
            PL_LOG(PL_LOG_WARN, "sessions", "skipping a malformed transcript entry");
    }
    return k;
}

/* The packed entries of `r` (an array, newest first) oldest first in `*out` (one allocation,
 * freed with pl_free). */
static size_t parse_entries(const redisReply *r, struct sess_entry **out)
{
    *out = NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return 0;
    *out = pl_malloc(entries_bytes(r->element, r->elements));
    return unpack_entries(r->element, r->elements, *out);
}

/* The status of a reply that is nil (no such session) or {record as flat hash, something}: PL_OK
 * with `rec` filled and reply->element[1] to read, or why not. */
static int record_reply(int status, const redisReply *reply, const char *what,
                        struct sess_record *rec)
{
    if (status == PL_OK && !rconn_reply_ok(reply, what))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_NIL)
        status = PL_ENOTFOUND;
    if (status == PL_OK && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                            !parse_record(reply->element[0], rec)))
        status = PL_EPROTO;
    return status;
}

/* ---- create ---- */

static void on_create(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_record rec = {0};
    uint32_t retry_after_ms = 0;
    status = create_status(status, reply, &retry_after_ms);
    if (status == PL_OK)
        snprintf(rec.id, sizeof(rec.id), "%s", op->sid);
    if (op->anonymous)
        op->cb.anon(op->ud, status, status == PL_OK ? &rec : NULL, retry_after_ms);
    else
        op->cb.record(op->ud, status, status == PL_OK ? &rec : NULL);
    pl_free(op);
}

/* Start a create call for a new random id. NULL if no random id could be made. */
static struct op *create_begin(struct sess_store *s, struct script_args *a, void *ud)
{
    unsigned char raw[SESS_ID_LEN / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    char sid[SESS_ID_LEN + 1];
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(sid + 2 * i, 3, "%02x", raw[i]);
    struct op *op = op_new(s, sid, ud);
    call_begin(a, op, SCRIPT_CREATE);
    script_arg_str(a, CREATE_id, op->sid); /* op lives until the reply: sid does not */
    script_arg_int(a, CREATE_now, pl_wall_ms());
    script_arg_int(a, CREATE_ttl, s->ttl_s);
    return op;
}

int sess_create(struct sess_store *s, const char *channel, const struct sess_caller *caller,
                sess_record_cb cb, void *ud)
{
    struct script_args a;
    struct op *op = create_begin(s, &a, ud);
    if (!op)
        return PL_EIO;
    op->cb.record = cb;
    script_key_omit(&a, CREATE_address_rate);
    script_arg_str(&a, CREATE_channel, channel ? channel : "web");
    script_arg_str(&a, CREATE_caller_id, caller ? caller->id : NULL);
    script_arg_str(&a, CREATE_caller_name, caller ? caller->name : NULL);
    script_arg_str(&a, CREATE_policy_number, caller ? caller->policy_number : NULL);
    script_arg_int(&a, CREATE_empty_ttl, 0);
    script_arg_int(&a, CREATE_address_per_minute, 0);
    char tenant[SESS_TENANT_MAX + 1];
    sess_tenant_name(tenant, caller ? caller->tenant : NULL);
    script_arg_str(&a, CREATE_tenant, tenant);
    return call_send(op, &a, on_create);
}

int sess_create_anonymous(struct sess_store *s, const char *address, sess_anon_cb cb, void *ud)
{
    struct script_args a;
    struct op *op = create_begin(s, &a, ud);
    if (!op)
        return PL_EIO;
    op->cb.anon = cb;
    op->anonymous = true;
    const struct sess_limits *lim = &s->limits;
    address_key(&a, CREATE_address_rate, address, lim->anon_sessions_per_minute, "sessions");
    script_arg_str(&a, CREATE_channel, "web");
    script_arg_str(&a, CREATE_caller_id, NULL);
    script_arg_str(&a, CREATE_caller_name, NULL);
    script_arg_str(&a, CREATE_policy_number, NULL);
    script_arg_int(&a, CREATE_empty_ttl, lim->anon_session_ttl_s);
    script_arg_int(&a, CREATE_address_per_minute, lim->anon_sessions_per_minute);
    script_arg_str(&a, CREATE_tenant, "anonymous");
    return call_send(op, &a, on_create);
}

/* ---- open ---- */

static void on_open(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_record rec;
    struct sess_entry *entries = NULL;
    size_t n = 0;
    status = record_reply(status, reply, "session open", &rec);
    if (status == PL_OK)
        n = parse_entries(reply->element[1], &entries);
    op->cb.open(op->ud, status, status == PL_OK ? &rec : NULL, entries, n);
    pl_free(entries);
    pl_free(op);
}

int sess_open(struct sess_store *s, const char *sid, size_t max_entries, sess_open_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.open = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_OPEN);
    script_arg_int(&a, OPEN_max_entries, max_entries ? (long long)max_entries : 1);
    script_arg_int(&a, OPEN_ttl, s->ttl_s);
    return call_send(op, &a, on_open);
}

/* ---- turn contexts ---- */

/* Where a context's entries start in its allocation. */
#define CTX_HEAD                                                                                   \
    ((sizeof(struct sess_turn_context) + _Alignof(struct sess_entry) - 1) /                        \
     _Alignof(struct sess_entry) * _Alignof(struct sess_entry))

/* A context with `status` and the `n` packed entries of `items` (newest first) unpacked into
 * `entries`: one allocation, freed by sess_turn_context_free. */
static struct sess_turn_context *ctx_new(int status, redisReply *const *items, size_t n)
{
    struct sess_turn_context *ctx = pl_calloc(1, CTX_HEAD + entries_bytes(items, n));
    ctx->status = status;
    if (n) {
        struct sess_entry *e = (struct sess_entry *)((char *)ctx + CTX_HEAD);
        ctx->n = unpack_entries(items, n, e);
        ctx->entries = e;
    }
    return ctx;
}

void sess_turn_context_free(struct sess_turn_context *ctx)
{
    if (ctx)
        pl_free(ctx->summary);
    pl_free(ctx);
}

/* The record's stored summary (a field of the flat hash `r`), new, or NULL when it has none. */
static char *record_summary(const redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && v->len > 0 &&
            strcmp(k->str, "summary") == 0)
            return pl_strndup(v->str, v->len);
    }
    return NULL;
}

/* The context of begin_turn's result (session_scripts.h). */
static struct sess_turn_context *parse_begin(const redisReply *r)
{
    const redisReply *kind = r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0] : NULL;
    if (!kind || kind->type != REDIS_REPLY_STRING)
        return ctx_new(PL_EPROTO, NULL, 0);
    if (strcmp(kind->str, "held") == 0) {
        struct sess_turn_context *ctx = ctx_new(PL_OK, NULL, 0);
        ctx->result = SESS_BEGIN_HELD_ELSEWHERE;
        return ctx;
    }
    if (strcmp(kind->str, "agent") == 0) {
        struct sess_turn_context *ctx = ctx_new(PL_OK, NULL, 0);
        ctx->result = SESS_BEGIN_WITH_AGENT;
        return ctx;
    }
    bool locked = strcmp(kind->str, "locked") == 0;
    if ((!locked && strcmp(kind->str, "answered") != 0) || r->elements != 3)
        return ctx_new(PL_EPROTO, NULL, 0);
    const redisReply *x = r->element[2];
    struct sess_turn_context *ctx;
    if (locked)
        ctx = ctx_new(PL_OK, x->element, x->type == REDIS_REPLY_ARRAY ? x->elements : 0);
    else /* the covering answer, or nil */
        ctx = ctx_new(PL_OK, &r->element[2], x->type == REDIS_REPLY_STRING ? 1 : 0);
    if (!parse_record(r->element[1], &ctx->rec)) {
        memset(ctx, 0, sizeof(*ctx));
        ctx->status = PL_EPROTO;
        return ctx;
    }
    ctx->result = locked ? SESS_BEGIN_LOCKED : SESS_BEGIN_ANSWERED;
    if (locked && ctx->rec.summary_through > 0)
        ctx->summary = record_summary(r->element[1]);
    if (!locked) {
        ctx->answer = ctx->n ? ctx->entries : NULL;
        ctx->entries = NULL;
        ctx->n = 0;
    }
    return ctx;
}

/* ---- append caller / agent ---- */

/* Hand an append's outcome to its caller. Not confirmed by enough replicas: the turn its script
 * may have begun is not run (the caller is not acknowledged), so a lock it took is released. */
static void append_done(struct op *op, struct sess_append_result *r)
{
    struct sess_store *s = op->store;
    if (r->status == PL_EREPLICAS && r->begun) {
        struct sess_turn_context *begun = r->begun;
        if (begun->status == PL_OK && begun->result == SESS_BEGIN_LOCKED && !s->destroyed &&
            op->owner[0])
            sess_turn_release(s, op->sid, op->owner, NULL, NULL);
        sess_turn_context_free(begun);
        r->begun = NULL;
    }
    sess_append_cb cb = op->cb.append;
    void *ud = op->ud;
    bool held = op->holds_store;
    pl_free(op);
    cb(ud, r);
    if (held)
        store_unref(s);
}

/* The probe WAIT's timeout while replicas are short: a tenth of the full one, at least 50 ms. */
static uint32_t wait_timeout(const struct sess_store *s)
{
    if (!s->replicas_short)
        return s->ack_timeout_ms;
    uint32_t probe = s->ack_timeout_ms / 10 > 50 ? s->ack_timeout_ms / 10 : 50;
    return probe < s->ack_timeout_ms ? probe : s->ack_timeout_ms;
}

static void on_wait(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_store *s = op->store;
    long long confirmed =
        status == PL_OK && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    bool enough = confirmed >= (long long)s->ack_replicas;
    if (!s->destroyed && enough && s->replicas_short) {
        s->replicas_short = false;
        PL_LOG(PL_LOG_NOTICE, "redis", "%u %s caller messages again", s->ack_replicas,
               s->ack_replicas == 1 ? "replica confirms" : "replicas confirm");
    } else if (!s->destroyed && !enough && !s->replicas_short) {
        s->replicas_short = true;
        char why[160];
        if (confirmed >= 0)
            snprintf(why, sizeof(why), "only %lld of %u replicas confirmed within %u ms", confirmed,
                     s->ack_replicas, s->ack_timeout_ms);
        else
            snprintf(why, sizeof(why), "WAIT failed (%s)",
                     status == PL_OK && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                         : pl_strerror(status));
        PL_LOG(PL_LOG_WARN, "redis",
               "%s: caller messages are stored but not acknowledged (upstream_unavailable, "
               "retryable) until the replicas catch up",
               why);
    }
    struct sess_append_result r = op->appended;
    if (!enough)
        r.status = PL_EREPLICAS;
    append_done(op, &r);
}

static void on_append(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_append_result r = {.status = status};
    if (r.status == PL_OK && !rconn_reply_ok(reply, "append caller message"))
        r.status = PL_EUPSTREAM;
    if (r.status != PL_OK) {
        /* as is */
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        r.status = reply->integer == -2 ? PL_ETOOBIG : PL_ENOTFOUND;
    } else if (limited_reply(reply, &r.retry_after_ms)) {
        r.status = PL_ELIMITED;
    } else if (reply->type == REDIS_REPLY_ARRAY && (reply->elements == 2 || reply->elements == 3) &&
               reply->element[0]->type == REDIS_REPLY_INTEGER) {
        r.turn = (long)reply->element[0]->integer;
        r.duplicate = reply->element[1]->integer == 1;
        if (reply->elements == 3)
            r.begun = parse_begin(reply->element[2]);
    } else {
        r.status = PL_EPROTO;
    }
    struct sess_store *s = op->store;
    if (r.status == PL_OK && op->holds_store) {
        /* Stored: now it counts only once enough replicas have it. */
        op->appended = r;
        if (!s->destroyed &&
            rconn_wait_replicas(s->conn, s->ack_replicas, wait_timeout(s), on_wait, op) == PL_OK)
            return;
        r.status = PL_EREPLICAS;
    }
    append_done(op, &r);
}

int sess_append_caller(struct sess_store *s, const char *sid, const struct sess_sender *sender,
                       const char *client_id, const char *text, size_t len,
                       const struct sess_begin_opts *begin, sess_append_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.append = cb;
    if (begin && begin->owner)
        snprintf(op->owner, sizeof(op->owner), "%s", begin->owner);
    struct script_args a;
    call_begin(&a, op, SCRIPT_APPEND_CALLER);
    const struct sess_limits *lim = &s->limits;
    address_key(&a, APPEND_CALLER_address_rate, sender ? sender->address : NULL,
                lim->messages_per_minute_per_address, "messages");
    unsigned cost = sender && sender->cost ? sender->cost : 1;
    if (cost == 1)
        script_arg_str(&a, APPEND_CALLER_cost, "1"); /* nearly always: no formatting */
    else
        script_arg_int(&a, APPEND_CALLER_cost, cost);
    script_arg_str(&a, APPEND_CALLER_client_id, client_id);
    script_arg_bin(&a, APPEND_CALLER_text, text, len);
    script_arg_int(&a, APPEND_CALLER_now, pl_wall_ms());
    script_arg_int(&a, APPEND_CALLER_ttl, s->ttl_s);
    script_arg_bin(&a, APPEND_CALLER_preview, text, pl_utf8_cut(text, len, SESS_PREVIEW_BYTES));
    script_arg_str(&a, APPEND_CALLER_owner, begin ? begin->owner : NULL);
    script_arg_int(&a, APPEND_CALLER_lock_ttl, begin ? begin->lock_ttl_ms : 0);
    script_arg_int(&a, APPEND_CALLER_max_entries,
                   begin && begin->max_entries ? (long long)begin->max_entries : 1);
    op->holds_store = s->ack_replicas > 0;
    int rc = call_send(op, &a, on_append); /* frees op on failure */
    if (rc == PL_OK && s->ack_replicas)
        store_ref(s); /* the reply's handling reads the store */
    return rc;
}

/* Finish a script whose integer reply `failure` means `failure_status`. */
static void finish_done(struct op *op, int status, redisReply *reply, const char *what,
                        long long failure, int failure_status)
{
    if (status == PL_OK && !rconn_reply_ok(reply, what))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer == failure)
        status = failure_status;
    if (op->cb.done)
        op->cb.done(op->ud, status);
    pl_free(op);
}

static void on_done(void *ud, int status, redisReply *reply)
{
    finish_done(ud, status, reply, "session update", -1, PL_ENOTFOUND);
}

static void on_renewed(void *ud, int status, redisReply *reply)
{
    finish_done(ud, status, reply, "turn lock renewal", 0, PL_EBUSY);
}

int sess_append_agent(struct sess_store *s, const char *sid, const char *agent, const char *text,
                      size_t len, sess_done_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.done = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_APPEND_AGENT);
    script_arg_str(&a, APPEND_AGENT_agent, agent);
    script_arg_bin(&a, APPEND_AGENT_text, text, len);
    script_arg_int(&a, APPEND_AGENT_now, pl_wall_ms());
    script_arg_int(&a, APPEND_AGENT_ttl, s->ttl_s);
    script_arg_bin(&a, APPEND_AGENT_preview, text, pl_utf8_cut(text, len, SESS_PREVIEW_BYTES));
    return call_send(op, &a, on_done);
}

/* ---- turns ---- */

static void on_begin(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_turn_context *ctx;
    if (status == PL_OK && !rconn_reply_ok(reply, "turn begin"))
        ctx = ctx_new(PL_EUPSTREAM, NULL, 0);
    else if (status != PL_OK)
        ctx = ctx_new(status, NULL, 0);
    else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -1)
        ctx = ctx_new(PL_ENOTFOUND, NULL, 0);
    else
        ctx = parse_begin(reply);
    op->cb.begin(op->ud, ctx);
    pl_free(op);
}

int sess_turn_begin(struct sess_store *s, const char *sid, const struct sess_begin_opts *begin,
                    sess_begin_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.begin = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_TURN_BEGIN);
    script_arg_str(&a, TURN_BEGIN_owner, begin->owner);
    script_arg_int(&a, TURN_BEGIN_lock_ttl, begin->lock_ttl_ms);
    script_arg_int(&a, TURN_BEGIN_max_entries,
                   begin->max_entries ? (long long)begin->max_entries : 1);
    script_arg_int(&a, TURN_BEGIN_turn, begin->turn);
    return call_send(op, &a, on_begin);
}

static void on_turn_answer(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_record rec;
    struct sess_entry *answer = NULL;
    uint32_t retry_after_ms = 0;
    if (status == PL_OK && limited_reply(reply, &retry_after_ms)) {
        op->cb.answer(op->ud, PL_ELIMITED, NULL, NULL, retry_after_ms);
        pl_free(op);
        return;
    }
    status = record_reply(status, reply, "turn answer", &rec);
    if (status == PL_OK && reply->element[1]->type == REDIS_REPLY_STRING) {
        answer = pl_malloc(entries_bytes(&reply->element[1], 1));
        if (unpack_entries(&reply->element[1], 1, answer) == 0) {
            pl_free(answer);
            answer = NULL;
        }
    }
    op->cb.answer(op->ud, status, status == PL_OK ? &rec : NULL, answer, 0);
    pl_free(answer);
    pl_free(op);
}

int sess_turn_answer(struct sess_store *s, const char *sid, long turn, sess_answer_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.answer = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_TURN_ANSWER);
    script_arg_int(&a, TURN_ANSWER_turn, turn);
    script_arg_int(&a, TURN_ANSWER_now, pl_wall_ms());
    script_arg_int(&a, TURN_ANSWER_per_minute, s->limits.polls_per_minute);
    script_arg_int(&a, TURN_ANSWER_burst, s->limits.polls_burst ? s->limits.polls_burst : 1);
    return call_send(op, &a, on_turn_answer);
}

int sess_turn_end(struct sess_store *s, const char *sid, const char *owner,
                  const struct sess_answer *a, sess_done_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.done = cb;
    struct script_args c;
    call_begin(&c, op, SCRIPT_TURN_END);
    script_arg_str(&c, TURN_END_owner, owner);
    script_arg_int(&c, TURN_END_turn, a->turn);
    script_arg_bin(&c, TURN_END_text, a->text, a->text_len);
    script_arg_str(&c, TURN_END_stop_reason, a->stop_reason);
    script_arg_int(&c, TURN_END_input_tokens, a->input_tokens);
    script_arg_int(&c, TURN_END_output_tokens, a->output_tokens);
    script_arg_int(&c, TURN_END_cache_read, a->cache_read_input_tokens);
    script_arg_int(&c, TURN_END_cache_creation, a->cache_creation_input_tokens);
    script_arg_int(&c, TURN_END_cost, a->cost_micros);
    script_arg_str(&c, TURN_END_model, a->model);
    script_arg_str(&c, TURN_END_provider, a->provider);
    script_arg_str(&c, TURN_END_citations, a->citations);
    script_arg_int(&c, TURN_END_now, pl_wall_ms());
    script_arg_int(&c, TURN_END_ttl, s->ttl_s);
    script_arg_bin(&c, TURN_END_preview, a->text,
                   a->text ? pl_utf8_cut(a->text, a->text_len, SESS_PREVIEW_BYTES) : 0);
    script_arg_str(&c, TURN_END_error_code, a->error);
    script_arg_str(&c, TURN_END_reservation, a->reservation);
    script_arg_int(&c, TURN_END_usage_ttl, SESS_TENANT_USAGE_TTL_S);
    if (a->tenant && *a->tenant && a->day && *a->day) {
        char key[SESS_KEY_MAX];
        sess_tenant_key(key, a->tenant, "usage", a->day);
        script_key_set(&c, TURN_END_tenant_usage, key);
        sess_tenant_key(key, a->tenant, "reservations", a->day);
        script_key_set(&c, TURN_END_tenant_reservations, key);
    } else {
        script_key_omit(&c, TURN_END_tenant_usage);
    }
    return call_send(op, &c, on_done);
}

int sess_turn_release(struct sess_store *s, const char *sid, const char *owner, sess_done_cb cb,
                      void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.done = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_RELEASE);
    script_arg_str(&a, RELEASE_owner, owner);
    return call_send(op, &a, on_done);
}

int sess_turn_renew(struct sess_store *s, const char *sid, const char *owner, uint32_t lock_ttl_ms,
                    sess_done_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.done = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_RENEW);
    script_arg_str(&a, RENEW_owner, owner);
    script_arg_int(&a, RENEW_lock_ttl, lock_ttl_ms);
    return call_send(op, &a, on_renewed);
}

/* ---- conversation summaries ---- */

static void on_summary_read(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_record rec;
    status = record_reply(status, reply, "summary read", &rec);
    struct sess_turn_context *ctx;
    if (status != PL_OK) {
        ctx = ctx_new(status, NULL, 0);
    } else {
        const redisReply *x = reply->element[1];
        ctx = ctx_new(PL_OK, x->type == REDIS_REPLY_ARRAY ? x->element : NULL,
                      x->type == REDIS_REPLY_ARRAY ? x->elements : 0);
        ctx->rec = rec;
        ctx->summary = record_summary(reply->element[0]);
    }
    op->cb.begin(op->ud, ctx);
    pl_free(op);
}

int sess_summary_read(struct sess_store *s, const char *sid, size_t max_entries, sess_begin_cb cb,
                      void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.begin = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_OPEN);
    script_arg_int(&a, OPEN_max_entries, max_entries ? (long long)max_entries : 1);
    script_arg_int(&a, OPEN_ttl, s->ttl_s);
    return call_send(op, &a, on_summary_read);
}

static void on_summary_stored(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    enum sess_summary_result result = SESS_SUMMARY_STALE;
    if (status == PL_OK && !rconn_reply_ok(reply, "summary store"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type != REDIS_REPLY_INTEGER)
        status = PL_EPROTO;
    if (status == PL_OK && reply->integer == -1)
        status = PL_ENOTFOUND;
    if (status == PL_OK && reply->integer == 1)
        result = SESS_SUMMARY_STORED;
    if (op->cb.summary)
        op->cb.summary(op->ud, status, result);
    pl_free(op);
}

int sess_summary_store(struct sess_store *s, const char *sid, const struct sess_summary *sum,
                       sess_summary_cb cb, void *ud)
{
    if (!sess_id_valid(sid) || sum->through < 1 || !sum->text)
        return PL_EINVAL;
    struct op *op = op_new(s, sid, ud);
    op->cb.summary = cb;
    struct script_args a;
    call_begin(&a, op, SCRIPT_SUMMARY_STORE);
    script_arg_int(&a, SUMMARY_STORE_through, sum->through);
    script_arg_bin(&a, SUMMARY_STORE_text, sum->text, sum->text_len);
    script_arg_str(&a, SUMMARY_STORE_model, sum->model);
    script_arg_int(&a, SUMMARY_STORE_input_tokens, sum->input_tokens);
    script_arg_int(&a, SUMMARY_STORE_output_tokens, sum->output_tokens);
    script_arg_int(&a, SUMMARY_STORE_cache_read, sum->cache_read_input_tokens);
    script_arg_int(&a, SUMMARY_STORE_cache_creation, sum->cache_creation_input_tokens);
    script_arg_int(&a, SUMMARY_STORE_cost, sum->cost_micros);
    script_arg_int(&a, SUMMARY_STORE_now, pl_wall_ms());
    script_arg_int(&a, SUMMARY_STORE_usage_ttl, SESS_TENANT_USAGE_TTL_S);
    if (sum->tenant && *sum->tenant && sum->day && *sum->day) {
        char key[SESS_KEY_MAX];
        sess_tenant_key(key, sum->tenant, "usage", sum->day);
        script_key_set(&a, SUMMARY_STORE_tenant_usage, key);
    } else {
        script_key_omit(&a, SUMMARY_STORE_tenant_usage);
    }
    return call_send(op, &a, on_summary_stored);
}

/* ---- live events (session_live.h) ---- */

/* ---- usage per tenant and day ---- */

void sess_tenant_name(char *out, const char *claim)
{
    size_t n = 0;
    for (const char *p = claim ? claim : ""; *p && n < SESS_TENANT_MAX; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._@:+-", c) != NULL;
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, SESS_TENANT_MAX + 1, "anonymous");
}

/* Start a call of `script` on tenant `tenant`'s day `day`: its keys usage and reservations. */
static struct op *tenant_call(struct sess_store *s, struct script_args *a, enum script script,
                              const char *tenant, const char *day, void *ud)
{
    struct op *op = op_new(s, NULL, ud);
    call_begin(a, op, script);
    char key[SESS_KEY_MAX];
    sess_tenant_key(key, tenant, "usage", day);
    script_key_set(a, 0, key);
    sess_tenant_key(key, tenant, "reservations", day);
    script_key_set(a, 1, key);
    return op;
}

static void on_reserved(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    enum sess_reserve_result result = SESS_RESERVED;
    bool warn = false;
    if (status == PL_OK && !rconn_reply_ok(reply, "budget reservation"))
        status = PL_EUPSTREAM;
    if (status == PL_OK) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_STRING ||
            reply->element[2]->type != REDIS_REPLY_INTEGER) {
            status = PL_EPROTO;
        } else {
            warn = reply->element[2]->integer == 1;
            if (strcmp(reply->element[0]->str, "refused") == 0)
                result = strcmp(reply->element[1]->str, "usd") == 0 ? SESS_REFUSED_USD
                                                                    : SESS_REFUSED_TOKENS;
        }
    }
    op->cb.reserve(op->ud, status, result, warn);
    pl_free(op);
}

int sess_reserve(struct sess_store *s, const struct sess_reservation *r, sess_reserve_cb cb,
                 void *ud)
{
    struct script_args a;
    struct op *op = tenant_call(s, &a, SCRIPT_RESERVE, r->tenant, r->day, ud);
    op->cb.reserve = cb;
    script_arg_str(&a, RESERVE_member, r->member);
    script_arg_int(&a, RESERVE_now, pl_wall_ms());
    script_arg_int(&a, RESERVE_expires, r->expires_ms);
    script_arg_int(&a, RESERVE_tokens, (long long)r->tokens);
    script_arg_int(&a, RESERVE_micros, (long long)r->micros);
    script_arg_int(&a, RESERVE_budget_tokens, (long long)r->budget_tokens);
    script_arg_int(&a, RESERVE_budget_micros, (long long)r->budget_micros);
    script_arg_int(&a, RESERVE_warn_percent, r->warn_percent);
    script_arg_int(&a, RESERVE_ttl, SESS_TENANT_USAGE_TTL_S);
    return call_send(op, &a, on_reserved);
}

int sess_unreserve(struct sess_store *s, const char *tenant, const char *day, const char *member,
                   sess_done_cb cb, void *ud)
{
    struct script_args a;
    struct op *op = tenant_call(s, &a, SCRIPT_UNRESERVE, tenant, day, ud);
    op->cb.done = cb;
    script_arg_str(&a, UNRESERVE_member, member);
    return call_send(op, &a, on_done);
}

static void on_tenant_usage(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    struct sess_tenant_day d = {0};
    if (status == PL_OK && !rconn_reply_ok(reply, "tenant usage"))
        status = PL_EUPSTREAM;
    if (status == PL_OK && reply->type != REDIS_REPLY_ARRAY)
        status = PL_EPROTO;
    for (size_t i = 0; status == PL_OK && i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (usage_field(k->str, v->str, &d.used))
            continue;
        long long n = strtoll(v->str, NULL, 10);
        if (strcmp(k->str, "turns") == 0)
            d.turns = n;
        else if (strcmp(k->str, "reserved_tokens") == 0)
            d.reserved_tokens = n;
        else if (strcmp(k->str, "reserved_micros") == 0)
            d.reserved_micros = n;
        else if (strcmp(k->str, "warned") == 0)
            d.warned = n != 0;
    }
    op->cb.tenant_day(op->ud, status, status == PL_OK ? &d : NULL);
    pl_free(op);
}

int sess_tenant_usage(struct sess_store *s, const char *tenant, const char *day,
                      sess_tenant_day_cb cb, void *ud)
{
    struct script_args a;
    struct op *op = tenant_call(s, &a, SCRIPT_USAGE, tenant, day, ud);
    op->cb.tenant_day = cb;
    script_arg_int(&a, USAGE_now, pl_wall_ms());
    return call_send(op, &a, on_tenant_usage);
}

static void on_published(void *ud, int status, redisReply *reply)
{
    struct op *op = ud;
    if (status == PL_OK && !rconn_reply_ok(reply, "live event publish"))
        status = PL_EUPSTREAM;
    if (op->cb.done)
        op->cb.done(op->ud, status);
    pl_free(op);
}

int sess_live_publish(struct sess_store *s, const char *sid, const char *data, size_t len,
                      sess_done_cb cb, void *ud)
{
    if (!sess_id_valid(sid))
        return PL_EINVAL;
    char channel[SESS_KEY_MAX];
    sess_key(channel, sid, "live");
    const char *argv[] = {"PUBLISH", channel, data ? data : ""};
    size_t lens[] = {7, strlen(channel), len};
    struct op *op = op_new(s, sid, ud);
    op->cb.done = cb;
    int rc = rconn_command_argv(s->conn, on_published, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
