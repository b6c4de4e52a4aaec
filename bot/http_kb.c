/* /v1/kb/...; see http_kb.h. */
#include "bot/http_kb.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/http_auth.h"
#include "bot/http_query.h"
#include "bot/kb_dense.h"
#include "bot/kb_sync.h"
#include "bot/server.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_fusion.h"
#include "knowledge/kb_index.h"
#include "sessions/kb_store.h"

#define QUERY_MAX   2048 /* bytes of a decoded question */
#define SEARCH_K    5
#define SEARCH_KMAX 50

static const char bad_name[] = "a document name is 1 to 128 characters of A-Z a-z 0-9 . - _, "
                               "not starting with \".\" (motor-glass-cover.md)";

static const char *kind_name(enum kb_kind k)
{
    return k == KB_KIND_HTML ? "html" : k == KB_KIND_TXT ? "txt" : "md";
}

static bool kind_parse(const char *s, enum kb_kind *out)
{
    if (!strcmp(s, "md") || !strcmp(s, "markdown"))
        *out = KB_KIND_MD;
    else if (!strcmp(s, "txt") || !strcmp(s, "text"))
        *out = KB_KIND_TXT;
    else if (!strcmp(s, "html"))
        *out = KB_KIND_HTML;
    else
        return false;
    return true;
}

static void reply_json(struct http_server_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) {
        http_server_reply_error(r, API_ERR_INTERNAL, NULL);
        return;
    }
    http_server_reply(r, status, NULL, s, strlen(s));
    free(s);
}

struct put_op {
    struct http_server_req *req;
    struct kb_doc doc;
    char *source, *etag; /* the origin recorded, or NULL */
};

static void put_op_free(struct put_op *op)
{
    kb_doc_cleanup(&op->doc);
    pl_free(op->source);
    pl_free(op->etag);
    pl_free(op);
}

/* A query parameter percent-decoded into `out`: 1 found, 0 absent, -1 malformed or too long. */
static int query_text(struct http_server_req *r, const char *name, char *raw, size_t rawlen,
                      char *out, size_t outlen)
{
    size_t n;
    if (!http_query_value(r->query, name, raw, rawlen))
        return 0;
    if (strlen(raw) == rawlen - 1 || http_query_decode(raw, strlen(raw), out, outlen, &n) != PL_OK)
        return -1;
    return 1;
}

static void on_put(void *ud, int status, bool created, uint64_t version)
{
    struct put_op *op = ud;
    struct http_server_req *r = op->req;
    if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", op->doc.name, "title",
                              op->doc.title, "kind", kind_name(op->doc.kind), "chunks",
                              (json_int_t)op->doc.n_chunks, "version", (json_int_t)version);
        if (op->source) {
            json_object_set_new(j, "source", json_string(op->source));
            json_object_set_new(j, "etag", json_string(op->etag));
        }
        /* Searched here at once; the other instances within their sync interval. */
        if (r->srv->kb_sync)
            kb_sync_apply_put(r->srv->kb_sync, &op->doc, version);
        reply_json(r, created ? 201 : 200, j);
    }
    put_op_free(op);
    http_server_unref(r);
}

static const char bad_origin[] = "source is up to 2048 bytes and etag up to 256, without control "
                                 "characters; an etag goes with a source";

/* The name, text, kind and origin of a POST: JSON {"name","text","kind"?,"source"?,"etag"?},
 * or the raw body with ?name= (and ?kind=, ?source=, ?etag=); stored, or an error answered. */
