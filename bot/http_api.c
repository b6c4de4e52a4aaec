/* HTTP routes (docs/protocol.md, "HTTP"): health and readiness, metrics, the demo pages, and the
 * session API. Handlers answer through http_reply; those that wait for Redis hold a request
 * reference. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/http_req.h"
#include "common/alloc.h"
#include "common/embed.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/session_store.h"

extern const struct pl_embedded_file embed_web[];

static long long wall_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

static int status_of(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {{"bad_request", 400}, {"unauthorized", 401},   {"forbidden", 403},
               {"not_found", 404},   {"too_large", 413},      {"rate_limited", 429},
               {"busy", 429},        {"upstream_error", 502}, {"upstream_unavailable", 503},
               {"internal", 500}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].code, code) == 0)
            return map[i].status;
    }
    return 500;
}

void http_reply_error(struct http_req *r, const char *code, const char *message)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *s = json_dumps(j, JSON_COMPACT);
    http_reply(r, status_of(code), NULL, s, strlen(s));
    free(s);
    json_decref(j);
}

static void reply_json(struct http_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    http_reply(r, status, NULL, s, strlen(s));
    free(s);
    json_decref(j);
}

/* Bearer token of the request with at least `role` (admin > agent > caller). */
static bool authorize(struct http_req *r, enum auth_role role, struct auth_claims *claims)
{
    const char *h = r->authorization;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        http_reply_error(r, "unauthorized", "send Authorization: Bearer <token>");
        return false;
    }
    const struct bot_config *cfg = r->srv->cfg;
    int rc = auth_token_verify((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret),
                               h + 7, wall_s(), claims);
    if (rc == PL_EEXPIRED) {
        http_reply_error(r, "unauthorized", "the token has expired");
        return false;
    }
    if (rc != PL_OK) {
        http_reply_error(r, "unauthorized", "the token is not valid");
        return false;
    }
    if (claims->role < role) {
        char msg[80];
        snprintf(msg, sizeof(msg), "this needs the %s role", auth_role_name(role));
        http_reply_error(r, "forbidden", msg);
        return false;
    }
    return true;
}

/* ---- health, readiness, metrics ---- */

static void get_healthz(struct http_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_reply(r, 200, NULL, ok, sizeof(ok) - 1);
}

static void get_readyz(struct http_req *r)
{
    if (r->srv->shutting_down) {
        static const char body[] = "{\"status\":\"stopping\"}";
        http_reply(r, 503, NULL, body, sizeof(body) - 1);
    } else if (!sess_store_ready(r->srv->store)) {
        static const char body[] = "{\"status\":\"unavailable\",\"redis\":\"down\"}";
        http_reply(r, 503, NULL, body, sizeof(body) - 1);
    } else {
        static const char body[] = "{\"status\":\"ready\",\"redis\":\"up\"}";
        http_reply(r, 200, NULL, body, sizeof(body) - 1);
    }
}

