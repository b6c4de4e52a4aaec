/* Usage and budgets over HTTP (docs/cost.md): GET /v1/usage, a tenant's day for admins, and the
 * /metrics lines of the usage this instance counted. */
#ifndef PARLEY_BOT_HTTP_USAGE_H
#define PARLEY_BOT_HTTP_USAGE_H

#include "bot/http_server.h"
#include "common/buf.h"

/** GET /v1/usage?tenant=T[&day=YYYY-MM-DD]: admin token only; the day defaults to today (UTC). */
void http_usage_get(struct http_server_req *r);

/** Append the parley_llm_tokens_total{kind=...}, parley_llm_cost_usd_micros_total,
 *  parley_budget_refused_total and parley_budget_warnings_total lines of `srv` to `out`. */
void http_usage_metrics(const struct bot_server *srv, struct pl_buf *out);

#endif
