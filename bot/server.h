/* The server context: everything one parleyd process owns, created by main.c and handed to the
 * HTTP/WebSocket layer, the caller protocol and the turn engine. Loop thread only. */
#ifndef PARLEY_BOT_SERVER_H
#define PARLEY_BOT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bot/config.h"
#include "common/buf.h"
#include "common/map.h"

struct sess_store;
struct http_client;
struct llm_provider;
struct prompt_builder;
struct lws_context;

/* Counters exported on /metrics. */
struct bot_metrics {
    uint64_t connections_total;
    uint64_t connections_open;
    uint64_t sessions_created;
    uint64_t messages_total;
    uint64_t turns_started;
    uint64_t turns_completed;
    uint64_t turns_failed;
    uint64_t deltas_sent;
    uint64_t errors_sent;
    uint64_t slow_clients_dropped;
    uint64_t stores_retried;
};

struct bot_server {
    uv_loop_t *loop;
    const struct bot_config *cfg;
    struct sess_store *store;
    struct http_client *http;
    struct llm_provider *llm;
    struct prompt_builder *prompts;
    struct lws_context *lws;
    bool lws_stopping;      /* first stage of the context's destruction done */
    struct pl_map sessions; /* sid -> struct bot_session *, live on this instance */
    char instance_id[40];   /* random per process: owner of turn locks */
    bool shutting_down;
    uv_timer_t lease_timer;       /* renews the turn locks of running turns (turn.c) */
    struct pl_buf delta_frame;    /* every delta frame is built here in turn (turn.c) */
    uv_check_t start_check;       /* starts begun turns once a loop pass's acks are out (turn.c) */
    struct bot_session *starting; /* sessions whose begun turn waits for start_check */
    bool turn_engine_open;
    struct bot_metrics metrics;
};

#endif
