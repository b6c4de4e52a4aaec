/* The server context: everything one parleyd process owns, created by main.c and handed to the
 * HTTP/WebSocket layer and the caller protocols. Loop thread only. */
#ifndef PARLEY_BOT_SERVER_H
#define PARLEY_BOT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bot/config.h"
#include "bot/conn_limits.h"
#include "bot/lex_intents.h"
#include "common/buf.h"

struct sess_store;
struct http_client;
struct llm_provider;
struct aws_credentials;
struct kb_index;
struct trusted_proxies;
struct kb_sync;
struct kb_dense;
struct llm_breakers;
struct llm_routes;
struct prompt_builder;
struct turn_engine;
struct desk_fanout;
struct policy_source;
struct llm_price_table;
struct lws_context;
struct acceptor;
struct http_server_req;
struct ws_endpoint;
struct origin_list;

enum { WEBHOOK_METRIC_LEX, WEBHOOK_METRIC_CONNECT, WEBHOOK_METRICS };

/* Counters of the channels, exported on /metrics (the turn engine keeps its own). */
struct bot_metrics {
    uint64_t connections_total;
    uint64_t connections_open;
    uint64_t sessions_created;
    uint64_t messages_total; /* caller messages stored and acknowledged, any channel */
    uint64_t http_messages;  /* caller messages received over HTTP */
    uint64_t errors_sent;
    uint64_t rate_limited; /* messages, anonymous sessions and polls refused by a rate limit */
    uint64_t slow_clients_dropped;
    uint64_t hello_timeouts;          /* WebSockets closed for not completing hello in time */
    uint64_t hello_attempts_exceeded; /* WebSockets closed after --max-hello-attempts */
    uint64_t refused_per_session;     /* hellos refused by --max-connections-per-session */
    uint64_t webhook_events[WEBHOOK_METRICS]; /* answered after authentication, per endpoint */
    uint64_t webhook_held[WEBHOOK_METRICS];   /* holding messages / status=pending told */
    uint64_t webhook_refused;                 /* 401: unsigned, wrong, stale, replayed */
};

struct bot_server {
    uv_loop_t *loop;
    const struct bot_config *cfg;
    struct sess_store *store;
    struct http_client *http;
    struct llm_provider *llm;
    struct kb_index *kb;     /* the knowledge base's passages (knowledge/kb_index.h); NULL: none */
    struct kb_sync *kb_sync; /* follows the documents stored in Redis into `kb` (bot/kb_sync.h) */
    struct kb_dense *kb_dense; /* --embeddings: vectors of `kb` and questions (bot/kb_dense.h) */
    struct aws_credentials *aws_creds; /* the bedrock provider's credentials source, or NULL */
    struct llm_breakers *llm_breakers; /* circuit breakers of every provider chain */
    /* the provider chain per purpose (llm_route(routes, "summary")); chat's is `llm` */
    struct llm_routes *llm_routes;
    struct policy_source *policy; /* where policy records are read (bot/policy_setup.h) */
    struct prompt_builder *prompts;
    struct llm_price_table *prices; /* --prices, or the built-in table */
    struct turn_engine *engine;
    struct desk_fanout *desk;         /* the agent desk across instances (bot/desk_fanout.h) */
    struct desk_list *desk_list;      /* the desk's live session list (bot/desk_list.h) */
    struct web_pages *web;            /* the pages served (bot/web_pages.h) */
    struct instance_control *control; /* commands to this instance (bot/instance_control.h) */
    struct summarizer *summaries;     /* conversation summaries (bot/summary.h); NULL: off */
    struct acceptor *acceptor;        /* the listening socket (bot/acceptor.h) */
    struct lws_context *lws;
    bool lws_stopping;    /* first stage of the context's destruction done */
    char instance_id[40]; /* random per process: owner of turn locks */
    bool shutting_down;
    struct pl_buf frame;              /* chat.c builds every WebSocket frame here in turn */
    struct conn_counts session_conns; /* chat.c: caller WebSockets per session id, from hello */
    struct origin_list *origins;      /* --allowed-origins */
    struct trusted_proxies *trusted_proxies; /* --trusted-proxies; NULL: none */
    struct lex_intents lex_intents;          /* --lex-intents (POST /v1/lex) */
    /* answers a complete HTTP request (http_routes_dispatch) */
    void (*http_dispatch)(struct http_server_req *r);
    /* the WebSocket protocols served, by path (bot/conn.h) */
    const struct ws_endpoint *const *ws_endpoints;
    size_t ws_endpoint_count;
    struct bot_metrics metrics;
};

#endif
