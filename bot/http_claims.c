/* POST /v1/claims/extract; see http_claims.h and docs/claims.md. One `extraction` per request
 * that reaches a model: it streams the answer into a bounded buffer, reads it as a claim, asks
 * once more when it is not one (the second prompt says what was wrong), and answers. A client
 * that goes away cancels the model call. */
#include "bot/http_claims.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "bot/http_auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/embed.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "connectors/llm_providers.h"
#include "connectors/llm_routes.h"
#include "prompts/claim.h"
#include "prompts/claim_local.h"

extern const struct pl_embedded_file embed_prompts[];

#define ATTEMPTS_MAX 2

struct extraction {
    struct http_server_req *req; /* a reference until done */
    struct llm_provider *provider;
    struct llm_call *call; /* in flight, or NULL */
    char *text;            /* the customer's text */
    struct pl_buf answer;  /* the model's answer so far */
    bool overflow;         /* it passed HTTP_CLAIMS_ANSWER_MAX */
    int attempt;
    char why[240];     /* why the last answer was not a claim */
    unsigned finishes; /* on_finish calls, to spot one inside llm_start */
    int starting;      /* inside llm_start */
    bool done;         /* answered, hooks and reference let go */
};

static void reply_claim(struct http_server_req *r, const json_t *claim, const char *extractor,
                        const char *provider, int attempts)
{
    struct pl_buf b;
    pl_buf_init(&b, 1024 * 1024);
    char *dump = claim_dump(claim);
    pl_buf_printf(&b, "{\"claim\":%s,\"extractor\":\"%s\"", dump, extractor);
    if (provider) {
        json_t *p = json_string(provider);
        char *ps = json_dumps(p, JSON_ENCODE_ANY);
        pl_buf_printf(&b, ",\"provider\":%s,\"attempts\":%d", ps ? ps : "\"\"", attempts);
        free(ps);
        json_decref(p);
    }
    pl_buf_append(&b, "}", 1);
    http_server_reply(r, 200, NULL, b.data, b.len);
    pl_free(dump);
    pl_buf_cleanup(&b);
}

/* ---- the model's way ---- */

static void release(struct extraction *x)
{
    if (!x->done || x->starting)
        return;
    pl_buf_cleanup(&x->answer);
    pl_free(x->text);
    pl_free(x);
}

/* Let go of the request; the answer (if the client is still there) has been given. */
static void finish(struct extraction *x)
{
    x->done = true;
    http_server_unref(x->req);
}

static void on_text(void *ud, const char *text, size_t len)
{
    struct extraction *x = ud;
    if (x->overflow || x->answer.len + len > HTTP_CLAIMS_ANSWER_MAX) {
        x->overflow = true;
        return;
    }
    pl_buf_append(&x->answer, text, len);
}

static void start_attempt(struct extraction *x);

static void on_finish(void *ud, const struct llm_outcome *o)
{
    struct extraction *x = ud;
    struct http_server_req *r = x->req;
    x->call = NULL;
    x->finishes++;
    if (o->status == PL_ECANCELED) {
        finish(x); /* the client went away (on_close) */
        release(x);
        return;
    }
    if (o->status != PL_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "the model could not extract the claim: %s",
                 o->error_detail ? o->error_detail : api_error_message(o->error));
        http_server_release_hooks(r);
        if (o->retry_after_ms > 0)
            http_server_reply_error_after(r, o->error ? o->error : API_ERR_UPSTREAM_ERROR, msg,
                                          (uint32_t)o->retry_after_ms);
        else
            http_server_reply_error(r, o->error ? o->error : API_ERR_UPSTREAM_ERROR, msg);
        finish(x);
        release(x);
        return;
    }
    json_t *claim = NULL;
    if (x->overflow)
        snprintf(x->why, sizeof(x->why), "the answer passed %d bytes", HTTP_CLAIMS_ANSWER_MAX);
    else
        claim_parse(x->answer.data ? x->answer.data : "", x->answer.len, &claim, x->why,
                    sizeof(x->why));
    if (claim) {
        http_server_release_hooks(r);
        reply_claim(r, claim, "model", o->provider, x->attempt);
        json_decref(claim);
        finish(x);
    } else if (x->attempt < ATTEMPTS_MAX) {
        /* not the reason: it may quote the answer, and so the customer's text */
        PL_LOG(PL_LOG_NOTICE, "claims", "answer %d was not a valid claim: asking again",
               x->attempt);
        start_attempt(x);
    } else {
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "the model's answer was not a valid claim, twice (asked again once): %s", x->why);
        http_server_release_hooks(r);
        http_server_reply_error(r, API_ERR_UPSTREAM_ERROR, msg);
        finish(x);
    }
    release(x);
}

