/* Knowledge-base documents in Redis; see kb_store.h. */
#include "sessions/kb_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

#define KEY_DOC_PREFIX "parley:{kb}:doc:"
#define KEY_NAMES      "parley:{kb}:names"
#define KEY_VERSION    "parley:{kb}:version"
#define KEY_SOURCES    "parley:{kb}:sources"
#define DOC_KEY_MAX    (sizeof(KEY_DOC_PREFIX) + KB_STORE_NAME_MAX)

/* One step: the counter raised, the document and its name's version written, its origin
 * recorded (or forgotten: a document stored without one is nobody's copy); {existed, v}. */
static const char put_lua[] =
    "local v = redis.call('INCR', KEYS[3])\n"
    "local existed = redis.call('HEXISTS', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'text', ARGV[2], 'kind', ARGV[3], 'title', ARGV[4], "
    "'version', v)\n"
    "redis.call('HSET', KEYS[2], ARGV[1], v)\n"
    "if ARGV[5] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'source', ARGV[5], 'etag', ARGV[6])\n"
    "  redis.call('HSET', KEYS[4], ARGV[1], ARGV[6] .. '\\n' .. ARGV[5])\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], 'source', 'etag')\n"
    "  redis.call('HDEL', KEYS[4], ARGV[1])\n"
    "end\n"
    "return {existed, v}\n";

/* 0 when there was no such document (the counter is left alone), else 1. */
static const char del_lua[] = "if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end\n"
                              "redis.call('DEL', KEYS[1])\n"
                              "redis.call('HDEL', KEYS[4], ARGV[1])\n"
                              "redis.call('INCR', KEYS[3])\n"
                              "return 1\n";

/* The counter and the names together, so a list is never newer than its counter. */
static const char list_lua[] = "return {redis.call('GET', KEYS[2]) or '0', "
                               "redis.call('HGETALL', KEYS[1])}\n";

/* The same with the origins ("ETAG\nSOURCE" by name). */
static const char list_sources_lua[] = "return {redis.call('GET', KEYS[2]) or '0', "
                                       "redis.call('HGETALL', KEYS[1]), "
                                       "redis.call('HGETALL', KEYS[3])}\n";

struct kb_op {
    kb_store_put_cb put;
    kb_store_del_cb del;
    kb_store_version_cb version;
    kb_store_list_cb list;
    kb_store_list_sources_cb list_sources;
    kb_store_get_cb get;
    void *ud;
};

bool kb_store_name_valid(const char *name)
{
    if (!name || name[0] == '.')
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > KB_STORE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void doc_key(char out[DOC_KEY_MAX], const char *name)
{
    snprintf(out, DOC_KEY_MAX, KEY_DOC_PREFIX "%s", name);
}

/* A decimal reply (string or integer) as a number; false if it is neither. */
static bool reply_u64(const redisReply *r, uint64_t *out)
{
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        *out = (uint64_t)r->integer;
        return true;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
        return false;
    char tmp[24], *end;
    memcpy(tmp, r->str, r->len);
    tmp[r->len] = '\0';
    *out = strtoull(tmp, &end, 10);
    return *end == '\0';
}

static struct kb_op *new_op(void *ud)
{
    struct kb_op *op = pl_calloc(1, sizeof(*op));
    op->ud = ud;
    return op;
}

static void on_put(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    uint64_t v = 0;
    bool created = false;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "knowledge document write") ||
            reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_INTEGER || !reply_u64(reply->element[1], &v))
            status = PL_EUPSTREAM;
        else
            created = reply->element[0]->integer == 0;
    }
    op->put(op->ud, status, created, v);
    pl_free(op);
}

int kb_store_put(struct sess_store *s, const char *name, const char *text, size_t len,
                 const char *kind, const char *title, kb_store_put_cb cb, void *ud)
{
    return kb_store_put_from(s, name, text, len, kind, title, NULL, NULL, cb, ud);
}