static void get_metrics(struct http_req *r)
{
    const struct bot_metrics *m = &r->srv->metrics;
    struct pl_buf b;
    pl_buf_init(&b, 64 * 1024);
#define COUNTER(name, help, value)                                                                 \
    pl_buf_printf(&b,                                                                              \
                  "# HELP parley_" name " " help "\n# TYPE parley_" name " counter\nparley_" name  \
                  " %llu\n",                                                                       \
                  (unsigned long long)(value))
#define GAUGE(name, help, value)                                                                   \
    pl_buf_printf(&b,                                                                              \
                  "# HELP parley_" name " " help "\n# TYPE parley_" name " gauge\nparley_" name    \
                  " %llu\n",                                                                       \
                  (unsigned long long)(value))
    COUNTER("connections_total", "Caller WebSocket connections accepted.", m->connections_total);
    GAUGE("connections_open", "Caller WebSocket connections open.", m->connections_open);
    GAUGE("sessions_live", "Sessions live on this instance.", r->srv->sessions.count);
    COUNTER("sessions_created_total", "Sessions created.", m->sessions_created);
    COUNTER("messages_total", "Caller messages stored and acknowledged.", m->messages_total);
    COUNTER("turns_started_total", "Turns that reached the model.", m->turns_started);
    COUNTER("turns_completed_total", "Turns ended with turn_end.", m->turns_completed);
    COUNTER("turns_failed_total", "Turns that ended with an error.", m->turns_failed);
    COUNTER("deltas_total", "Text deltas streamed to callers.", m->deltas_sent);
    COUNTER("errors_sent_total", "Error frames sent to callers.", m->errors_sent);
    COUNTER("slow_clients_dropped_total", "Connections closed for not reading.",
            m->slow_clients_dropped);
    COUNTER("store_retries_total", "Answer writes retried after a storage error.",
            m->stores_retried);
    GAUGE("redis_up", "1 while Redis is reachable.", sess_store_ready(r->srv->store) ? 1 : 0);
#undef COUNTER
#undef GAUGE
    http_reply(r, 200, "text/plain; version=0.0.4", b.data, b.len);
    pl_buf_cleanup(&b);
}

/* ---- demo pages ---- */

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    return "application/octet-stream";
}

static void get_asset(struct http_req *r, const char *name)
{
    const struct pl_embedded_file *f = pl_embedded_find(embed_web, name);
    if (!f) {
        http_reply_error(r, "not_found", "no such page");
        return;
    }
    http_reply(r, 200, mime_of(name), f->data, f->len);
}

/* ---- sessions ---- */

struct create_op {
    struct http_req *req;
    char sub[129];
};

static void on_session_created(void *ud, int status, const struct sess_record *rec)
{
    struct create_op *op = ud;
    struct http_req *r = op->req;
    if (status != PL_OK) {
        http_reply_error(r, "upstream_unavailable",
                         "conversation storage is unavailable; retry shortly");
    } else {
        const struct bot_config *cfg = r->srv->cfg;
        r->srv->metrics.sessions_created++;
        struct auth_claims c;
        memset(&c, 0, sizeof(c));
        snprintf(c.sub, sizeof(c.sub), "%s", op->sub);
        c.role = AUTH_ROLE_CALLER;
        snprintf(c.sid, sizeof(c.sid), "%s", rec->id);
        c.iat = wall_s();
        c.exp = c.iat + cfg->token_ttl_s;
        char *token =
            auth_token_mint((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret), &c);
        reply_json(r, 201,
                   json_pack("{s:s,s:s,s:I}", "session_id", rec->id, "token", token, "expires_at",
                             (json_int_t)c.exp));
        pl_free(token);
    }
    http_req_unref(r);
    pl_free(op);
}

static const char *opt_string(json_t *obj, const char *key, size_t max, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > max) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static void post_sessions(struct http_req *r)
{
    struct auth_claims claims;
    if (!authorize(r, AUTH_ROLE_ADMIN, &claims))
        return;
    json_error_t jerr;
    json_t *body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &jerr) : json_object();
    if (!json_is_object(body)) {
        json_decref(body);
        http_reply_error(r, "bad_request", "body must be a JSON object");
        return;
    }
    bool bad = false;
    json_t *caller = json_object_get(body, "caller");
    if (caller && !json_is_object(caller) && !json_is_null(caller))
        bad = true;
    struct sess_caller sc = {0};
    if (json_is_object(caller)) {
        sc.id = opt_string(caller, "id", 128, &bad);
        sc.name = opt_string(caller, "name", 128, &bad);
        sc.policy_number = opt_string(caller, "policy_number", 64, &bad);
    }
    const char *channel = opt_string(body, "channel", 15, &bad);
    if (bad) {
        json_decref(body);
        http_reply_error(r, "bad_request",
                         "caller.id, caller.name (128 characters at most), caller.policy_number "
                         "(64) and channel (15) must be strings");
        return;
    }
    struct create_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    snprintf(op->sub, sizeof(op->sub), "%s", sc.id ? sc.id : "caller");
    int rc = sess_create(r->srv->store, channel ? channel : "web", &sc, on_session_created, op);
    json_decref(body);
    if (rc) {
        pl_free(op);
        http_reply_error(r, "upstream_unavailable",
                         "conversation storage is unavailable; retry shortly");
        return;
    }
    http_req_ref(r);
}

