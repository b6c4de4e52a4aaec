/* The option table and its loader; see config.h. Adding an option is one table row plus a
 * field in struct bot_config; --help and docs/configuration.md list the rows. */
#include "bot/config.h"

#include "bot/escalation.h"
#include "bot/escalation_signals.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bot/auth_secret.h"
#include "common/alloc.h"
#include "common/err.h"

enum opt_type { OPT_STR, OPT_BOOL, OPT_U32 };

struct opt {
    const char *flag; /* without "--"; NULL: environment only (secrets) */
    const char *env;
    const char *key; /* config-file key; NULL: not settable from the file */
    enum opt_type type;
    size_t offset;
    const char *def; /* NULL: unset */
    uint32_t min, max;
    const char *help;
};

#define F(field) offsetof(struct bot_config, field)

static const struct opt opts[] = {
    {"config", "PARLEY_CONFIG", NULL, OPT_STR, F(config_file), NULL, 0, 0,
     "JSON file with options (keys as listed in docs/configuration.md)"},
    {"listen", "PARLEY_LISTEN", "listen", OPT_STR, F(listen), "127.0.0.1:8080", 0, 0,
     "HTTP + WebSocket address, HOST:PORT ([v6]:PORT for IPv6) or unix:/path"},
    {"max-connections", "PARLEY_MAX_CONNECTIONS", "max_connections", OPT_U32, F(max_connections),
     "0", 0, 100000000,
     "connections served at once (0: half of what the descriptor limit leaves; more than the "
     "limit allows is lowered with a warning)"},
    {"max-connections-per-address", "PARLEY_MAX_CONNECTIONS_PER_ADDRESS",
     "max_connections_per_address", OPT_U32, F(max_connections_per_address), "64", 0, 100000000,
     "connections one client address (IPv6: its /64) may hold open (0: no limit; a "
     "--trusted-proxies connection is not counted)"},
    {"max-connections-per-session", "PARLEY_MAX_CONNECTIONS_PER_SESSION",
     "max_connections_per_session", OPT_U32, F(max_connections_per_session), "8", 0, 100000,
     "caller WebSockets one session may have open on this instance (0: no limit); one more gets "
     "busy at hello and is closed"},
    {"hello-timeout-ms", "PARLEY_HELLO_TIMEOUT_MS", "hello_timeout_ms", OPT_U32,
     F(hello_timeout_ms), "10000", 100, 3600000,
     "a WebSocket that has not completed hello by then is closed (1008)"},
    {"max-hello-attempts", "PARLEY_MAX_HELLO_ATTEMPTS", "max_hello_attempts", OPT_U32,
     F(max_hello_attempts), "5", 1, 1000, "failed hellos after which a WebSocket is closed (1008)"},
    {"agent-max-watches", "PARLEY_AGENT_MAX_WATCHES", "agent_max_watches", OPT_U32,
     F(agent_max_watches), "50", 1, 10000,
     "sessions one agent WebSocket (/v1/agent) may watch at once; one more is refused (busy)"},
    {"escalation-phrases", "PARLEY_ESCALATION_PHRASES", "escalation_phrases", OPT_STR,
     F(escalation_phrases), ESCALATION_PHRASES_DEFAULT, 0, 0,
     "comma list: a caller message containing one (case-insensitive) puts its session in "
     "waiting_agent for the agent desk; empty: none"},
    {"escalation-signals", "PARLEY_ESCALATION_SIGNALS", "escalation_signals", OPT_STR,
     F(escalation_signals), ESC_SIGNALS_DEFAULT, 0, 0,
     "comma list of what else puts a session in waiting_agent: unsure (the bot said it does not "
     "know twice), no_passages (no knowledge passage matched two questions in a row), "
     "unavailable (a turn failed with every provider down), repeat (the caller asked their "
     "previous question again); none: off"},
    {"escalation-unsure-phrases", "PARLEY_ESCALATION_UNSURE_PHRASES", "escalation_unsure_phrases",
     OPT_STR, F(escalation_unsure_phrases), ESC_UNSURE_PHRASES_DEFAULT, 0, 0,
     "comma list: an answer containing one (case-insensitive) says the bot does not know, for "
     "the unsure signal"},
    {"redis", "PARLEY_REDIS_URL", "redis", OPT_STR, F(redis_url), "redis://127.0.0.1:6379/0", 0, 0,
     "Redis URL, redis://[user:pass@]host:port/db or unix:///path"},
    {"provider", "PARLEY_PROVIDER", "provider", OPT_STR, F(provider), "auto", 0, 0,
     "anthropic, bedrock, openai (an OpenAI-compatible server: needs --openai-base-url and "
     "--model), local or auto (anthropic if ANTHROPIC_API_KEY is set, else bedrock if AWS "
     "credentials are, else local)"},
    {"model", "PARLEY_MODEL", "model", OPT_STR, F(model), NULL, 0, 0,
     "model id (default: the provider's default Claude model; required for openai)"},
    {"fallback", "PARLEY_FALLBACK", "fallback", OPT_STR, F(fallback), NULL, 0, 0,
     "comma list of provider:model tried in order when the primary fails before its first "
     "token"},
    {"routes", "PARLEY_ROUTES", "routes", OPT_STR, F(routes), NULL, 0, 0,
     "comma list of purpose=provider:model giving summary and extract their own model, such as "
     "summary=openai:llama3.1 (chat is --provider/--model; unrouted purposes use chat's)"},
    {NULL, "ANTHROPIC_API_KEY", NULL, OPT_STR, F(anthropic_api_key), NULL, 0, 0,
     "Anthropic API key (environment only)"},
    {NULL, "ANTHROPIC_BASE_URL", "anthropic_base_url", OPT_STR, F(anthropic_base_url),
     "https://api.anthropic.com", 0, 0, "Anthropic API base URL"},
    {"anthropic-version", "PARLEY_ANTHROPIC_VERSION", "anthropic_version", OPT_STR,
     F(anthropic_version), "2023-06-01", 0, 0, "anthropic-version header sent upstream"},
    {"bedrock-api", "PARLEY_BEDROCK_API", "bedrock_api", OPT_STR, F(bedrock_api), "converse", 0, 0,
     "Bedrock API: converse (ConverseStream, any Bedrock text model), invoke "
     "(InvokeModelWithResponseStream, Anthropic models) or messages (Anthropic Messages endpoint)"},
    {"bedrock-endpoint", "PARLEY_BEDROCK_ENDPOINT", "bedrock_endpoint", OPT_STR,
     F(bedrock_endpoint), NULL, 0, 0,
     "Bedrock runtime URL (default https://bedrock-runtime.REGION.amazonaws.com)"},
    {"bedrock-guardrail", "PARLEY_BEDROCK_GUARDRAIL", "bedrock_guardrail", OPT_STR,
     F(bedrock_guardrail), NULL, 0, 0,
     "ID:VERSION of a Bedrock guardrail applied to every request (an intervention ends the turn "
     "with stop reason refusal)"},
    {"aws-region", "AWS_REGION", "aws_region", OPT_STR, F(aws_region), NULL, 0, 0,
     "AWS region of Bedrock, DynamoDB and the embeddings model (default: AWS_DEFAULT_REGION, "
     "then the profile's region)"},
    {NULL, "AWS_BEARER_TOKEN_BEDROCK", NULL, OPT_STR, F(bedrock_api_key), NULL, 0, 0,
     "Bedrock API key, sent as a bearer token instead of SigV4 (environment only)"},
    {"openai-base-url", "PARLEY_OPENAI_BASE_URL", "openai_base_url", OPT_STR, F(openai_base_url),
     NULL, 0, 0,
     "base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama), such as "
     "http://127.0.0.1:8000/v1"},
    {NULL, "OPENAI_API_KEY", NULL, OPT_STR, F(openai_api_key), NULL, 0, 0,
     "key for the OpenAI-compatible server (environment only)"},
    {"kb", "PARLEY_KB_DIR", "kb", OPT_STR, F(kb_dir), NULL, 0, 0,
     "folder of knowledge-base documents (.md, .txt, .html) read at start"},
    {"kb-sync-ms", "PARLEY_KB_SYNC_MS", "kb_sync_ms", OPT_U32, F(kb_sync_ms), "1000", 0, 3600000,
     "how often the knowledge-base documents stored in Redis are checked for changes (0: read at "
     "start only)"},
    {"kb-passages", "PARLEY_KB_PASSAGES", "kb_passages", OPT_U32, F(kb_passages), "4", 0, 16,
     "knowledge-base passages placed in each prompt, found with the caller's latest message "
     "(0: none)"},
    {"embeddings", "PARLEY_EMBEDDINGS", "embeddings", OPT_STR, F(embeddings), NULL, 0, 0,
     "bedrock:MODEL or openai:MODEL: embed knowledge passages and questions for dense retrieval "
     "fused with BM25 (default: off, BM25 only)"},
    {"embeddings-dimensions", "PARLEY_EMBEDDINGS_DIMENSIONS", "embeddings_dimensions", OPT_U32,
     F(embeddings_dimensions), "0", 0, 8192,
     "vector length: 256, 512 or 1024 for Titan (0: 512); for openai sent as dimensions (0: the "
     "model's own)"},
    {"embeddings-base-url", "PARLEY_EMBEDDINGS_BASE_URL", "embeddings_base_url", OPT_STR,
     F(embeddings_base_url), NULL, 0, 0,
     "base URL of the OpenAI-compatible embeddings server (default: --openai-base-url); for "
     "bedrock the runtime URL (default: --bedrock-endpoint)"},
    {"embeddings-timeout-ms", "PARLEY_EMBEDDINGS_TIMEOUT_MS", "embeddings_timeout_ms", OPT_U32,
     F(embeddings_timeout_ms), "1500", 50, 60000,
     "deadline of a question's embedding; past it (or on an error) the turn uses BM25 alone"},
    {"web", "PARLEY_WEB_DIR", "web", OPT_STR, F(web_dir), NULL, 0, 0,
     "folder whose index.html, widget.js, agent.html and agent.js replace the built-in pages (a "
     "missing one: the built-in one); read at start. See docs/widget.md"},
    {"prompts", "PARLEY_PROMPTS_DIR", "prompts", OPT_STR, F(prompts_dir), NULL, 0, 0,
     "folder with the prompt templates web.txt and voice.txt (a missing one: the built-in one); "
     "SIGHUP reloads them. See the Prompts section"},
    {"jwt-secret", "PARLEY_JWT_SECRET", "jwt_secret", OPT_STR, F(jwt_secret), NULL, 0, 0,
     "HS256 secret for tokens, 32 bytes or more (default: random per start, tokens die with the "
     "process)"},
    {"allow-anonymous", "PARLEY_ALLOW_ANONYMOUS", "allow_anonymous", OPT_BOOL, F(allow_anonymous),
     "false", 0, 0, "web callers may open a session without a token"},
    {"log-format", "PARLEY_LOG_FORMAT", "log_format", OPT_STR, F(log_format), NULL, 0, 0,
     "text or json (default: text on a terminal, else json)"},
    {"log-level", "PARLEY_LOG_LEVEL", "log_level", OPT_STR, F(log_level), "info", 0, 0,
     "err, warn, notice, info or debug"},
    {"company-name", "PARLEY_COMPANY_NAME", "company_name", OPT_STR, F(company_name),
     "Parley Insurance", 0, 0, "company named in the system prompt"},
    {"assistant-name", "PARLEY_ASSISTANT_NAME", "assistant_name", OPT_STR, F(assistant_name),
     "Parley", 0, 0, "assistant name used in the system prompt"},
    {"max-frame-bytes", "PARLEY_MAX_FRAME_BYTES", "max_frame_bytes", OPT_U32, F(max_frame_bytes),
     "65536", 256, 16777216, "largest WebSocket message accepted (too_large beyond)"},
    {"max-message-chars", "PARLEY_MAX_MESSAGE_CHARS", "max_message_chars", OPT_U32,
     F(max_message_chars), "4000", 1, 1000000, "longest caller message, in characters"},
    {"max-queued-messages", "PARLEY_MAX_QUEUED_MESSAGES", "max_queued_messages", OPT_U32,
     F(max_queued_messages), "8", 1, 1000,
     "caller messages waiting for an answer per session (busy beyond)"},
    {"send-queue-bytes", "PARLEY_SEND_QUEUE_BYTES", "send_queue_bytes", OPT_U32,
     F(send_queue_bytes), "1048576", 4096, 268435456,
     "bytes queued to one slow client before it is disconnected"},
    {"max-output-tokens", "PARLEY_MAX_OUTPUT_TOKENS", "max_output_tokens", OPT_U32,
     F(max_output_tokens), "1024", 1, 128000, "max_tokens asked of the model per answer"},
    {"context-tokens", "PARLEY_CONTEXT_TOKENS", "context_tokens", OPT_U32, F(context_tokens),
     "16000", 256, 1000000,
     "prompt budget, capped by the model's window; the oldest history is trimmed to fit"},
    {"history-entries", "PARLEY_HISTORY_ENTRIES", "history_entries", OPT_U32, F(history_entries),
     "50", 1, 10000, "transcript entries read for history and prompts"},
    {"summary-max-tokens", "PARLEY_SUMMARY_MAX_TOKENS", "summary_max_tokens", OPT_U32,
     F(summary_max_tokens), "600", 0, 8192,
     "max_tokens of a conversation summary request; 0 turns summaries off"},
    {"session-ttl", "PARLEY_SESSION_TTL", "session_ttl", OPT_U32, F(session_ttl_s), "604800", 60,
     315360000, "seconds a session is kept after its last activity"},
    {"token-ttl", "PARLEY_TOKEN_TTL", "token_ttl", OPT_U32, F(token_ttl_s), "86400", 60, 31536000,
     "lifetime in seconds of caller tokens issued by the server"},
    {"max-token-ttl", "PARLEY_MAX_TOKEN_TTL", "max_token_ttl", OPT_U32, F(max_token_ttl_s), "86400",
     60, 315360000,
     "tokens whose exp lies further ahead than this many seconds are refused (unauthorized)"},
    {"turn-timeout-ms", "PARLEY_TURN_TIMEOUT_MS", "turn_timeout_ms", OPT_U32, F(turn_timeout_ms),
     "120000", 1000, 3600000, "deadline for one whole answer"},
    {"turn-lock-ms", "PARLEY_TURN_LOCK_MS", "turn_lock_ms", OPT_U32, F(turn_lock_ms), "15000", 1000,
     600000,
     "lease of a session's answer lock, renewed while answering: a crashed instance delays "
     "its sessions' answers this long at most"},
    {"upstream-idle-timeout-ms", "PARLEY_UPSTREAM_IDLE_TIMEOUT_MS", "upstream_idle_timeout_ms",
     OPT_U32, F(upstream_idle_timeout_ms), "30000", 100, 600000,
     "longest silence from the model before the answer ends with stop_reason timeout"},
    {"upstream-connect-timeout-ms", "PARLEY_UPSTREAM_CONNECT_TIMEOUT_MS",
     "upstream_connect_timeout_ms", OPT_U32, F(upstream_connect_timeout_ms), "5000", 100, 60000,
     "connect timeout for model APIs"},
    {"first-token-deadline-ms", "PARLEY_FIRST_TOKEN_DEADLINE_MS", "first_token_deadline_ms",
     OPT_U32, F(first_token_deadline_ms), "20000", 100, 600000,
     "retries and fallbacks before the first token stop after this long"},
    {"upstream-retries", "PARLEY_UPSTREAM_RETRIES", "upstream_retries", OPT_U32,
     F(upstream_retries), "2", 0, 10, "retries per provider for retryable failures"},
    {"breaker-failures", "PARLEY_BREAKER_FAILURES", "breaker_failures", OPT_U32,
     F(breaker_failures), "5", 0, 1000,
     "failures in a row (unavailable, overloaded, rate-limited, timed out, cut) that open a "
     "provider's circuit breaker: turns then go straight to the fallback (0: no breakers)"},
    {"breaker-cooldown-ms", "PARLEY_BREAKER_COOLDOWN_MS", "breaker_cooldown_ms", OPT_U32,
     F(breaker_cooldown_ms), "30000", 100, 3600000,
     "time an open circuit breaker skips its provider before one probe request decides"},
    {"redis-timeout-ms", "PARLEY_REDIS_TIMEOUT_MS", "redis_timeout_ms", OPT_U32,
     F(redis_timeout_ms), "3000", 50, 60000, "Redis connect and command timeout"},
    {"ack-replicas", "PARLEY_ACK_REPLICAS", "ack_replicas", OPT_U32, F(ack_replicas), "0", 0, 16,
     "acknowledge a caller message only after this many Redis replicas have it (WAIT, up to "
     "--redis-timeout-ms; fewer: upstream_unavailable, resend with the same id)"},
    {"policy-source", "PARLEY_POLICY_SOURCE", "policy_source", OPT_STR, F(policy_source), "redis",
     0, 0,
     "where policy records are read: redis (stored with PUT /v1/policies) or dynamodb:TABLE "
     "(GetItem on that DynamoDB table, or table ARN; read-only here)"},
    {"policy-key-attribute", "PARLEY_POLICY_KEY_ATTRIBUTE", "policy_key_attribute", OPT_STR,
     F(policy_key_attribute), "policy_number", 0, 0,
     "the DynamoDB table's partition key (a string attribute) holding the policy number"},
    {"dynamodb-endpoint", "PARLEY_DYNAMODB_ENDPOINT", "dynamodb_endpoint", OPT_STR,
     F(dynamodb_endpoint), NULL, 0, 0,
     "DynamoDB URL (default https://dynamodb.REGION.amazonaws.com; a VPC endpoint, DynamoDB "
     "Local or a test double)"},
    {"policy-cache-ttl-ms", "PARLEY_POLICY_CACHE_TTL_MS", "policy_cache_ttl_ms", OPT_U32,
     F(policy_cache_ttl_ms), "60000", 0, 86400000,
     "how long a policy record read from DynamoDB is kept in memory (0: read on every turn); a "
     "missing record is kept at most 5 s"},
    {"policy-cache-entries", "PARLEY_POLICY_CACHE_ENTRIES", "policy_cache_entries", OPT_U32,
     F(policy_cache_entries), "10000", 1, 10000000,
     "policy records kept in memory at most (the least recently used goes first)"},
    {"local-pace-ms", "PARLEY_LOCAL_PACE_MS", "local_pace_ms", OPT_U32, F(local_pace_ms), "40", 0,
     5000, "delay between words of the offline provider"},
    {"ping-interval", "PARLEY_PING_INTERVAL", "ping_interval", OPT_U32, F(ping_interval_s), "30", 5,
     3600, "seconds of WebSocket silence before a ping; no answer for as long again closes"},
    {"allowed-origins", "PARLEY_ALLOWED_ORIGINS", "allowed_origins", OPT_STR, F(allowed_origins),
     NULL, 0, 0,
     "comma list of other browser origins (https://shop.example) allowed on the WebSocket and "
     "for CORS, or * for any; the server's own origin is always allowed"},
    {"trusted-proxies", "PARLEY_TRUSTED_PROXIES", "trusted_proxies", OPT_STR, F(trusted_proxies),
     NULL, 0, 0,
     "comma list of load-balancer or proxy addresses and CIDR ranges (10.0.0.0/8) whose "
     "X-Forwarded-For is believed: per-address limits then count the client it names"},
    {"max-header-bytes", "PARLEY_MAX_HEADER_BYTES", "max_header_bytes", OPT_U32,
     F(max_header_bytes), "16384", 8192, 1048576,
     "largest HTTP request head (request line and headers); 431 beyond"},
    {"request-timeout-ms", "PARLEY_REQUEST_TIMEOUT_MS", "request_timeout_ms", OPT_U32,
     F(request_timeout_ms), "20000", 1000, 600000,
     "time to send an HTTP request's head and body (408 beyond); an idle keep-alive connection "
     "closes after as long"},
    {"max-control-frames", "PARLEY_MAX_CONTROL_FRAMES", "max_control_frames", OPT_U32,
     F(max_control_frames), "20", 0, 100000,
     "pings and pongs a WebSocket client may send per 10 s (0: no limit); more closes with 1008"},
    {"messages-per-minute", "PARLEY_MESSAGES_PER_MINUTE", "messages_per_minute", OPT_U32,
     F(messages_per_minute), "20", 0, 60000,
     "caller messages (cancels count) one session may send per minute, after a burst of "
     "--messages-burst (0: no limit); beyond it rate_limited"},
    {"messages-burst", "PARLEY_MESSAGES_BURST", "messages_burst", OPT_U32, F(messages_burst), "10",
     1, 60000, "caller messages one session may send at once before --messages-per-minute applies"},
    {"messages-per-minute-per-address", "PARLEY_MESSAGES_PER_MINUTE_PER_ADDRESS",
     "messages_per_minute_per_address", OPT_U32, F(messages_per_minute_per_address), "600", 0,
     1000000,
     "caller messages (cancels count) all sessions of one client address may send per minute "
     "(0: no limit); beyond it rate_limited"},
    {"anon-sessions-per-minute", "PARLEY_ANON_SESSIONS_PER_MINUTE", "anon_sessions_per_minute",
     OPT_U32, F(anon_sessions_per_minute), "30", 0, 60000,
     "anonymous sessions one client address may open per minute (0: no limit); beyond it "
     "rate_limited"},
    {"anon-session-ttl", "PARLEY_ANON_SESSION_TTL", "anon_session_ttl", OPT_U32,
     F(anon_session_ttl_s), "900", 60, 315360000,
     "seconds an anonymous session is kept until its first message (then --session-ttl)"},
    {"polls-per-minute", "PARLEY_POLLS_PER_MINUTE", "polls_per_minute", OPT_U32,
     F(polls_per_minute), "120", 0, 60000,
     "polls of one session's turns that must read Redis, per minute, after a burst of a sixth of "
     "it (0: no limit); beyond it rate_limited"},
    {"max-session-messages", "PARLEY_MAX_SESSION_MESSAGES", "max_session_messages", OPT_U32,
     F(max_session_messages), "1000", 1, 1000000,
     "caller messages one session may hold; beyond it session_full (start a new session)"},
    {"prompt-cache", "PARLEY_PROMPT_CACHE", "prompt_cache", OPT_BOOL, F(prompt_cache), "true", 0, 0,
     "mark the system prompt cacheable (Anthropic cache_control), so later turns read it from "
     "the cache at a tenth of the input price"},
    {"tenant-claim", "PARLEY_TENANT_CLAIM", "tenant_claim", OPT_STR, F(tenant_claim), NULL, 0, 0,
     "token claim naming the tenant a session's usage is counted to (default: sub); read from "
     "the token that creates the session"},
    {"prices", "PARLEY_PRICES", "prices", OPT_STR, F(prices_file), NULL, 0, 0,
     "JSON price table, model id -> {input, output, cache_read, cache_write} in USD per million "
     "tokens (default: the built-in table of docs/cost.md)"},
    {"budget-tokens-per-day", "PARLEY_BUDGET_TOKENS_PER_DAY", "budget_tokens_per_day", OPT_U32,
     F(budget_tokens_per_day), "0", 0, 4000000000u,
     "tokens (all kinds) one tenant may use per UTC day, across instances (0: no limit); "
     "beyond it turns end rate_limited"},
    {"budget-usd-per-day", "PARLEY_BUDGET_USD_PER_DAY", "budget_usd_per_day", OPT_STR,
     F(budget_usd_per_day), NULL, 0, 0,
     "cost in USD (such as 25.50) one tenant may spend per UTC day, priced by --prices, across "
     "instances (default: no limit)"},
    {"budget-warn-percent", "PARLEY_BUDGET_WARN_PERCENT", "budget_warn_percent", OPT_U32,
     F(budget_warn_percent), "80", 1, 100,
     "share of a daily budget at which a warning is logged (once per tenant and day) and counted"},
    /* Amazon Lex and Connect webhooks (docs/lex-connect.md) */
    {"webhook-secret", "PARLEY_WEBHOOK_SECRET", "webhook_secret", OPT_STR, F(webhook_secret), NULL,
     0, 0,
     "HMAC secret of the signed webhooks POST /v1/lex and /v1/connect, 32 bytes or more (none: "
     "both are off)"},
    {"webhook-previous-secret", "PARLEY_WEBHOOK_PREVIOUS_SECRET", "webhook_previous_secret",
     OPT_STR, F(webhook_previous_secret), NULL, 0, 0,
     "while rotating the webhook secret: signatures made with this former secret are accepted "
     "too (drop it once every sender signs with --webhook-secret)"},
    {"webhook-session-key", "PARLEY_WEBHOOK_SESSION_KEY", "webhook_session_key", OPT_STR,
     F(webhook_session_key), NULL, 0, 0,
     "HMAC key that names a Lex or Connect conversation's session, 32 bytes or more (default: "
     "--webhook-secret); set it to keep sessions through a rotation of the secret"},
    {"lex-intents", "PARLEY_LEX_INTENTS", "lex_intents", OPT_STR, F(lex_intents), NULL, 0, 0,
     "JSON file mapping Lex intents to answer, verify_policy, escalate or delegate (none: every "
     "intent is answered; see data/lex-intents.json)"},
    {"lex-voice-output", "PARLEY_LEX_VOICE_OUTPUT", "lex_voice_output", OPT_STR,
     F(lex_voice_output), "ssml", 0, 0,
     "how a spoken Lex conversation's answers are sent: ssml or text"},
    {"lex-time-budget-ms", "PARLEY_LEX_TIME_BUDGET_MS", "lex_time_budget_ms", OPT_U32,
     F(lex_time_budget_ms), "3000", 100, 60000,
     "how long a Lex event waits for its answer before the holding message is sent (the answer "
     "comes with the next event)"},
    {"lex-holding-message", "PARLEY_LEX_HOLDING_MESSAGE", "lex_holding_message", OPT_STR,
     F(lex_holding_message), "One moment please, I am still looking into that.", 0, 0,
     "what Lex is told when the answer is not ready within --lex-time-budget-ms"},
    {"connect-time-budget-ms", "PARLEY_CONNECT_TIME_BUDGET_MS", "connect_time_budget_ms", OPT_U32,
     F(connect_time_budget_ms), "6000", 100, 7500,
     "how long a Connect ask waits for its answer before status=pending (Connect waits 8 s)"},
    {"connect-policy-attribute", "PARLEY_CONNECT_POLICY_ATTRIBUTE", "connect_policy_attribute",
     OPT_STR, F(connect_policy_attribute), "policy_number", 0, 0,
     "contact attribute whose value (set by the flow: trusted) binds the session's policy"},
};