bool kb_store_origin_valid(const char *source, const char *etag)
{
    if (!source || !*source)
        return !etag || !*etag;
    if (!etag || strlen(source) > KB_STORE_SOURCE_MAX || strlen(etag) > KB_STORE_ETAG_MAX)
        return false;
    for (const char *p = source; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return false;
    for (const char *p = etag; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

int kb_store_put_from(struct sess_store *s, const char *name, const char *text, size_t len,
                      const char *kind, const char *title, const char *source, const char *etag,
                      kb_store_put_cb cb, void *ud)
{
    if (!kb_store_name_valid(name) || !kb_store_origin_valid(source, etag))
        return PL_EINVAL;
    if (!source)
        source = "", etag = "";
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, put_lua);
    char key[DOC_KEY_MAX];
    doc_key(key, name);
    const char *argv[] = {"4",  key,  KEY_NAMES, KEY_VERSION, KEY_SOURCES, name,
                          text, kind, title,     source,      etag};
    size_t lens[] = {1,
                     strlen(key),
                     strlen(KEY_NAMES),
                     strlen(KEY_VERSION),
                     strlen(KEY_SOURCES),
                     strlen(name),
                     len,
                     strlen(kind),
                     strlen(title),
                     strlen(source),
                     strlen(etag)};
    struct kb_op *op = new_op(ud);
    op->put = cb;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_put, op, 11, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_del(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "knowledge document delete") ||
            reply->type != REDIS_REPLY_INTEGER)
            status = PL_EUPSTREAM;
        else if (reply->integer == 0)
            status = PL_ENOTFOUND;
    }
    op->del(op->ud, status);
    pl_free(op);
}

int kb_store_delete(struct sess_store *s, const char *name, kb_store_del_cb cb, void *ud)
{
    if (!kb_store_name_valid(name))
        return PL_EINVAL;
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, del_lua);
    char key[DOC_KEY_MAX];
    doc_key(key, name);
    const char *argv[] = {"4", key, KEY_NAMES, KEY_VERSION, KEY_SOURCES, name};
    size_t lens[] = {
        1, strlen(key), strlen(KEY_NAMES), strlen(KEY_VERSION), strlen(KEY_SOURCES), strlen(name)};
    struct kb_op *op = new_op(ud);
    op->del = cb;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_del, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_version(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    uint64_t v = 0;
    if (status == PL_OK && (!rconn_reply_ok(reply, "knowledge version read") ||
                            (reply->type != REDIS_REPLY_NIL && !reply_u64(reply, &v))))
        status = PL_EUPSTREAM;
    op->version(op->ud, status, v);
    pl_free(op);
}

int kb_store_version(struct sess_store *s, kb_store_version_cb cb, void *ud)
{
    const char *argv[] = {"GET", KEY_VERSION};
    size_t lens[] = {3, strlen(KEY_VERSION)};
    struct kb_op *op = new_op(ud);
    op->version = cb;
    int rc = rconn_command_argv(sess_store_rconn(s), on_version, op, 2, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_list(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    uint64_t v = 0;
    const redisReply *pairs = NULL;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "knowledge list") || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 2 || !reply_u64(reply->element[0], &v) ||
            reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[1]->elements % 2)
            status = PL_EUPSTREAM;
        else
            pairs = reply->element[1];
    }
    size_t n = pairs ? pairs->elements / 2 : 0;
    const char **names = pl_calloc(n ? n : 1, sizeof(*names));
    uint64_t *versions = pl_calloc(n ? n : 1, sizeof(*versions));
    for (size_t i = 0; i < n && status == PL_OK; i++) {
        const redisReply *k = pairs->element[2 * i];
        if (k->type != REDIS_REPLY_STRING || !reply_u64(pairs->element[2 * i + 1], &versions[i]))
            status = PL_EUPSTREAM;
        else
            names[i] = k->str;
    }
    if (status != PL_OK)
        n = 0;
    op->list(op->ud, status, v, n, names, versions);
    pl_free(names);
    pl_free(versions);
    pl_free(op);
}

int kb_store_list(struct sess_store *s, kb_store_list_cb cb, void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, list_lua);
    const char *argv[] = {"2", KEY_NAMES, KEY_VERSION};
    size_t lens[] = {1, strlen(KEY_NAMES), strlen(KEY_VERSION)};
    struct kb_op *op = new_op(ud);
    op->list = cb;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_list, op, 3, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const struct kb_store_entry *)a)->name,
                  ((const struct kb_store_entry *)b)->name);
}

/* Each origin of the sources hash's pairs ("ETAG\nSOURCE", split at the first '\n' in place:
 * the reply is ours until the callback returns) onto its entry, the entries sorted by name. */
