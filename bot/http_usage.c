/* GET /v1/usage and the usage lines of /metrics; see http_usage.h. */
#include "bot/http_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/config.h"
#include "bot/http_auth.h"
#include "bot/http_query.h"
#include "bot/server.h"
#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_prices.h"
#include "sessions/session_store.h"

struct usage_op {
    struct http_server_req *req;
    char tenant[SESS_TENANT_MAX + 1];
    char day[11];
};

/* True if `s` is a real date written YYYY-MM-DD (a leap day only in a leap year). */
static bool valid_day(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 2000 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

static json_t *number_or_null(bool set, long long v)
{
    return set ? json_integer(v) : json_null();
}

static void on_usage(void *ud, int status, const struct sess_tenant_day *d)
{
    struct usage_op *op = ud;
    struct http_server_req *r = op->req;
    if (status != PL_OK) {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    } else {
        const struct bot_config *cfg = r->srv->cfg;
        uint64_t budget_micros = 0;
        if (cfg->budget_usd_per_day)
            llm_usd_parse(cfg->budget_usd_per_day, &budget_micros); /* checked at start */
        long long budget_tokens = cfg->budget_tokens_per_day;
        const struct sess_usage_totals *u = &d->used;
        long long tokens = u->input_tokens + u->output_tokens + u->cache_read_input_tokens +
                           u->cache_creation_input_tokens;
        long long left_tokens = budget_tokens - tokens - d->reserved_tokens;
        long long left_micros = (long long)budget_micros - u->cost_micros - d->reserved_micros;
        json_t *j = json_pack(
            "{s:s,s:s,s:{s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:{s:I,s:I},s:{s:o,s:o,s:i},s:{s:o,s:o},"
            "s:b}",
            "tenant", op->tenant, "day", op->day, "usage", "input_tokens",
            (json_int_t)u->input_tokens, "output_tokens", (json_int_t)u->output_tokens,
            "cache_read_input_tokens", (json_int_t)u->cache_read_input_tokens,
            "cache_creation_input_tokens", (json_int_t)u->cache_creation_input_tokens, "tokens",
            (json_int_t)tokens, "cost_usd_micros", (json_int_t)u->cost_micros, "turns",
            (json_int_t)d->turns, "reserved", "tokens", (json_int_t)d->reserved_tokens,
            "cost_usd_micros", (json_int_t)d->reserved_micros, "budget", "tokens",
            number_or_null(budget_tokens > 0, budget_tokens), "cost_usd_micros",
            number_or_null(budget_micros > 0, (long long)budget_micros), "warn_percent",
            (int)cfg->budget_warn_percent, "remaining", "tokens",
            number_or_null(budget_tokens > 0, left_tokens > 0 ? left_tokens : 0), "cost_usd_micros",
            number_or_null(budget_micros > 0, left_micros > 0 ? left_micros : 0), "warned",
            d->warned);
        char *s = json_dumps(j, JSON_COMPACT);
        http_server_reply(r, 200, NULL, s, strlen(s));
        free(s);
        json_decref(j);
    }
    http_server_unref(r);
    pl_free(op);
}

void http_usage_get(struct http_server_req *r)
{
    struct auth_claims claims;
    if (!http_auth_require(r, AUTH_ROLE_ADMIN, &claims))
        return;
    /* One byte more than either allows, so that a longer value is seen, not cut; the raw
     * tenant may be percent-encoded ("a%2Bb" is "a+b", as curl --data-urlencode writes it). */
    char raw[3 * SESS_TENANT_MAX + 4] = "", tenant[SESS_TENANT_MAX + 2] = "", day[12] = "";
    char name[SESS_TENANT_MAX + 1];
    if (!http_query_value(r->query, "tenant", raw, sizeof(raw)) || !raw[0]) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST, "tenant is required: /v1/usage?tenant=T");
        return;
    }
    size_t tenant_len = 0;
    int drc = http_query_decode(raw, strlen(raw), tenant, sizeof(tenant), &tenant_len);
    if (drc == PL_EINVAL) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                "tenant is not a valid query value: write %XX with two hex digits "
                                "for each encoded byte");
        return;
    }
    sess_tenant_name(name, tenant);
    if (drc != PL_OK || tenant_len > SESS_TENANT_MAX || !tenant[0] || strcmp(name, tenant) != 0) {
        http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                "tenant must be 1 to 128 characters of A-Z a-z 0-9 . _ @ : + -, "
                                "as sessions store it (a + written %2B)");
        return;
    }
    if (http_query_value(r->query, "day", day, sizeof(day))) {
        if (!valid_day(day)) {
            http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                    "day must be a date written YYYY-MM-DD (UTC)");
            return;
        }
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    }
    struct usage_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    /* Both checked above: the tenant is `name`, the day exactly YYYY-MM-DD. */
    memcpy(op->tenant, name, sizeof(op->tenant));
    memcpy(op->day, day, sizeof(op->day) - 1);
    op->day[sizeof(op->day) - 1] = '\0';
    if (sess_tenant_usage(r->srv->store, op->tenant, op->day, on_usage, op) != PL_OK) {
        pl_free(op);
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
        return;
    }
    http_server_ref(r);
}

void http_usage_metrics(const struct bot_server *srv, struct pl_buf *out)
{
    struct turn_engine_stats t;
    turn_engine_stats(srv->engine, &t);
    pl_buf_printf(out,
                  "# HELP parley_llm_tokens_total Model tokens counted on this instance, by kind.\n"
                  "# TYPE parley_llm_tokens_total counter\n"
                  "parley_llm_tokens_total{kind=\"input\"} %llu\n"
                  "parley_llm_tokens_total{kind=\"output\"} %llu\n"
                  "parley_llm_tokens_total{kind=\"cache_read\"} %llu\n"
                  "parley_llm_tokens_total{kind=\"cache_write\"} %llu\n"
                  "# HELP parley_llm_cost_usd_micros_total Their cost, USD micro-dollars.\n"
                  "# TYPE parley_llm_cost_usd_micros_total counter\n"
                  "parley_llm_cost_usd_micros_total %llu\n"
                  "# HELP parley_budget_refused_total Turns refused by a tenant's daily budget.\n"
                  "# TYPE parley_budget_refused_total counter\n"
                  "parley_budget_refused_total %llu\n"
                  "# HELP parley_budget_warnings_total Tenant days that reached the warning "
                  "threshold, seen here.\n"
                  "# TYPE parley_budget_warnings_total counter\n"
                  "parley_budget_warnings_total %llu\n",
                  (unsigned long long)t.input_tokens, (unsigned long long)t.output_tokens,
                  (unsigned long long)t.cache_read_input_tokens,
                  (unsigned long long)t.cache_creation_input_tokens,
                  (unsigned long long)t.cost_micros, (unsigned long long)t.budget_refused,
                  (unsigned long long)t.budget_warnings);
}