#undef F

static int set_value(struct bot_config *cfg, const struct opt *o, const char *value,
                     const char *origin, char *err, size_t errlen)
{
    void *field = (char *)cfg + o->offset;
    const char *name = o->flag ? o->flag : o->env;
    switch (o->type) {
    case OPT_STR: {
        char **s = field;
        pl_free(*s);
        *s = value ? pl_strdup(value) : NULL;
        return PL_OK;
    }
    case OPT_BOOL: {
        bool *b = field;
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")) {
            *b = true;
        } else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")) {
            *b = false;
        } else {
            snprintf(err, errlen, "%s: %s expects true or false, got \"%s\"", origin, name, value);
            return PL_EINVAL;
        }
        return PL_OK;
    }
    case OPT_U32: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: %s expects a whole number from %u to %u, got \"%s\"", origin,
                     name, o->min, o->max, value);
            return PL_EINVAL;
        }
        *(uint32_t *)field = (uint32_t)v;
        return PL_OK;
    }
    }
    return PL_EINVAL;
}

static int load_file(struct bot_config *cfg, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "config file %s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return PL_EINVAL;
    }
    int rc = PL_OK;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "config file %s: expected a JSON object", path);
        rc = PL_EINVAL;
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        const struct opt *o = NULL;
        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
            if (opts[i].key && strcmp(opts[i].key, k) == 0)
                o = &opts[i];
        }
        if (!o) {
            snprintf(err, errlen, "config file %s: unknown option \"%s\"", path, k);
            rc = PL_EINVAL;
            goto out;
        }
        char buf[32];
        const char *s;
        if (json_is_string(v)) {
            s = json_string_value(v);
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
        } else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            s = buf;
        } else {
            snprintf(err, errlen, "config file %s: \"%s\" must be a string, number or boolean",
                     path, k);
            rc = PL_EINVAL;
            goto out;
        }
        char origin[300];
        snprintf(origin, sizeof(origin), "config file %s", path);
        rc = set_value(cfg, o, s, origin, err, errlen);
        if (rc)
            goto out;
    }
