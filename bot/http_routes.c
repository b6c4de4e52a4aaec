/* HTTP routes (docs/protocol.md "HTTP"): health and readiness, metrics, the demo pages, and the
 * session API; the message API is http_messages.c. Handlers answer through http_server_reply;
 * those that wait for Redis hold a request reference. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <jansson.h>

#include "bot/acceptor.h"
#include "bot/auth_token.h"
#include "bot/http_auth.h"
#include "bot/http_claims.h"
#include "bot/http_connect.h"
#include "bot/http_kb.h"
#include "bot/http_lex.h"
#include "bot/http_messages.h"
#include "bot/http_policies.h"
#include "bot/http_routes.h"
#include "bot/http_server.h"
#include "bot/http_usage.h"
#include "bot/kb_dense.h"
#include "bot/summary.h"
#include "bot/turn/turn_engine.h"
#include "bot/web_pages.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "connectors/llm_breaker.h"
#include "connectors/llm_providers.h"
#include "connectors/policy_source.h"
#include "sessions/policy_store.h"
#include "sessions/session_store.h"
#include "sessions/webhook_store.h"

static long long wall_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

static void reply_json(struct http_server_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    http_server_reply(r, status, NULL, s, strlen(s));
    free(s);
    json_decref(j);
}

/* ---- health, readiness, metrics ---- */

static void get_healthz(struct http_server_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_server_reply(r, 200, NULL, ok, sizeof(ok) - 1);
}

static void get_readyz(struct http_server_req *r)
{
    if (r->srv->shutting_down) {
        static const char body[] = "{\"status\":\"stopping\"}";
        http_server_reply(r, 503, NULL, body, sizeof(body) - 1);
    } else if (!sess_store_ready(r->srv->store)) {
        static const char body[] = "{\"status\":\"unavailable\",\"redis\":\"down\"}";
        http_server_reply(r, 503, NULL, body, sizeof(body) - 1);
    } else {
        static const char body[] = "{\"status\":\"ready\",\"redis\":\"up\"}";
        http_server_reply(r, 200, NULL, body, sizeof(body) - 1);
    }
}