static void start_attempt(struct extraction *x)
{
    const struct pl_embedded_file *f = pl_embedded_find(embed_prompts, "claim_extract.txt");
    struct pl_buf msg;
    pl_buf_init(&msg, HTTP_CLAIMS_TEXT_MAX + 4096);
    pl_buf_printf(&msg, "The customer's text:\n\n%s", x->text);
    if (x->attempt > 0)
        pl_buf_printf(&msg,
                      "\n\nYour previous answer was not accepted: %s. Answer again with only "
                      "the JSON object described above.",
                      x->why);
    const struct prompt_message m = {.role = "user", .text = msg.data};
    const struct prompt p = {.system = f ? (const char *)f->data : NULL,
                             .messages = &m,
                             .n_messages = 1,
                             .max_tokens = HTTP_CLAIMS_MAX_TOKENS};
    const struct llm_sink sink = {.on_text = on_text, .on_finish = on_finish, .ud = x};
    pl_buf_reset(&x->answer);
    x->overflow = false;
    x->attempt++;
    unsigned before = x->finishes;
    x->starting++;
    struct llm_call *c = llm_start(x->provider, &p, &sink);
    x->starting--;
    pl_buf_cleanup(&msg);
    if (x->finishes != before)
        return; /* it finished inside llm_start: `c` is gone */
    if (!c) {
        http_server_release_hooks(x->req);
        http_server_reply_error(x->req, API_ERR_INTERNAL, "the model call could not be started");
        finish(x);
        return;
    }
    x->call = c;
}

static void on_close(struct http_server_req *r)
{
    struct extraction *x = r->route_data;
    x->starting++; /* keep it while the cancellation finishes */
    if (x->call)
        llm_cancel(x->call);
    x->starting--;
    release(x);
}

/* ---- the request ---- */

static bool is_local(const struct llm_provider *p)
{
    return strncmp(llm_provider_name(p), "local:", 6) == 0;
}

/* The claim text of the body (new, NUL-terminated), or NULL with the request answered. */
static char *body_text(struct http_server_req *r)
{
    if (r->body.len > HTTP_CLAIMS_TEXT_MAX) {
        char msg[120];
        snprintf(msg, sizeof(msg), "the body passes %d bytes; send a shorter claim text",
                 HTTP_CLAIMS_TEXT_MAX);
        http_server_reply_error(r, API_ERR_TOO_LARGE, msg);
        return NULL;
    }
    const char *data = r->body.data ? r->body.data : "";
    char *text = NULL;
    if (strncasecmp(r->content_type, "text/plain", 10) == 0) {
        if (!pl_utf8_valid(data, r->body.len) || memchr(data, '\0', r->body.len)) {
            http_server_reply_error(r, API_ERR_BAD_REQUEST, "the text must be UTF-8");
            return NULL;
        }
        text = pl_strndup(data, r->body.len);
    } else {
        json_t *j = json_loadb(data, r->body.len, 0, NULL);
        json_t *t = json_object_get(j, "text");
        if (json_is_string(t) && !memchr(json_string_value(t), '\0', json_string_length(t)))
            text = pl_strdup(json_string_value(t));
        json_decref(j);
        if (!text) {
            http_server_reply_error(r, API_ERR_BAD_REQUEST,
                                    "the body must be {\"text\":\"...\"} (application/json) or "
                                    "the text itself (text/plain)");
            return NULL;
        }
    }
    size_t n = strspn(text, " \t\r\n");
    if (!text[n]) {
        pl_free(text);
        http_server_reply_error(r, API_ERR_BAD_REQUEST, "the claim text is empty");
        return NULL;
    }
    return text;
}

void http_claims_extract(struct http_server_req *r)
{
    struct auth_claims claims;
    if (!http_auth_require(r, AUTH_ROLE_AGENT, &claims))
        return;
    char *text = body_text(r);
    if (!text)
        return;
    struct llm_provider *p =
        r->srv->llm_routes ? llm_route(r->srv->llm_routes, "extract") : r->srv->llm;
    if (!p || is_local(p)) {
        json_t *claim = claim_local_extract(text, strlen(text));
        reply_claim(r, claim, "local", NULL, 0);
        json_decref(claim);
        pl_free(text);
        return;
    }
    struct extraction *x = pl_calloc(1, sizeof(*x));
    x->req = r;
    x->provider = p;
    x->text = text;
    pl_buf_init(&x->answer, HTTP_CLAIMS_ANSWER_MAX + 1);
    http_server_ref(r);
    r->route_data = x;
    r->on_close = on_close;
    x->starting++;
    start_attempt(x);
    x->starting--;
    release(x);
}
