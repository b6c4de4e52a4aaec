/* parleyd: the Parley server. Owns the one libuv loop; wires configuration, the session store
 * (Redis), the HTTP client and LLM providers, the prompt builder and the lws server onto it;
 * shuts down in order on SIGINT/SIGTERM so that every handle is closed and uv_loop_close()
 * succeeds (leak reports under sanitizers then mean something). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "bot/acceptor.h"
#include "bot/agent.h"
#include "bot/chat.h"
#include "bot/config.h"
#include "bot/desk_fanout.h"
#include "bot/desk_list.h"
#include "bot/escalation_signals.h"
#include "bot/escalation_watch.h"
#include "bot/http_routes.h"
#include "bot/instance_control.h"
#include "bot/kb_dense.h"
#include "bot/kb_setup.h"
#include "bot/kb_sync.h"
#include "bot/lex_intents.h"
#include "bot/llm_setup.h"
#include "bot/origin.h"
#include "bot/policy_setup.h"
#include "bot/prompt_reload.h"
#include "bot/server.h"
#include "bot/summary.h"
#include "bot/trusted_proxies.h"
#include "bot/turn/turn_engine.h"
#include "bot/web_pages.h"
#include "bot/ws_server.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/redact.h"
#include "connectors/aws_credentials.h"
#include "connectors/http_client.h"
#include "connectors/llm_breaker.h"
#include "connectors/llm_prices.h"
#include "connectors/llm_providers.h"
#include "connectors/llm_routes.h"
#include "connectors/policy_source.h"
#include "prompts/prompt.h"
#include "sessions/session_store.h"

#define DRAIN_MS            10000
#define GOING_AWAY_GRACE_MS 500 /* for callers to take their last frames and the close */

static uv_signal_t sig_int, sig_term;
static struct prompt_reload *prompt_reload; /* SIGHUP: reload the prompt templates */
static uv_timer_t drain_timer;
static uint64_t drain_started;

/* The engine's one turn_starting hook, for both halves of the desk that follow sessions. */
static void on_turn_starting(void *ud, const char *sid, long turn)
{
    struct bot_server *srv = ud;
    desk_fanout_turn_starting(srv->desk, sid, turn);
    desk_list_turn_starting(srv->desk_list, sid, turn);
}

static void on_redis_state(void *ud, bool up)
{
    struct bot_server *srv = ud;
    PL_LOG(up ? PL_LOG_NOTICE : PL_LOG_WARN, "redis",
           up ? "storage ready" : "storage unavailable: new messages get retryable errors");
    if (up)
        instance_control_redis_up(srv->control);
}