static void get_metrics(struct http_server_req *r)
{
    const struct bot_metrics *m = &r->srv->metrics;
    struct turn_engine_stats t;
    turn_engine_stats(r->srv->engine, &t);
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
    GAUGE("sessions_live", "Sessions live on this instance.", t.sessions_live);
    COUNTER("sessions_created_total", "Sessions created.", m->sessions_created);
    COUNTER("messages_total", "Caller messages stored and acknowledged.", m->messages_total);
    COUNTER("turns_started_total", "Turns that reached the model.", t.turns_started);
    COUNTER("turns_completed_total", "Turns ended with turn_end.", t.turns_completed);
    COUNTER("turns_failed_total", "Turns that ended with an error.", t.turns_failed);
    COUNTER("deltas_total", "Text deltas told to listeners.", t.deltas);
    COUNTER("errors_sent_total", "Error frames sent to callers.", m->errors_sent);
    COUNTER("rate_limited_total",
            "Caller messages, anonymous sessions and polls refused by a rate limit.",
            m->rate_limited);
    COUNTER("http_messages_total", "Caller messages received over HTTP.", m->http_messages);
    COUNTER("slow_clients_dropped_total", "Connections closed for not reading.",
            m->slow_clients_dropped);
    COUNTER("store_retries_total", "Answer writes retried after a storage error.",
            t.stores_retried);
    GAUGE("redis_up", "1 while Redis is reachable.", sess_store_ready(r->srv->store) ? 1 : 0);
    struct acceptor_stats a;
    acceptor_stats(r->srv->acceptor, &a);
    GAUGE("sockets_open", "Accepted connections open (HTTP and WebSocket).", a.open);
    GAUGE("connections_limit", "Connections served before the health-check reserve.", a.cap);
    COUNTER("sockets_accepted_total", "Connections accepted.", a.accepted);
    pl_buf_printf(&b,
                  "# HELP parley_connections_refused_total Connections refused by a cap.\n"
                  "# TYPE parley_connections_refused_total counter\n"
                  "parley_connections_refused_total{reason=\"capacity\"} %llu\n"
                  "parley_connections_refused_total{reason=\"per_address\"} %llu\n"
                  "parley_connections_refused_total{reason=\"per_session\"} %llu\n",
                  (unsigned long long)a.refused_capacity, (unsigned long long)a.refused_per_address,
                  (unsigned long long)m->refused_per_session);
    pl_buf_printf(&b,
                  "# HELP parley_webhook_events_total Lex and Connect events answered after "
                  "authentication.\n"
                  "# TYPE parley_webhook_events_total counter\n"
                  "parley_webhook_events_total{endpoint=\"lex\"} %llu\n"
                  "parley_webhook_events_total{endpoint=\"connect\"} %llu\n"
                  "# HELP parley_webhook_held_total Webhook answers not ready within their time "
                  "budget (a holding message, status=pending).\n"
                  "# TYPE parley_webhook_held_total counter\n"
                  "parley_webhook_held_total{endpoint=\"lex\"} %llu\n"
                  "parley_webhook_held_total{endpoint=\"connect\"} %llu\n",
                  (unsigned long long)m->webhook_events[WEBHOOK_METRIC_LEX],
                  (unsigned long long)m->webhook_events[WEBHOOK_METRIC_CONNECT],
                  (unsigned long long)m->webhook_held[WEBHOOK_METRIC_LEX],
                  (unsigned long long)m->webhook_held[WEBHOOK_METRIC_CONNECT]);
    COUNTER("webhook_refused_total",
            "Webhook requests refused 401: unsigned, wrongly signed, stale or replayed.",
            m->webhook_refused);
    COUNTER("accept_paused_total", "Times accepting stopped at the connection cap.",
            a.paused_at_cap);
    COUNTER("accept_errors_total", "accept() failures (such as EMFILE); each pauses accepting.",
            a.accept_errors);
    COUNTER("hello_timeouts_total", "WebSockets closed for not completing hello in time.",
            m->hello_timeouts);
    COUNTER("hello_attempts_exceeded_total", "WebSockets closed after too many failed hellos.",
            m->hello_attempts_exceeded);
#undef COUNTER
#undef GAUGE
    http_usage_metrics(r->srv, &b);
    summarizer_metrics(r->srv->summaries, &b);
    kb_dense_metrics(r->srv->kb_dense, &b);
    llm_provider_metrics(r->srv->llm, &b);
    llm_breakers_metrics(r->srv->llm_breakers, &b);
    if (r->srv->policy)
        policy_source_metrics(r->srv->policy, &b);
    http_server_reply(r, 200, "text/plain; version=0.0.4", b.data, b.len);
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

static void get_asset(struct http_server_req *r, const char *name)
{
    const struct web_page *f = web_pages_find(r->srv->web, name);
    if (!f) {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no such page");
        return;
    }
    http_server_reply(r, 200, mime_of(name), f->data, f->len);
}

/* ---- sessions ---- */

struct create_op {
    struct http_server_req *req;
    char sub[129];
};

static void on_session_created(void *ud, int status, const struct sess_record *rec)
{
    struct create_op *op = ud;
    struct http_server_req *r = op->req;
    if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
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
    http_server_unref(r);
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

static bool has_control(const char *s)
{
    return s && pl_utf8_has_control(s, strlen(s));
}

static void post_sessions(struct http_server_req *r)
{
    struct auth_claims claims;
    if (!http_auth_require(r, AUTH_ROLE_ADMIN, &claims))
        return;
    json_error_t jerr;
    json_t *body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &jerr) : json_object();
    if (!json_is_object(body)) {
        json_decref(body);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, "body must be a JSON object");
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
        http_server_reply_error(
            r, API_ERR_BAD_REQUEST,
            "caller.id, caller.name (128 characters at most), caller.policy_number "
            "(64) and channel (15) must be strings");
        return;
    }
    /* These are stored, shown to agents and logged: a line break or an escape sequence in one
     * would forge a log line or a header-like field downstream. */
    const char *with_control = has_control(channel)            ? "channel"
                               : has_control(sc.id)            ? "caller.id"
                               : has_control(sc.name)          ? "caller.name"
                               : has_control(sc.policy_number) ? "caller.policy_number"
                                                               : NULL;
    if (with_control) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "%s must not contain control characters (line breaks, tabs, escapes)",
                 with_control);
        json_decref(body);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, msg);
        return;
    }
    /* The number is bound to the session: it must be one a record can be stored under. */
    if (sc.policy_number && *sc.policy_number && !sess_policy_number_valid(sc.policy_number)) {
        json_decref(body);
        http_server_reply_error(
            r, API_ERR_BAD_REQUEST,
            "caller.policy_number must be 1 to 64 characters of A-Z a-z 0-9 - _");
        return;
    }
    struct create_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    snprintf(op->sub, sizeof(op->sub), "%s", sc.id ? sc.id : "caller");
    sc.tenant = claims.tenant; /* whoever creates the session pays for it (docs/cost.md) */
    int rc = sess_create(r->srv->store, channel ? channel : "web", &sc, on_session_created, op);
    json_decref(body);
    if (rc) {
        pl_free(op);
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

struct session_reply {
    struct http_server_req *req; /* a reference */
    json_t *body;
};

static void on_handoff_read(void *ud, int status, const char *text, size_t len)
{
    struct session_reply *sr = ud;
    if (status != PL_OK) {
        json_decref(sr->body);
        http_server_reply_error(sr->req, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        if (text)
            json_object_set_new(json_object_get(sr->body, "session"), "handoff",
                                json_stringn(text, len));
        reply_json(sr->req, 200, sr->body);
    }
    http_server_unref(sr->req);
    pl_free(sr);
}

static void on_session_loaded(void *ud, int status, const struct sess_record *rec,
                              const struct sess_entry *entries, size_t n)
{
    struct http_server_req *r = ud;
    if (status == PL_ENOTFOUND) {
        http_server_reply_error(r, API_ERR_SESSION_GONE, "no such session");
    } else if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
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
            if (e->agent[0]) /* agents' lines and audit entries: who */
                json_object_set_new(m, "agent", json_string(e->agent));
            if (!strcmp(e->role, "assistant")) {
                json_object_set_new(
                    m, "usage",
                    json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)e->input_tokens,
                              "output_tokens", (json_int_t)e->output_tokens,
                              "cache_read_input_tokens", (json_int_t)e->cache_read_input_tokens,
                              "cache_creation_input_tokens",
                              (json_int_t)e->cache_creation_input_tokens));
                json_object_set_new(m, "cost_usd_micros", json_integer(e->cost_micros));
                if (e->model[0])
                    json_object_set_new(m, "model", json_string(e->model));
                json_t *cites = e->citations[0] ? json_loads(e->citations, 0, NULL) : NULL;
                json_object_set_new(m, "citations", json_is_array(cites) ? cites : json_array());
                if (cites && !json_is_array(cites))
                    json_decref(cites);
            }
            json_array_append_new(t, m);
        }
        json_t *session =
            json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:I,s:I,s:I,s:I}", "session_id", rec->id,
                      "channel", rec->channel, "state", rec->state, "caller", "id", rec->caller_id,
                      "name", rec->caller_name, "policy_number", rec->policy_number, "created",
                      rec->created_ms, "updated", rec->updated_ms, "turns", (json_int_t)rec->turns,
                      "answered", (json_int_t)rec->answered);
        const struct sess_usage_totals *u = &rec->usage;
        json_object_set_new(session, "tenant", json_string(rec->tenant));
        json_object_set_new(
            session, "usage",
            json_pack("{s:I,s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)u->input_tokens,
                      "output_tokens", (json_int_t)u->output_tokens, "cache_read_input_tokens",
                      (json_int_t)u->cache_read_input_tokens, "cache_creation_input_tokens",
                      (json_int_t)u->cache_creation_input_tokens, "cost_usd_micros",
                      (json_int_t)u->cost_micros));
        /* A webhook session's handoff packet (docs/lex-connect.md) comes with it. */
        struct session_reply *sr = pl_calloc(1, sizeof(*sr));
        sr->req = r;
        sr->body = json_pack("{s:o,s:o}", "session", session, "transcript", t);
        if (hook_session_handoff(r->srv->store, rec->id, on_handoff_read, sr) == PL_OK)
            return; /* the reference goes with it */
        reply_json(r, 200, sr->body);
        pl_free(sr);
    }
    http_server_unref(r);
}

