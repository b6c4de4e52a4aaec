/* parleyd configuration: one table of options (config.c) gives each its flag, environment
 * variable, JSON config-file key, default, bounds and help line. Precedence: flag >
 * environment > config file (--config) > default. After loading, the struct is read-only. */
#ifndef PARLEY_BOT_CONFIG_H
#define PARLEY_BOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bot_config {
    char *config_file;
    char *listen;
    uint32_t max_connections;             /* 0: derived from RLIMIT_NOFILE (bot/conn_limits.h) */
    uint32_t max_connections_per_address; /* 0: no limit */
    uint32_t max_connections_per_session; /* caller WebSockets per session; 0: no limit */
    uint32_t hello_timeout_ms;
    uint32_t max_hello_attempts; /* failed hellos per WebSocket before it is closed */
    char *escalation_phrases;    /* comma list (bot/escalation.h) */
    char *escalation_signals;    /* comma list (bot/escalation_signals.h) */
    char *escalation_unsure_phrases;
    uint32_t agent_max_watches; /* sessions one agent WebSocket watches at once */
    char *redis_url;
    char *provider; /* auto, anthropic, bedrock, openai, local */
    char *model;
    char *fallback;
    char *routes;            /* purpose=provider:model,... (connectors/llm_routes.h) */
    char *anthropic_api_key; /* environment only: never a flag, never logged */
    char *anthropic_base_url;
    char *anthropic_version;
    char *bedrock_api; /* converse, invoke, messages */
    char *bedrock_endpoint;
    char *bedrock_guardrail; /* ID:VERSION */
    char *aws_region;
    char *bedrock_api_key; /* AWS_BEARER_TOKEN_BEDROCK: environment only, never logged */
    char *openai_base_url;
    char *openai_api_key; /* environment only: never logged */
    char *kb_dir;         /* knowledge-base documents read at start (docs/knowledge.md) */
    uint32_t kb_passages; /* passages placed in each prompt */
    char *embeddings;     /* bedrock:MODEL or openai:MODEL: dense retrieval (docs/knowledge.md) */
    uint32_t embeddings_dimensions;
    char *embeddings_base_url;
    uint32_t embeddings_timeout_ms; /* a question's embedding; then BM25 alone */
    char *prompts_dir;
    char *web_dir; /* --web: pages that replace the built-in ones (bot/web_pages.h) */
    char *jwt_secret;
    bool jwt_secret_generated; /* no secret configured: a random one was made */
    bool allow_anonymous;
    char *log_format;
    char *log_level;
    char *company_name;
    char *assistant_name;
    uint32_t max_frame_bytes;
    uint32_t max_message_chars;
    uint32_t max_queued_messages;
    uint32_t send_queue_bytes;
    uint32_t max_output_tokens;
    uint32_t context_tokens;
    uint32_t history_entries;
    uint32_t summary_max_tokens; /* 0: no conversation summaries */
    uint32_t session_ttl_s;
    uint32_t token_ttl_s;
    uint32_t max_token_ttl_s;
    uint32_t turn_timeout_ms;
    uint32_t turn_lock_ms;
    uint32_t upstream_idle_timeout_ms;
    uint32_t upstream_connect_timeout_ms;
    uint32_t first_token_deadline_ms;
    uint32_t upstream_retries;
    uint32_t breaker_failures; /* 0: circuit breakers off */
    uint32_t breaker_cooldown_ms;
    uint32_t redis_timeout_ms;
    uint32_t kb_sync_ms; /* how often the stored documents' version is read (0: at start only) */
    uint32_t ack_replicas;
    /* policy records (docs/security.md "Policy records from DynamoDB") */
    char *policy_source; /* redis, dynamodb:TABLE */
    char *policy_key_attribute;
    char *dynamodb_endpoint;
    uint32_t policy_cache_ttl_ms; /* 0: no cache */
    uint32_t policy_cache_entries;
    uint32_t local_pace_ms;
    uint32_t ping_interval_s;
    char *allowed_origins;
    char *trusted_proxies; /* NULL: none */
    uint32_t max_header_bytes;
    uint32_t request_timeout_ms;
    uint32_t max_control_frames;
    uint32_t messages_per_minute; /* rate limits: 0 turns one off */
    uint32_t messages_burst;
    uint32_t messages_per_minute_per_address;
    uint32_t anon_sessions_per_minute;
    uint32_t anon_session_ttl_s;
    uint32_t max_session_messages;
    uint32_t polls_per_minute;
    /* cost (docs/cost.md) */
    bool prompt_cache;
    char *tenant_claim;             /* NULL: a token's sub names its tenant */
    char *prices_file;              /* NULL: the built-in price table */
    uint32_t budget_tokens_per_day; /* per tenant; 0: no token budget */
    char *budget_usd_per_day;       /* per tenant, decimal dollars; NULL: no cost budget */
    uint32_t budget_warn_percent;
    /* Lex and Connect webhooks (docs/lex-connect.md) */
    char *webhook_secret;          /* NULL or "": the webhooks are off; never logged */
    char *webhook_previous_secret; /* also accepted while the secret is rotated; NULL: none */
    char *webhook_session_key;     /* names webhook sessions; NULL: the webhook secret */
    char *lex_intents;             /* the intents file; NULL: every intent is answered */
    char *lex_voice_output;        /* ssml, text */
    uint32_t lex_time_budget_ms;
    char *lex_holding_message;
    uint32_t connect_time_budget_ms;
    char *connect_policy_attribute;
};

/** Load from defaults, the config file, the environment, then argv. On error (unknown flag, bad
 *  value, unreadable file) returns PL_EINVAL with a message naming the option in `err`.
 *  `*help` is set when --help was given (the caller prints config_help and exits). */
int config_load(struct bot_config *cfg, int argc, char **argv, bool *help, char *err,
                size_t errlen);
/** Free every string. Accepts NULL. */
void config_cleanup(struct bot_config *cfg);
/** Print the --help text (every option, its environment variable and default). */
void config_help(const char *prog);

#endif
