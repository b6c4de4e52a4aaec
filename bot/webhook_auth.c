/* Webhook authentication; see webhook_auth.h. */
#include "bot/webhook_auth.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "sessions/webhook_store.h"

bool webhook_auth_verify(struct http_server_req *r, const char *endpoint,
                         char matched[WEBHOOK_SIG_HEX_LEN + 1])
{
    const char *secret = r->srv->cfg->webhook_secret;
    if (!secret || !*secret) {
        http_server_reply_error(r, API_ERR_NOT_FOUND,
                                "the webhooks are off: this server has no --webhook-secret "
                                "(PARLEY_WEBHOOK_SECRET)");
        return false;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    const char *ts = http_head_field(&r->head, "X-Parley-Timestamp");
    const char *sig = http_head_field(&r->head, "X-Parley-Signature");
    const char *body = r->body.data ? r->body.data : "";
    enum webhook_verdict v = webhook_verify(secret, strlen(secret), ts, sig, body, r->body.len,
                                            (int64_t)tv.tv_sec, matched);
    /* While the secret is rotated, senders not yet moved sign with the former one. */
    const char *previous = r->srv->cfg->webhook_previous_secret;
    if (v == WEBHOOK_MISMATCH && previous && *previous)
        v = webhook_verify(previous, strlen(previous), ts, sig, body, r->body.len,
                           (int64_t)tv.tv_sec, matched);
    if (v == WEBHOOK_OK)
        return true;
    /* The reason, never the signature: it would be a valid one for someone's body. */
    PL_LOG(PL_LOG_WARN, "webhook", "%s: refused from %s: %s", endpoint, http_server_peer(r),
           webhook_verdict_message(v));
    r->srv->metrics.webhook_refused++;
    http_server_reply_error(r, API_ERR_UNAUTHORIZED, webhook_verdict_message(v));
    return false;
}

struct remember_op {
    struct http_server_req *req; /* a reference */
    const char *endpoint;        /* static */
    void (*done)(struct http_server_req *r, void *ud, bool ok);
    void *ud;
};

static void on_remembered(void *ud, int status)
{
    struct remember_op *op = ud;
    struct http_server_req *r = op->req;
    bool ok = false;
    if (!r->conn) {
        /* the client went: nothing is done for it (the signature stays spent) */
    } else if (status == PL_OK) {
        ok = true;
    } else if (status == PL_EBUSY) {
        PL_LOG(PL_LOG_WARN, "webhook", "%s: refused from %s: a replayed signature", op->endpoint,
               http_server_peer(r));
        r->srv->metrics.webhook_refused++;
        http_server_reply_error(r, API_ERR_UNAUTHORIZED,
                                "this X-Parley-Signature was accepted before: a request is "
                                "signed once (replays are refused)");
    } else {
        http_server_reply_error(r, API_ERR_STORAGE_UNAVAILABLE, NULL);
    }
    op->done(r, op->ud, ok);
    http_server_unref(r);
    pl_free(op);
}

void webhook_auth_remember(struct http_server_req *r, const char *endpoint,
                           const char matched[WEBHOOK_SIG_HEX_LEN + 1],
                           void (*done)(struct http_server_req *r, void *ud, bool ok), void *ud)
{
    struct remember_op *op = pl_calloc(1, sizeof(*op));
    op->req = r;
    op->endpoint = endpoint;
    op->done = done;
    op->ud = ud;
    http_server_ref(r);
    if (hook_signature_remember(r->srv->store, matched, WEBHOOK_REPLAY_TTL_S, on_remembered, op) !=
        PL_OK)
        on_remembered(op, PL_EIO);
}

const char *webhook_session_key(const struct bot_config *cfg)
{
    return cfg->webhook_session_key && *cfg->webhook_session_key ? cfg->webhook_session_key
                                                                 : cfg->webhook_secret;
}

void webhook_session_id(const char *secret, const char *kind, const char *external_id,
                        char out[SESS_ID_LEN + 1])
{
    char mac[WEBHOOK_SIG_HEX_LEN + 1];
    webhook_sign(secret, strlen(secret), kind, external_id, strlen(external_id), mac);
    memcpy(out, mac, SESS_ID_LEN);
    out[SESS_ID_LEN] = '\0';
}

void webhook_mask_phone(const char *phone, char *out, size_t cap)
{
    size_t n = phone ? strlen(phone) : 0;
    if (n <= 4)
        snprintf(out, cap, "****");
    else
        snprintf(out, cap, "***%s", phone + n - 4);
}
