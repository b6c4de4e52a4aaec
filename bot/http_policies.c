/* PUT and GET /v1/policies/{number}; see http_policies.h. */
#include "bot/http_policies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/http_auth.h"
#include "bot/server.h"
#include "common/alloc.h"
#include "common/err.h"
#include "connectors/policy_source.h"
#include "sessions/policy_store.h"

static const char bad_number[] =
    "a policy number is 1 to 64 characters of A-Z a-z 0-9 - _ (/v1/policies/POL-100001)";

/* A read that failed: Redis down is storage; another source is named. */
static void reply_unavailable(struct http_server_req *r)
{
    struct policy_source *src = r->srv->policy;
    if (policy_source_writable(src)) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    char msg[384];
    snprintf(msg, sizeof(msg), "policy records cannot be read from %s right now; please retry",
             policy_source_description(src));
    http_server_reply_error(r, API_ERR_UPSTREAM_UNAVAILABLE, msg);
}

static void on_got(void *ud, int status, const char *record, size_t len)
{
    struct http_server_req *r = ud;
    if (status == PL_ENOTFOUND)
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no policy record has that number");
    else if (status != PL_OK)
        reply_unavailable(r);
    else
        http_server_reply(r, 200, NULL, record, len);
    http_server_unref(r);
}

static void get_policy(struct http_server_req *r, const char *number)
{
    /* Held before the read: a cached record is answered before policy_source_get returns. */
    http_server_ref(r);
    if (policy_source_get(r->srv->policy, number, on_got, r) != PL_OK) {
        reply_unavailable(r);
        http_server_unref(r);
    }
}

struct put_op {
    struct http_server_req *req;
    char *record; /* the stored text, which the answer repeats */
};

static void on_put(void *ud, int status, bool created)
{
    struct put_op *op = ud;
    struct http_server_req *r = op->req;
    if (status != PL_OK)
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    else
        http_server_reply(r, created ? 201 : 200, NULL, op->record, strlen(op->record));
    http_server_unref(r);
    free(op->record);
    pl_free(op);
}

static void put_policy(struct http_server_req *r, const char *number)
{
    if (!policy_source_writable(r->srv->policy)) {
        char msg[384];
        snprintf(msg, sizeof(msg), "policy records come from %s; change them there",
                 policy_source_description(r->srv->policy));
        http_server_reply_error(r, API_ERR_POLICY_READ_ONLY, msg);
        return;
    }
    if (r->body.len > SESS_POLICY_RECORD_MAX) {
        http_server_reply_error(r, API_ERR_TOO_LARGE,
                                "a policy record is at most 65536 bytes of JSON");
        return;
    }
    json_error_t jerr;
    json_t *body = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, "a policy record is a JSON object");
        return;
    }
    json_t *inner = json_object_get(body, "policy_number");
    if (inner && (!json_is_string(inner) || strcmp(json_string_value(inner), number) != 0)) {
        json_decref(body);
        http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                "the record's policy_number must be the number in the path");
        return;
    }
    /* Stored compact, keys in the order given: what the prompt shows and GET answers. */
    char *record = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!record || strlen(record) > SESS_POLICY_RECORD_MAX) {
        free(record);
        http_server_reply_error(r, API_ERR_TOO_LARGE,
                                "a policy record is at most 65536 bytes of JSON");
        return;
    }
    struct put_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    op->record = record;
    if (sess_policy_put(r->srv->store, number, record, strlen(record), on_put, op) != PL_OK) {
        free(record);
        pl_free(op);
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

void http_policies_route(struct http_server_req *r, const char *number)
{
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    bool put = !strcmp(r->method, "PUT");
    if (!get && !put) {
        http_server_reply_method_not_allowed(r, "GET, PUT");
        return;
    }
    /* The role is checked before the number, so that a caller learns nothing from either. */
    struct auth_claims claims;
    if (!http_auth_require(r, put ? AUTH_ROLE_ADMIN : AUTH_ROLE_AGENT, &claims))
        return;
    if (!sess_policy_number_valid(number)) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, bad_number);
        return;
    }
    if (put)
        put_policy(r, number);
    else
        get_policy(r, number);
}