static void post_document(struct http_server_req *r)
{
    char qname[3 * KB_STORE_NAME_MAX + 1], name[KB_STORE_NAME_MAX + 1], qkind[16], kind_s[16];
    char *qraw = pl_malloc(3 * KB_STORE_SOURCE_MAX + 2), source[KB_STORE_SOURCE_MAX + 1] = "",
         etag[KB_STORE_ETAG_MAX + 1] = "";
    size_t n;
    const char *text = NULL, *kind_arg = NULL;
    size_t len = 0;
    json_t *body = NULL;
    bool origin_ok = true;
    if (http_query_value(r->query, "name", qname, sizeof(qname))) {
        origin_ok = query_text(r, "source", qraw, 3 * KB_STORE_SOURCE_MAX + 2, source,
                               sizeof(source)) >= 0 &&
                    query_text(r, "etag", qraw, 3 * KB_STORE_ETAG_MAX + 2, etag, sizeof(etag)) >= 0;
        if (http_query_decode(qname, strlen(qname), name, sizeof(name), &n) != PL_OK) {
            http_server_reply_error(r, API_ERR_BAD_REQUEST, bad_name);
            pl_free(qraw);
            return;
        }
        text = r->body.data ? r->body.data : "";
        len = r->body.len;
        if (http_query_value(r->query, "kind", qkind, sizeof(qkind)) &&
            http_query_decode(qkind, strlen(qkind), kind_s, sizeof(kind_s), &n) == PL_OK)
            kind_arg = kind_s;
        else if (http_query_value(r->query, "kind", qkind, sizeof(qkind)))
            kind_arg = "?";
    } else {
        json_error_t jerr;
        body = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES,
                          &jerr);
        json_t *jn = json_object_get(body, "name"), *jt = json_object_get(body, "text"),
               *jk = json_object_get(body, "kind"), *js = json_object_get(body, "source"),
               *je = json_object_get(body, "etag");
        if (!json_is_object(body) || !json_is_string(jn) || !json_is_string(jt) ||
            (jk && !json_is_string(jk)) || json_string_length(jn) > KB_STORE_NAME_MAX ||
            (js && !json_is_string(js)) || (je && !json_is_string(je))) {
            json_decref(body);
            pl_free(qraw);
            http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                    "a document is {\"name\", \"text\", \"kind\"?, "
                                    "\"source\"?, \"etag\"?} in JSON, or the raw text with "
                                    "?name=NAME");
            return;
        }
        origin_ok = (!js || (json_string_length(js) <= KB_STORE_SOURCE_MAX &&
                             strlen(json_string_value(js)) == json_string_length(js))) &&
                    (!je || (json_string_length(je) <= KB_STORE_ETAG_MAX &&
                             strlen(json_string_value(je)) == json_string_length(je)));
        if (origin_ok) {
            snprintf(source, sizeof(source), "%s", js ? json_string_value(js) : "");
            snprintf(etag, sizeof(etag), "%s", je ? json_string_value(je) : "");
        }
        snprintf(name, sizeof(name), "%s", json_string_value(jn));
        text = json_string_value(jt);
        len = json_string_length(jt);
        kind_arg = jk ? json_string_value(jk) : NULL;
    }
    enum kb_kind kind;
    int rc = PL_OK;
    struct put_op *op = NULL;
    if (!kb_store_name_valid(name) ||
        (body && strlen(name) != json_string_length(json_object_get(body, "name")))) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, bad_name);
    } else if (!origin_ok || !kb_store_origin_valid(source, etag) ||
               !pl_utf8_valid(source, strlen(source)) || !pl_utf8_valid(etag, strlen(etag))) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, bad_origin);
    } else if (kind_arg ? !kind_parse(kind_arg, &kind) : !kb_kind_from_name(name, &kind)) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                kind_arg ? "kind is md, txt or html"
                                         : "no kind: give one (md, txt, html) or a name ending "
                                           ".md, .txt or .html");
    } else if (len > KB_DOC_MAX_BYTES) {
        http_server_reply_error(r, API_ERR_TOO_LARGE, "a document is at most 4 MiB");
    } else {
        op = pl_calloc(1, sizeof(*op));
        op->req = r;
        if (*source) {
            op->source = pl_strdup(source);
            op->etag = pl_strdup(etag);
        }
        rc = kb_chunk_document(name, text, len, kind, NULL, &op->doc);
        if (rc == PL_EUTF8)
            http_server_reply_error(r, API_ERR_BAD_REQUEST, "a document is UTF-8 text");
        else if (rc == PL_ETOOBIG)
            http_server_reply_error(r, API_ERR_TOO_LARGE,
                                    "a document is at most 4 MiB and 2000 passages");
        else if (rc != PL_OK)
            http_server_reply_error(r, API_ERR_BAD_REQUEST, "the document cannot be read");
        else if (kb_store_put_from(r->srv->store, name, text, len, kind_name(kind),
                                   op->doc.title ? op->doc.title : "", op->source, op->etag, on_put,
                                   op) != PL_OK)
            http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        else
            op = NULL, http_server_ref(r);
    }
    if (op)
        put_op_free(op);
    json_decref(body);
    pl_free(qraw);
}

static void on_deleted(void *ud, int status)
{
    struct http_server_req *r = ud;
    const char *name = r->route_data;
    if (status == PL_ENOTFOUND) {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no document has that name");
    } else if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        if (r->srv->kb_sync)
            kb_sync_apply_delete(r->srv->kb_sync, name);
        reply_json(r, 200, json_pack("{s:s}", "deleted", name));
    }
    pl_free(r->route_data);
    r->route_data = NULL;
    http_server_unref(r);
}