static void on_session_loaded(void *ud, int status, const struct sess_record *rec,
                              const struct sess_entry *entries, size_t n)
{
    struct http_req *r = ud;
    if (status == PL_ENOTFOUND) {
        http_reply_error(r, "not_found", "no such session");
    } else if (status != PL_OK) {
        http_reply_error(r, "upstream_unavailable",
                         "conversation storage is unavailable; retry shortly");
    } else {
        json_t *t = json_array();
        for (size_t i = 0; i < n; i++) {
            const struct sess_entry *e = &entries[i];
            json_t *m =
                json_pack("{s:s,s:s%,s:I,s:I}", "role", e->role, "text", e->text, e->text_len,
                          "turn", (json_int_t)e->turn, "ts", (json_int_t)e->ts_ms);
            if (e->stop_reason[0])
                json_object_set_new(m, "stop_reason", json_string(e->stop_reason));
            if (e->error[0])
                json_object_set_new(m, "error", json_string(e->error));
            if (!strcmp(e->role, "assistant")) {
                json_object_set_new(m, "usage",
                                    json_pack("{s:I,s:I}", "input_tokens",
                                              (json_int_t)e->input_tokens, "output_tokens",
                                              (json_int_t)e->output_tokens));
                if (e->model[0])
                    json_object_set_new(m, "model", json_string(e->model));
            }
            json_array_append_new(t, m);
        }
        json_t *session =
            json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:I,s:I,s:I,s:I}", "session_id", rec->id,
                      "channel", rec->channel, "state", rec->state, "caller", "id", rec->caller_id,
                      "name", rec->caller_name, "policy_number", rec->policy_number, "created",
                      rec->created_ms, "updated", rec->updated_ms, "turns", (json_int_t)rec->turns,
                      "answered", (json_int_t)rec->answered);
        reply_json(r, 200, json_pack("{s:o,s:o}", "session", session, "transcript", t));
    }
    http_req_unref(r);
}

static void get_session(struct http_req *r, const char *sid)
{
    struct auth_claims claims;
    if (!authorize(r, AUTH_ROLE_AGENT, &claims))
        return;
    if (!sess_id_valid(sid)) {
        http_reply_error(r, "not_found", "no such session");
        return;
    }
    if (sess_open(r->srv->store, sid, 10000, on_session_loaded, r)) {
        http_reply_error(r, "upstream_unavailable",
                         "conversation storage is unavailable; retry shortly");
        return;
    }
    http_req_ref(r);
}

/* ---- routing ---- */

void http_api_dispatch(struct http_req *r)
{
    const char *p = r->path;
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (get && !strcmp(p, "/healthz"))
        get_healthz(r);
    else if (get && !strcmp(p, "/readyz"))
        get_readyz(r);
    else if (get && !strcmp(p, "/metrics"))
        get_metrics(r);
    else if (get && (!strcmp(p, "/") || !strcmp(p, "/index.html")))
        get_asset(r, "index.html");
    else if (get && !strcmp(p, "/widget.js"))
        get_asset(r, "widget.js");
    else if (!strcmp(p, "/v1/sessions") && !strcmp(r->method, "POST"))
        post_sessions(r);
    else if (get && !strncmp(p, "/v1/sessions/", 13))
        get_session(r, p + 13);
    else if (!strcmp(p, "/v1/sessions") || !strncmp(p, "/v1/sessions/", 13))
        http_reply_error(r, "bad_request", "method not allowed on this path");
    else
        http_reply_error(r, "not_found", "no such path");
}
