/* Model routing: which provider chain serves each purpose of a model call. `chat` (the caller's
 * conversation) is the --provider/--model/--fallback chain; --routes maps the other purposes
 * (`summary`, `extract`) to a provider and model of their own, each as its own chain with the
 * same retry policy, fallbacks and shared circuit breakers; a purpose without a route uses
 * chat's. The parser is I/O-free; the chains are built by bot/llm_setup.c. Loop thread only. */
#ifndef PARLEY_CONNECTORS_LLM_ROUTES_H
#define PARLEY_CONNECTORS_LLM_ROUTES_H

#include <stddef.h>

#include "connectors/llm.h"

#define LLM_ROUTES_MAX 8

/* One entry of --routes: "purpose=kind" or "purpose=kind:model" (the model may hold ':', as
 * Bedrock ids do: everything after the first ':' is the model). */
struct llm_route_spec {
    char purpose[16]; /* summary or extract */
    char kind[16];    /* anthropic, bedrock, openai or local */
    char model[256];  /* "": the provider's default */
};

/** Parse a comma list of routes (spaces around entries ignored; NULL or "" is no routes).
 *  PL_OK with `*n` entries in `out` (at most `max`), or PL_EINVAL with a message naming the
 *  entry in `err`: an entry without '=', an unknown purpose (chat is --provider's), an unknown
 *  provider, an empty entry or model, a purpose given twice, more than `max` entries, or a part
 *  too long. */
int llm_routes_parse(const char *text, struct llm_route_spec *out, size_t max, size_t *n, char *err,
                     size_t errlen);

/** True for a purpose Parley knows: chat, summary, extract. */
bool llm_route_purpose_known(const char *purpose);

struct llm_routes;

/** Routes whose chat chain is `chat` (borrowed: it must outlive the routes). New. */
struct llm_routes *llm_routes_create(struct llm_provider *chat);
/** Serve `purpose` with `chain` (taken). A purpose added twice keeps the first. */
void llm_routes_add(struct llm_routes *r, const char *purpose, struct llm_provider *chain);
/** The provider for `purpose`: its route's chain, else chat's (borrowed, valid while the routes
 *  live). */
struct llm_provider *llm_route(const struct llm_routes *r, const char *purpose);
/** "chat=anthropic:claude-x, summary=openai:llama3.1" into `out` (truncated to fit). */
void llm_routes_describe(const struct llm_routes *r, char *out, size_t outlen);
/** Destroys the route chains (not chat's). Accepts NULL. No call may be in flight. */
void llm_routes_destroy(struct llm_routes *r);

#endif