static void delete_document(struct http_server_req *r, const char *name)
{
    if (!kb_store_name_valid(name)) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, bad_name);
        return;
    }
    r->route_data = pl_strdup(name);
    if (kb_store_delete(r->srv->store, name, on_deleted, r) != PL_OK) {
        pl_free(r->route_data);
        r->route_data = NULL;
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

static void on_listed(void *ud, int status, uint64_t version, size_t n,
                      const struct kb_store_entry *entries)
{
    struct http_server_req *r = ud;
    if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        /* Sorted by name already (kb_store_list_sources). */
        json_t *docs = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_pack("{s:s, s:I}", "name", entries[i].name, "version",
                                  (json_int_t)entries[i].version);
            if (entries[i].source) {
                json_object_set_new(d, "source", json_string(entries[i].source));
                json_object_set_new(d, "etag", json_string(entries[i].etag));
            }
            json_array_append_new(docs, d);
        }
        reply_json(r, 200,
                   json_pack("{s:I, s:o}", "version", (json_int_t)version, "documents", docs));
    }
    http_server_unref(r);
}

static void list_documents(struct http_server_req *r)
{
    if (kb_store_list_sources(r->srv->store, on_listed, r) != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

struct search_op {
    struct http_server_req *req;
    char q[QUERY_MAX + 1];
    size_t qlen;
    size_t k;
};

/* The hits for the question (fused when `qvec` is there), then `op` freed. */
static void search_reply(struct search_op *op, const float *qvec)
{
    struct http_server_req *r = op->req;
    const struct kb_vectors *v = qvec ? kb_dense_vectors(r->srv->kb_dense) : NULL;
    struct kb_hit hits[SEARCH_KMAX];
    size_t n = r->srv->kb ? kb_hybrid_search(r->srv->kb, v, op->q, op->qlen, v ? qvec : NULL, 0,
                                             hits, op->k)
                          : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:f, s:s}", "doc", hits[i].doc,
                                             "title", hits[i].title, "heading", hits[i].heading,
                                             "chunk", (json_int_t)hits[i].chunk, "score",
                                             hits[i].score, "text", hits[i].text));
    reply_json(r, 200,
               json_pack("{s:s%, s:s, s:o}", "query", op->q, op->qlen, "mode",
                         v ? "hybrid" : "bm25", "hits", arr));
    pl_free(op);
}

static void on_search_embedded(void *ud, const float *vec)
{
    struct search_op *op = ud;
    struct http_server_req *r = op->req;
    search_reply(op, vec);
    http_server_unref(r);
}

static void search(struct http_server_req *r)
{
    char raw[3 * QUERY_MAX + 1], q[QUERY_MAX + 1], kraw[8];
    size_t qlen = 0;
    if (!http_query_value(r->query, "q", raw, sizeof(raw)) ||
        http_query_decode(raw, strlen(raw), q, sizeof(q), &qlen) != PL_OK || qlen == 0) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                "q is the question, percent-encoded, 1 to 2048 bytes");
        return;
    }
    long k = SEARCH_K;
    if (http_query_value(r->query, "k", kraw, sizeof(kraw))) {
        char *end;
        k = strtol(kraw, &end, 10);
        if (*end || k < 1 || k > SEARCH_KMAX) {
            http_server_reply_error(r, API_ERR_BAD_REQUEST, "k is 1 to 50");
            return;
        }
    }
    struct search_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    memcpy(op->q, q, qlen);
    op->qlen = qlen;
    op->k = (size_t)k;
    /* With dense retrieval on, the question is embedded first (within
     * --embeddings-timeout-ms; on failure the answer is BM25's, "mode":"bm25"). */
    if (kb_dense_query(r->srv->kb_dense, q, qlen, on_search_embedded, op)) {
        http_server_ref(r);
        return;
    }
    search_reply(op, NULL);
}

void http_kb_route(struct http_server_req *r, const char *rest)
{
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    struct auth_claims claims;
    if (!strcmp(rest, "search")) {
        if (!get)
            http_server_reply_method_not_allowed(r, "GET");
        else if (http_auth_require(r, AUTH_ROLE_AGENT, &claims))
            search(r);
    } else if (!strcmp(rest, "documents")) {
        bool post = !strcmp(r->method, "POST");
        if (!get && !post)
            http_server_reply_method_not_allowed(r, "GET, POST");
        else if (http_auth_require(r, post ? AUTH_ROLE_ADMIN : AUTH_ROLE_AGENT, &claims))
            post ? post_document(r) : list_documents(r);
    } else if (!strncmp(rest, "documents/", 10)) {
        if (strcmp(r->method, "DELETE") != 0)
            http_server_reply_method_not_allowed(r, "DELETE");
        else if (http_auth_require(r, AUTH_ROLE_ADMIN, &claims))
            delete_document(r, rest + 10);
    } else {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no such path");
    }
}