static void get_session(struct http_server_req *r, const char *sid)
{
    struct auth_claims claims;
    if (!http_auth_require(r, AUTH_ROLE_AGENT, &claims))
        return;
    if (!sess_id_valid(sid)) {
        http_server_reply_error(r, API_ERR_SESSION_GONE, "no such session");
        return;
    }
    if (sess_open(r->srv->store, sid, 10000, on_session_loaded, r)) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

/* ---- routing ---- */

static bool is_get(const struct http_server_req *r)
{
    return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
}

/* /v1/sessions/{sid}[/messages | /turns/{n}] */
static void route_session(struct http_server_req *r, const char *rest)
{
    char sid[SESS_ID_LEN + 1];
    size_t n = strcspn(rest, "/");
    if (n != SESS_ID_LEN) {
        http_server_reply_error(r, API_ERR_SESSION_GONE, "no such session");
        return;
    }
    memcpy(sid, rest, n);
    sid[n] = '\0';
    if (!sess_id_valid(sid)) {
        http_server_reply_error(r, API_ERR_SESSION_GONE, "no such session");
        return;
    }
    const char *sub = rest + n;
    if (!*sub) {
        if (is_get(r))
            get_session(r, sid);
        else
            http_server_reply_method_not_allowed(r, "GET");
    } else if (!strcmp(sub, "/messages")) {
        if (!strcmp(r->method, "POST"))
            http_messages_post(r, sid);
        else
            http_server_reply_method_not_allowed(r, "POST");
    } else if (!strncmp(sub, "/turns/", 7)) {
        const char *digits = sub + 7;
        char *end;
        long turn = strtol(digits, &end, 10);
        if (end == digits || *end || *digits == '-' || *digits == '+' || turn < 1)
            http_server_reply_error(r, API_ERR_NOT_FOUND, "no such turn (turns are 1, 2, 3, ...)");
        else if (!is_get(r))
            http_server_reply_method_not_allowed(r, "GET");
        else
            http_messages_get_turn(r, sid, turn);
    } else {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no such path");
    }
}

void http_routes_dispatch(struct http_server_req *r)
{
    static const struct {
        const char *path;
        void (*get)(struct http_server_req *r);
        const char *asset;
    } fixed[] = {
        {"/healthz", get_healthz, NULL},     {"/readyz", get_readyz, NULL},
        {"/metrics", get_metrics, NULL},     {"/", NULL, "index.html"},
        {"/index.html", NULL, "index.html"}, {"/widget.js", NULL, "widget.js"},
        {"/agent", NULL, "agent.html"},      {"/agent.js", NULL, "agent.js"},
    };
    const char *p = r->path;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(p, fixed[i].path) != 0)
            continue;
        if (!is_get(r))
            http_server_reply_method_not_allowed(r, "GET");
        else if (fixed[i].get)
            fixed[i].get(r);
        else
            get_asset(r, fixed[i].asset);
        return;
    }
    if (!strcmp(p, "/v1/sessions")) {
        if (!strcmp(r->method, "POST"))
            post_sessions(r);
        else
            http_server_reply_method_not_allowed(r, "POST");
    } else if (!strncmp(p, "/v1/sessions/", 13)) {
        route_session(r, p + 13);
    } else if (!strncmp(p, "/v1/policies/", 13)) {
        http_policies_route(r, p + 13);
    } else if (!strncmp(p, "/v1/kb/", 7)) {
        http_kb_route(r, p + 7);
    } else if (!strcmp(p, "/v1/claims/extract")) {
        if (!strcmp(r->method, "POST"))
            http_claims_extract(r);
        else
            http_server_reply_method_not_allowed(r, "POST");
    } else if (!strcmp(p, "/v1/lex") || !strcmp(p, "/v1/connect")) {
        if (strcmp(r->method, "POST") != 0)
            http_server_reply_method_not_allowed(r, "POST");
        else if (p[4] == 'l')
            http_lex_post(r);
        else
            http_connect_post(r);
    } else if (!strcmp(p, "/v1/usage")) {
        if (is_get(r))
            http_usage_get(r);
        else
            http_server_reply_method_not_allowed(r, "GET");
    } else {
        http_server_reply_error(r, API_ERR_NOT_FOUND, "no such path");
    }
}