static void attach_origins(const redisReply *origins, struct kb_store_entry *entries, size_t n)
{
    qsort(entries, n, sizeof(*entries), cmp_entries);
    for (size_t i = 0; i + 1 < origins->elements; i += 2) {
        redisReply *k = origins->element[i], *v = origins->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        struct kb_store_entry want = {.name = k->str};
        struct kb_store_entry *e = bsearch(&want, entries, n, sizeof(*entries), cmp_entries);
        char *nl = memchr(v->str, '\n', v->len);
        if (!e || !nl)
            continue;
        *nl = '\0';
        e->etag = v->str;
        e->source = nl + 1;
    }
}

static void on_list_sources(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    uint64_t v = 0;
    const redisReply *pairs = NULL, *origins = NULL;
    if (status == PL_OK) {
        if (!rconn_reply_ok(reply, "knowledge list") || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 3 || !reply_u64(reply->element[0], &v) ||
            reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[1]->elements % 2 ||
            reply->element[2]->type != REDIS_REPLY_ARRAY)
            status = PL_EUPSTREAM;
        else
            pairs = reply->element[1], origins = reply->element[2];
    }
    size_t n = pairs ? pairs->elements / 2 : 0;
    struct kb_store_entry *entries = pl_calloc(n ? n : 1, sizeof(*entries));
    for (size_t i = 0; i < n && status == PL_OK; i++) {
        const redisReply *k = pairs->element[2 * i];
        if (k->type != REDIS_REPLY_STRING ||
            !reply_u64(pairs->element[2 * i + 1], &entries[i].version))
            status = PL_EUPSTREAM;
        else
            entries[i].name = k->str;
    }
    if (status == PL_OK)
        attach_origins(origins, entries, n);
    if (status != PL_OK)
        n = 0;
    op->list_sources(op->ud, status, v, n, entries);
    pl_free(entries);
    pl_free(op);
}

int kb_store_list_sources(struct sess_store *s, kb_store_list_sources_cb cb, void *ud)
{
    static struct rconn_script script;
    if (!script.text)
        rconn_script_init(&script, list_sources_lua);
    const char *argv[] = {"3", KEY_NAMES, KEY_VERSION, KEY_SOURCES};
    size_t lens[] = {1, strlen(KEY_NAMES), strlen(KEY_VERSION), strlen(KEY_SOURCES)};
    struct kb_op *op = new_op(ud);
    op->list_sources = cb;
    int rc = rconn_eval(sess_store_rconn(s), &script, on_list_sources, op, 4, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}

static void on_get(void *ud, int status, redisReply *reply)
{
    struct kb_op *op = ud;
    if (status == PL_OK && (!rconn_reply_ok(reply, "knowledge document read") ||
                            reply->type != REDIS_REPLY_ARRAY || reply->elements != 4))
        status = PL_EUPSTREAM;
    if (status != PL_OK) {
        op->get(op->ud, status, 0, NULL, 0, NULL, NULL);
    } else {
        redisReply **e = reply->element;
        uint64_t v = 0;
        if (e[0]->type == REDIS_REPLY_NIL)
            op->get(op->ud, PL_ENOTFOUND, 0, NULL, 0, NULL, NULL);
        else if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
                 e[2]->type != REDIS_REPLY_STRING || !reply_u64(e[3], &v))
            op->get(op->ud, PL_EUPSTREAM, 0, NULL, 0, NULL, NULL);
        else
            op->get(op->ud, PL_OK, v, e[0]->str, e[0]->len, e[1]->str, e[2]->str);
    }
    pl_free(op);
}

int kb_store_get(struct sess_store *s, const char *name, kb_store_get_cb cb, void *ud)
{
    if (!kb_store_name_valid(name))
        return PL_EINVAL;
    char key[DOC_KEY_MAX];
    doc_key(key, name);
    const char *argv[] = {"HMGET", key, "text", "kind", "title", "version"};
    size_t lens[] = {5, strlen(key), 4, 4, 5, 7};
    struct kb_op *op = new_op(ud);
    op->get = cb;
    int rc = rconn_command_argv(sess_store_rconn(s), on_get, op, 6, argv, lens);
    if (rc)
        pl_free(op);
    return rc;
}