static int adopt_connection(void *ud, int fd, struct acceptor_conn *conn)
{
    return ws_server_adopt(ud, fd, conn);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        PL_LOG(PL_LOG_WARN, "main", "handle of type %s still open at exit; closing it",
               uv_handle_type_name(h->type));
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Shutdown, second half: once running answers have finished and been stored (or the drain
 * deadline passed and they were cancelled), release the upstream client and the store. */
static void on_drain(uv_timer_t *t)
{
    struct bot_server *srv = t->data;
    /* Callers first: each is closed with 1001 once its queued frames are out; whoever is not
     * gone after the grace period is cut off when the context goes. */
    if (!srv->lws_stopping) {
        if (srv->metrics.connections_open > 0 &&
            uv_now(srv->loop) - drain_started < GOING_AWAY_GRACE_MS)
            return;
        acceptor_stop(srv->acceptor);
        ws_server_stop(srv);
    }
    size_t busy = turn_engine_busy(srv->engine);
    bool late = uv_now(srv->loop) - drain_started >= DRAIN_MS;
    if (busy && !late)
        return;
    if (busy) {
        PL_LOG(PL_LOG_WARN, "main", "%zu answers still running after %d s; cancelling them", busy,
               DRAIN_MS / 1000);
        turn_engine_cancel_all(srv->engine); /* stored as cancelled: Redis is still there */
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    summarizer_stop(srv->summaries); /* background work: cancelled, asked again later */
    desk_fanout_destroy(srv->desk);  /* before the engine and the store it uses */
    srv->desk = NULL;
    desk_list_destroy(srv->desk_list);
    srv->desk_list = NULL;
    instance_control_stop(srv->control);
    srv->control = NULL;
    turn_engine_stop(srv->engine);
    /* The knowledge base's timers read the store: stopped before it goes (a sync pass that
     * came after it read a NULL store). */
    kb_sync_stop(srv->kb_sync);
    srv->kb_sync = NULL;
    kb_dense_stop(srv->kb_dense); /* before the HTTP client its calls use */
    srv->kb_dense = NULL;
    policy_source_stop(srv->policy);         /* before the HTTP client its reads use */
    aws_credentials_destroy(srv->aws_creds); /* before the HTTP client its fetches use */
    srv->aws_creds = NULL;
    http_client_destroy(srv->http);
    srv->http = NULL;
    sess_store_destroy(srv->store); /* flushes what is pending, then closes */
    srv->store = NULL;
}

/* Shutdown, first half: close the callers' connections (1001, going away) and then stop
 * listening; answers being streamed go on (without their callers) so that they are stored. */
static void on_signal(uv_signal_t *sig, int signum)
{
    struct bot_server *srv = sig->data;
    if (srv->shutting_down) {
        PL_LOG(PL_LOG_WARN, "main", "second signal: exiting now");
        _exit(1);
    }
    PL_LOG(PL_LOG_NOTICE, "main", "signal %d: shutting down (draining running answers)", signum);
    srv->shutting_down = true;
    turn_engine_drain(srv->engine); /* queued turns end; running answers go on and are stored */
    ws_server_close_callers(srv);
    uv_signal_stop(&sig_int);
    uv_signal_stop(&sig_term);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    prompt_reload_stop(prompt_reload);
    prompt_reload = NULL;
    drain_started = uv_now(srv->loop);
    uv_timer_init(srv->loop, &drain_timer);
    drain_timer.data = srv;
    uv_timer_start(&drain_timer, on_drain, 0, 50);
}

int main(int argc, char **argv)
{
    struct bot_config cfg;
    char err[512];
    bool help;
    int status = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("parleyd %s\n", PARLEY_VERSION);
            return 0;
        }
    }
    if (config_load(&cfg, argc, argv, &help, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        config_cleanup(&cfg);
        return 2;
    }
    if (help) {
        config_help("parleyd");
        config_cleanup(&cfg);
        return 0;
    }
    enum pl_log_level level;
    if (!pl_log_level_parse(cfg.log_level, &level)) {
        fprintf(stderr, "parleyd: --log-level must be err, warn, notice, info or debug\n");
        config_cleanup(&cfg);
        return 2;
    }
    enum pl_log_format fmt = isatty(STDERR_FILENO) ? PL_LOG_TEXT : PL_LOG_JSON;
    if (cfg.log_format && strcmp(cfg.log_format, "json") == 0)
        fmt = PL_LOG_JSON;
    else if (cfg.log_format && strcmp(cfg.log_format, "text") == 0)
        fmt = PL_LOG_TEXT;
    else if (cfg.log_format) {
        fprintf(stderr, "parleyd: --log-format must be text or json\n");
        config_cleanup(&cfg);
        return 2;
    }
    pl_log_setup(level, fmt);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct bot_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.loop = &loop;
    srv.cfg = &cfg;
    chat_frames_init(&srv.frame);
    conn_counts_init(&srv.session_conns);
    srv.http_dispatch = http_routes_dispatch;
    struct escalation_watch escalation = {.unsure_phrases = cfg.escalation_unsure_phrases};
    static const struct ws_endpoint *const ws_endpoints[] = {&chat_ws_endpoint, &agent_ws_endpoint};
    srv.ws_endpoints = ws_endpoints;
    srv.ws_endpoint_count = sizeof(ws_endpoints) / sizeof(ws_endpoints[0]);
    unsigned char raw[8];
    RAND_bytes(raw, sizeof(raw));
    snprintf(srv.instance_id, sizeof(srv.instance_id), "parleyd-%02x%02x%02x%02x%02x%02x%02x%02x",
             raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
    srand((unsigned)(raw[0] | raw[1] << 8 | raw[2] << 16));

    if (origin_list_parse(cfg.allowed_origins, &srv.origins, err, sizeof(err)) != PL_OK ||
        trusted_proxies_parse(cfg.trusted_proxies, &srv.trusted_proxies, err, sizeof(err)) !=
            PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (esc_signals_parse(cfg.escalation_signals, &escalation.signals, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    /* Read at start, even with the webhooks off: a broken file is found now, not at a call. */
    if (lex_intents_load(cfg.lex_intents, &srv.lex_intents, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (web_pages_load(cfg.web_dir, &srv.web, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (cfg.web_dir && *cfg.web_dir)
        PL_LOG(PL_LOG_NOTICE, "web", "%zu of the pages from %s, the others built in",
               web_pages_from_dir(srv.web), cfg.web_dir);
    if (cfg.jwt_secret_generated)
        PL_LOG(PL_LOG_WARN, "auth",
               "no --jwt-secret / PARLEY_JWT_SECRET: using a random secret, so tokens stop "
               "working when this process restarts and other instances reject them");
    const struct prompt_builder_opts po = {.templates_dir = cfg.prompts_dir,
                                           .assistant_name = cfg.assistant_name,
                                           .company_name = cfg.company_name,
                                           .context_tokens = cfg.context_tokens,
                                           .max_output_tokens = cfg.max_output_tokens};
    if (prompt_builder_create(&po, &srv.prompts, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (cfg.kb_dir && *cfg.kb_dir) {
        size_t docs, chunks;
        srv.kb = kb_index_new(NULL);
        if (kb_setup_load_dir(srv.kb, cfg.kb_dir, &docs, &chunks, err, sizeof(err)) != PL_OK) {
            fprintf(stderr, "parleyd: %s\n", err);
            goto out;
        }
        PL_LOG(PL_LOG_NOTICE, "kb", "knowledge base: %zu documents, %zu passages from %s", docs,
               chunks, cfg.kb_dir);
    }
    struct sess_store_opts so = {
        .redis_url = cfg.redis_url,
        .ttl_s = cfg.session_ttl_s,
        .limits =
            {
                .messages_per_minute = cfg.messages_per_minute,
                .messages_burst = cfg.messages_burst,
                .messages_per_minute_per_address = cfg.messages_per_minute_per_address,
                .anon_sessions_per_minute = cfg.anon_sessions_per_minute,
                .anon_session_ttl_s = cfg.anon_session_ttl_s,
                .max_session_messages = cfg.max_session_messages,
                .polls_per_minute = cfg.polls_per_minute,
                .polls_burst = cfg.polls_per_minute / 6 ? cfg.polls_per_minute / 6 : 1,
            },
        .connect_timeout_ms = cfg.redis_timeout_ms,
        .command_timeout_ms = cfg.redis_timeout_ms,
        .ack_replicas = cfg.ack_replicas,
        .ack_timeout_ms = cfg.redis_timeout_ms};
    if (sess_store_create(&loop, &so, on_redis_state, &srv, &srv.store, err, sizeof(err))) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (desk_fanout_create(&srv, &so, &srv.desk, err, sizeof(err)) != PL_OK ||
        desk_list_create(&srv, &so, &srv.desk_list, err, sizeof(err)) != PL_OK ||
        instance_control_start(&srv, &so, &srv.control, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    srv.kb_sync = kb_sync_start(&srv, cfg.kb_sync_ms);
    if (http_client_create(&loop, &srv.http) != PL_OK) {
        fprintf(stderr, "parleyd: cannot initialise libcurl\n");
        goto out;
    }
    if (llm_setup_build(&srv, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (policy_setup_build(&srv, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (kb_dense_start(&srv, &srv.kb_dense, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    kb_dense_changed_all(srv.kb_dense); /* the documents of --kb DIR */
    uint64_t budget_micros = 0;
    if (cfg.budget_usd_per_day && llm_usd_parse(cfg.budget_usd_per_day, &budget_micros) != PL_OK) {
        fprintf(stderr,
                "parleyd: --budget-usd-per-day: \"%s\" is not an amount of dollars such as 25 or "
                "12.50 (at most six decimals)\n",
                cfg.budget_usd_per_day);
        goto out;
    }
    if (cfg.prices_file) {
        if (llm_prices_load(cfg.prices_file, &srv.prices, err, sizeof(err)) != PL_OK) {
            fprintf(stderr, "parleyd: %s\n", err);
            goto out;
        }
    } else {
        srv.prices = llm_prices_default();
    }
    /* Reservations are priced by the primary provider's model ("kind:model"). */
    const char *primary = strchr(llm_provider_name(srv.llm), ':');
    /* The history budget follows the chat model's window; summaries use the summary route. */
    prompt_builder_fit_model(srv.prompts, primary ? primary + 1 : NULL);
    if (cfg.summary_max_tokens) {
        const struct summarizer_opts smo = {.loop = &loop,
                                            .store = srv.store,
                                            .llm = llm_route(srv.llm_routes, "summary"),
                                            .templates_dir = cfg.prompts_dir,
                                            .max_tokens = cfg.summary_max_tokens,
                                            .fold_budget_tokens =
                                                prompt_builder_history_budget(srv.prompts),
                                            .prices = srv.prices};
        if (summarizer_create(&smo, &srv.summaries, err, sizeof(err)) != PL_OK) {
            fprintf(stderr, "parleyd: %s\n", err);
            goto out;
        }
    }
    escalation.srv = &srv; /* signals 0: the watch does nothing */
    const struct turn_engine_opts eo = {.loop = &loop,
                                        .store = srv.store,
                                        .policy = srv.policy,
                                        .llm = srv.llm,
                                        .prompts = srv.prompts,
                                        .instance_id = srv.instance_id,
                                        .turn_lock_ms = cfg.turn_lock_ms,
                                        .turn_timeout_ms = cfg.turn_timeout_ms,
                                        .history_entries = cfg.history_entries,
                                        .max_queued = cfg.max_queued_messages,
                                        .kb = srv.kb,
                                        .kb_passages = cfg.kb_passages,
                                        .kb_dense = kb_dense_for_turns(srv.kb_dense),
                                        .prices = srv.prices,
                                        .reserve_model = primary ? primary + 1 : NULL,
                                        .budget_tokens = cfg.budget_tokens_per_day,
                                        .budget_micros = budget_micros,
                                        .budget_warn_percent = cfg.budget_warn_percent,
                                        .summary_due = srv.summaries ? summarizer_on_due : NULL,
                                        .summary_ud = srv.summaries,
                                        .turn_starting = on_turn_starting,
                                        .turn_starting_ud = &srv,
                                        .turn_finished = escalation_watch_turn_finished,
                                        .turn_finished_ud = &escalation};
    srv.engine = turn_engine_create(&eo);
    /* Signals before the port opens: a client (or a supervisor) that sees the port may stop
     * the server at once, and SIGTERM must then drain rather than kill. The handler runs only
     * from uv_run, when everything below has started. */
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    sig_int.data = sig_term.data = &srv;
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    if (prompt_reload_start(&loop, srv.prompts, cfg.prompts_dir, &prompt_reload) != PL_OK) {
        fprintf(stderr, "parleyd: cannot handle SIGHUP\n");
        goto out;
    }
    if (srv.summaries) {
        const struct prompt_reload_part part = summarizer_reload_part(srv.summaries);
        prompt_reload_add(prompt_reload, &part);
    }
    /* The acceptor first: it raises the descriptor limit, from which lws sizes its tables. */
    const struct acceptor_opts ao = {.loop = &loop,
                                     .listen = cfg.listen,
                                     .max_connections = cfg.max_connections,
                                     .max_per_address = cfg.max_connections_per_address,
                                     .trusted_proxies = srv.trusted_proxies,
                                     .adopt = adopt_connection,
                                     .ud = &srv};
    if (acceptor_start(&ao, &srv.acceptor, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    if (ws_server_start(&srv, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "parleyd: %s\n", err);
        goto out;
    }
    char redis_shown[512];
    PL_LOG(PL_LOG_NOTICE, "main",
           "parleyd %s listening on %s (provider %s, redis %s, anonymous callers %s)",
           PARLEY_VERSION, cfg.listen, llm_provider_name(srv.llm),
           pl_redact_url(cfg.redis_url, redis_shown, sizeof(redis_shown)),
           cfg.allow_anonymous ? "allowed" : "not allowed");
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;
out:
    /* Whatever is still open (start-up failures land here too) is closed, then the loop runs
     * until every close callback has run. */
    acceptor_stop(srv.acceptor);
    prompt_reload_stop(prompt_reload);
    prompt_reload = NULL;
    ws_server_stop(&srv);
    summarizer_stop(srv.summaries);
    desk_fanout_destroy(srv.desk);
    srv.desk = NULL;
    desk_list_destroy(srv.desk_list);
    srv.desk_list = NULL;
    instance_control_stop(srv.control);
    srv.control = NULL;
    turn_engine_stop(srv.engine);
    policy_source_stop(srv.policy);
    kb_sync_stop(srv.kb_sync);
    srv.kb_sync = NULL;
    kb_dense_stop(srv.kb_dense); /* before the HTTP client its calls use */
    srv.kb_dense = NULL;
    aws_credentials_destroy(srv.aws_creds);
    srv.aws_creds = NULL;
    http_client_destroy(srv.http);
    sess_store_destroy(srv.store);
    /* Every handle is closing now: run until their close callbacks are done, then free the
     * lws context (its second stage needs its handles closed). */
    uv_run(&loop, UV_RUN_DEFAULT);
    ws_server_free(&srv);
    acceptor_free(srv.acceptor); /* after lws: its connections are released as lws frees them */
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        PL_LOG(PL_LOG_ERR, "main", "the event loop still had open handles at exit");
        status = 1;
    }
    turn_engine_free(srv.engine);
    policy_source_free(srv.policy);
    summarizer_free(srv.summaries);
    llm_routes_destroy(srv.llm_routes);
    llm_provider_destroy(srv.llm);
    llm_breakers_destroy(srv.llm_breakers);
    prompt_builder_free(srv.prompts);
    kb_index_free(srv.kb);
    llm_prices_free(srv.prices);
    pl_buf_cleanup(&srv.frame);
    conn_counts_cleanup(&srv.session_conns);
    origin_list_free(srv.origins);
    trusted_proxies_free(srv.trusted_proxies);
    web_pages_free(srv.web);
    lex_intents_cleanup(&srv.lex_intents);
    curl_global_cleanup();
    config_cleanup(&cfg);
    return status;
}