out:
    json_decref(root);
    return rc;
}

static const struct opt *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].flag && strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

int config_load(struct bot_config *cfg, int argc, char **argv, bool *help, char *err, size_t errlen)
{
    int rc;
    memset(cfg, 0, sizeof(*cfg));
    *help = false;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].def && (rc = set_value(cfg, &opts[i], opts[i].def, "default", err, errlen)))
            return rc;
    }
    /* The config file's path comes from the flag or the environment, before anything else. */
    const char *file = getenv("PARLEY_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file && (rc = load_file(cfg, file, err, errlen)))
        return rc;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const char *v = getenv(opts[i].env);
        if (v && *v && (rc = set_value(cfg, &opts[i], v, "environment", err, errlen)))
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            return PL_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
            return PL_EINVAL;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_flag(name, nlen);
        if (!o) {
            snprintf(err, errlen, "unknown option \"%s\" (see --help)", a);
            return PL_EINVAL;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->type == OPT_BOOL) {
            value = "true";
        } else if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value", o->flag);
                return PL_EINVAL;
            }
            value = argv[++i];
        }
        if ((rc = set_value(cfg, o, value, "command line", err, errlen)))
            return rc;
    }
    if (cfg->token_ttl_s > cfg->max_token_ttl_s) {
        snprintf(err, errlen,
                 "--token-ttl (%u s) is longer than --max-token-ttl (%u s): parleyd would refuse "
                 "the tokens it issues; shorten the one or lengthen the other",
                 cfg->token_ttl_s, cfg->max_token_ttl_s);
        return PL_EINVAL;
    }
    static const struct {
        size_t offset;
        const char *name;
    } webhook_keys[] = {
        {offsetof(struct bot_config, webhook_secret), "--webhook-secret / PARLEY_WEBHOOK_SECRET"},
        {offsetof(struct bot_config, webhook_previous_secret),
         "--webhook-previous-secret / PARLEY_WEBHOOK_PREVIOUS_SECRET"},
        {offsetof(struct bot_config, webhook_session_key),
         "--webhook-session-key / PARLEY_WEBHOOK_SESSION_KEY"},
    };
    for (size_t i = 0; i < sizeof(webhook_keys) / sizeof(webhook_keys[0]); i++) {
        const char *v = *(char **)((char *)cfg + webhook_keys[i].offset);
        if (v && *v && (rc = auth_secret_check(v, webhook_keys[i].name, err, errlen)))
            return rc;
    }
    if (strcmp(cfg->lex_voice_output, "ssml") != 0 && strcmp(cfg->lex_voice_output, "text") != 0) {
        snprintf(err, errlen, "--lex-voice-output must be ssml or text, not \"%s\"",
                 cfg->lex_voice_output);
        return PL_EINVAL;
    }
    if (cfg->jwt_secret && *cfg->jwt_secret) {
        rc = auth_secret_check(cfg->jwt_secret, "--jwt-secret / PARLEY_JWT_SECRET", err, errlen);
        if (rc)
            return rc;
    } else {
        unsigned char raw[32];
        char hex[65];
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            snprintf(err, errlen, "cannot generate a random JWT secret");
            return PL_EIO;
        }
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        pl_free(cfg->jwt_secret);
        cfg->jwt_secret = pl_strdup(hex);
        cfg->jwt_secret_generated = true;
    }
    return PL_OK;
}

void config_cleanup(struct bot_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].type == OPT_STR) {
            char **s = (char **)((char *)cfg + opts[i].offset);
            pl_free(*s);
            *s = NULL;
        }
    }
}

void config_help(const char *prog)
{
    printf("Usage: %s [OPTIONS]\n\n"
           "Parley contact-centre chatbot server. Every option can also be set by its\n"
           "environment variable or in a JSON config file (--config); precedence is\n"
           "flag > environment > config file > default.\n\nOptions:\n",
           prog);
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const struct opt *o = &opts[i];
        char left[64];
        if (o->flag)
            snprintf(left, sizeof(left), "--%s%s", o->flag, o->type == OPT_BOOL ? "[=BOOL]" : " V");
        else
            snprintf(left, sizeof(left), "(environment only)");
        printf("  %-32s %s\n", left, o->help);
        printf("  %-32s env %s%s%s\n", "", o->env, o->def ? ", default " : "",
               o->def ? o->def : "");
    }
    printf("  %-32s %s\n", "--help", "show this help and exit");
    printf("  %-32s %s\n", "--version", "print the version and exit");
}
