/* Asynchronous Redis connection with deadlines and reconnection; see redis_conn.h.
 * The loop glue is redis_uv.c. Commands are tracked in send order
 * (Redis answers in order), so one sweep timer checking the oldest is enough for deadlines.
 *
 * A subscriber connection leans on hiredis 0.14.1's pub/sub bookkeeping (async.c): SUBSCRIBE
 * puts a callback per channel in its sub.channels dict (pushing nothing on the reply list), the
 * dict entry's callback gets the "subscribe" confirmation, every "message" and the "unsubscribe"
 * confirmation (which removes the entry once no SUBSCRIBE of that channel is still pending), and
 * freeing the context calls every entry with a NULL reply. A reply whose channel has no entry
 * goes to whichever callback ran last in that read, or nowhere. So every entry here has the same
 * callback, on_sub_reply, with the rconn as its privdata: it can never dangle, a stray reply
 * lands in the same place, and messages are routed through our own table of channels, which
 * says what is subscribed now. The confirmations are tracked like commands, for the deadline. */
#include "sessions/redis_conn.h"
#include "sessions/redis_uv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "common/map.h"
#include "common/redact.h"

enum rconn_state { RCONN_DOWN, RCONN_CONNECTING, RCONN_HANDSHAKE, RCONN_UP };

/* A script call's arguments, kept until its reply so that a NOSCRIPT answer can be sent again as
 * EVAL: one allocation holding the argument vector (slots 0 and 1 are EVALSHA and the SHA1, or
 * EVAL and the script's text), the lengths, then the argument bytes. */
struct script_call {
    const struct rconn_script *script;
    int argc;
    const char **argv;
    size_t *lens;
};

struct rcmd {
    struct rconn *conn;
    rconn_reply_cb cb;
    void *ud;
    uint64_t deadline_ms;
    struct script_call *call; /* an EVALSHA not yet answered; NULL otherwise */
    /* A SUBSCRIBE or UNSUBSCRIBE (no callback, not hiredis's privdata): its confirmations, one
     * per channel, still to come. */
    unsigned confirmations;
    struct rcmd *prev, *next;
};

struct rconn {
    uv_loop_t *loop;
    redisAsyncContext *ac;
    enum rconn_state state;
    bool destroying;
    bool timed_out; /* the current connection is being dropped for a late reply */
    int handles_open;
    uv_timer_t retry_timer; /* connect deadline, then reconnect delay */
    uv_timer_t sweep_timer; /* command deadlines */
    unsigned reconnects;    /* attempts since the connection was last up for a while */
    uint64_t up_since_ms;   /* when the current connection came up */
    bool ever_up;           /* it came up before: a subscription now is one made again */
    bool handshake_failed;  /* a set-up reply was an error: the connection is being dropped */
    /* The last connection failure logged, when, and how many identical ones were not logged
     * since (report_failure): a Redis that refuses us must not flood the log. */
    char failure[512];
    uint64_t failure_logged_ms;
    unsigned failures_unlogged;
    struct rconn_opts opts;
    char host[256];
    int port;
    char unix_path[256];
    char user[128];
    char password[256];
    int db;
    char endpoint[300];
    struct rcmd *head, *tail; /* pending commands, oldest first */
    uint64_t replies;         /* replies read so far: progress for the deadline sweep */
    rconn_state_cb on_state;
    void *state_ud;
    struct pl_map subs; /* subscriber connections: channel -> its `sub`, what is subscribed now */
};

static void start_connect(struct rconn *c);
static void close_handles(struct rconn *c);

#define FAILURE_LOG_INTERVAL_MS 60000
/* A connection that stayed up this long has recovered: the next failure starts the backoff
 * afresh. One that drops sooner keeps backing off, so a Redis that accepts and then drops us
 * (or answers PONG after refusing our password) is not hammered. */
#define STABLE_MS(c) ((uint64_t)(c)->opts.reconnect_max_ms)

/* Log a failure to connect or to set the connection up, at most once a minute while it stays the
 * same (with the count of attempts that failed the same way meanwhile); a different failure is
 * logged at once. */
static void report_failure(struct rconn *c, enum pl_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_failure(struct rconn *c, enum pl_log_level level, const char *fmt, ...)
{
    char text[sizeof(c->failure)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    uint64_t now = uv_now(c->loop);
    bool same = strcmp(text, c->failure) == 0;
    if (same && c->failure_logged_ms && now - c->failure_logged_ms < FAILURE_LOG_INTERVAL_MS) {
        c->failures_unlogged++;
        return;
    }
    if (same && c->failures_unlogged)
        PL_LOG(level, "redis",
               "%s; still so after %u more attempts in %llu s; retrying with backoff", text,
               c->failures_unlogged, (unsigned long long)((now - c->failure_logged_ms) / 1000));
    else
        PL_LOG(level, "redis",
               "%s; retrying with backoff, this is logged again at most once a minute", text);
    snprintf(c->failure, sizeof(c->failure), "%s", text);
    c->failure_logged_ms = now;
    c->failures_unlogged = 0;
}

static int parse_url(struct rconn *c, const char *url, char *err, size_t errlen)
{
    const char *p;
    c->port = 6379;
    c->db = 0;
    if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n >= sizeof(c->unix_path))
            goto bad;
        memcpy(c->unix_path, p, n);
        c->unix_path[n] = '\0';
        if (q && strncmp(q, "?db=", 4) == 0)
            c->db = (int)strtol(q + 4, NULL, 10);
        snprintf(c->endpoint, sizeof(c->endpoint), "unix:%s db=%d", c->unix_path, c->db);
        return PL_OK;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// (TLS) is not supported by this build; use redis://");
        return PL_EINVAL;
    }
    if (strncmp(url, "redis://", 8) != 0)
        goto bad;
    p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pass = colon ? colon + 1 : p;
        size_t ulen = colon ? (size_t)(colon - p) : 0;
        size_t plen = (size_t)(at - pass);
        if (ulen >= sizeof(c->user) || plen >= sizeof(c->password))
            goto bad;
        memcpy(c->user, p, ulen);
        c->user[ulen] = '\0';
        memcpy(c->password, pass, plen);
        c->password[plen] = '\0';
        p = at + 1;
    }
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0 || hlen >= sizeof(c->host))
        goto bad;
    memcpy(c->host, p, hlen);
    c->host[hlen] = '\0';
    p += hlen;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (port <= 0 || port > 65535)
            goto bad;
        c->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (db < 0 || *end)
            goto bad;
        c->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        goto bad;
    }
    snprintf(c->endpoint, sizeof(c->endpoint), "%s:%d db=%d", c->host, c->port, c->db);
    return PL_OK;
bad:;
    char shown[512];
    snprintf(err, errlen,
             "invalid Redis URL \"%s\" (expected redis://[user:pass@]host:port/db or "
             "unix:///path)",
             pl_redact_url(url, shown, sizeof(shown)));
    return PL_EINVAL;
}

static void set_state(struct rconn *c, enum rconn_state st)
{
    bool was_up = c->state == RCONN_UP;
    c->state = st;
    bool up = st == RCONN_UP;
    if (was_up != up && c->on_state && !c->destroying)
        c->on_state(c->state_ud, up);
}

static void unlink_cmd(struct rconn *c, struct rcmd *cmd)
{
    if (cmd->prev)
        cmd->prev->next = cmd->next;
    else
        c->head = cmd->next;
    if (cmd->next)
        cmd->next->prev = cmd->prev;
    else
        c->tail = cmd->prev;
}

static void link_cmd(struct rconn *c, struct rcmd *cmd)
{
    cmd->deadline_ms = uv_now(c->loop) + c->opts.command_timeout_ms;
    /* Answered in order: none is due before the one ahead of it (a WAIT holds the rest). */
    if (c->tail && c->tail->deadline_ms > cmd->deadline_ms)
        cmd->deadline_ms = c->tail->deadline_ms;
    cmd->next = NULL;
    cmd->prev = c->tail;
    if (c->tail)
        c->tail->next = cmd;
    else
        c->head = cmd;
    c->tail = cmd;
}

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata);

/* Format `argv` and queue it with `cmd` as its reply's privdata. */
static int queue_cmd(struct rconn *c, struct rcmd *cmd, int argc, const char **argv,
                     const size_t *argvlen)
{
    sds formatted = NULL;
    if (redisFormatSdsCommandArgv(&formatted, argc, argv, argvlen) < 0)
        return PL_ENOMEM;
    int rc = redisAsyncFormattedCommand(c->ac, on_reply, cmd, formatted, sdslen(formatted));
    sdsfree(formatted);
    if (rc != REDIS_OK)
        return PL_EIO;
    link_cmd(c, cmd);
    return PL_OK;
}

static struct script_call *script_call_new(const struct rconn_script *script, int argc,
                                           const char **argv, const size_t *argvlen)
{
    int n = argc + 2;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i];
    struct script_call *k =
        pl_malloc(sizeof(*k) + (size_t)n * (sizeof(*k->argv) + sizeof(*k->lens)) + bytes);
    k->script = script;
    k->argc = n;
    k->argv = (const char **)(k + 1);
    k->lens = (size_t *)(k->argv + n);
    char *p = (char *)(k->lens + n);
    for (int i = 0; i < argc; i++) {
        if (argvlen[i])
            memcpy(p, argv[i], argvlen[i]);
        k->argv[i + 2] = p;
        k->lens[i + 2] = argvlen[i];
        p += argvlen[i];
    }
    return k;
}

/* Run the call by the script's SHA1 (EVALSHA) or with its text (EVAL, which caches it). */
static int send_script_call(struct rconn *c, struct rcmd *cmd, bool with_text)
{
    struct script_call *k = cmd->call;
    k->argv[0] = with_text ? "EVAL" : "EVALSHA";
    k->lens[0] = strlen(k->argv[0]);
    k->argv[1] = with_text ? k->script->text : k->script->sha1;
    k->lens[1] = with_text ? strlen(k->script->text) : 40;
    return queue_cmd(c, cmd, k->argc, k->argv, k->lens);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    struct rcmd *cmd = privdata;
    struct rconn *c = cmd->conn;
    c->replies++;
    unlink_cmd(c, cmd);
    if (cmd->call && is_noscript(r) && !c->destroying && c->ac) {
        PL_LOG(PL_LOG_INFO, "redis",
               "Redis has no cached copy of a script yet (first use, a restart or SCRIPT FLUSH): "
               "sending its text");
        int rc = send_script_call(c, cmd, true);
        pl_free(cmd->call); /* an EVAL is not answered NOSCRIPT: nothing more to resend */
        cmd->call = NULL;
        if (rc == PL_OK)
            return;
    }
    pl_free(cmd->call);
    int status = PL_OK;
    if (!r)
        status = c->destroying ? PL_ECANCELED : c->timed_out ? PL_ETIMEDOUT : PL_EIO;
    if (cmd->cb)
        cmd->cb(cmd->ud, status, r);
    pl_free(cmd);
}

static struct rcmd *rcmd_new(struct rconn *c, rconn_reply_cb cb, void *ud)
{
    struct rcmd *cmd = pl_calloc(1, sizeof(*cmd));
    cmd->conn = c;
    cmd->cb = cb;
    cmd->ud = ud;
    return cmd;
}

static int send_argv(struct rconn *c, rconn_reply_cb cb, void *ud, int argc, const char **argv,
                     const size_t *argvlen)
{
    struct rcmd *cmd = rcmd_new(c, cb, ud);
    int rc = queue_cmd(c, cmd, argc, argv, argvlen);
    if (rc)
        pl_free(cmd);
    return rc;
}

void rconn_script_init(struct rconn_script *s, const char *text)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    s->text = text;
    EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL);
    for (unsigned int i = 0; i < n && i < 20; i++)
        snprintf(s->sha1 + 2 * i, 3, "%02x", md[i]);
}

int rconn_eval(struct rconn *c, const struct rconn_script *script, rconn_reply_cb cb, void *ud,
               int argc, const char **argv, const size_t *argvlen)
{
    if (c->opts.on_message)
        return PL_EINVAL;
    if (c->state != RCONN_UP || !c->ac)
        return PL_EIO;
    struct rcmd *cmd = rcmd_new(c, cb, ud);
    cmd->call = script_call_new(script, argc, argv, argvlen);
    int rc = send_script_call(c, cmd, false);
    if (rc) {
        pl_free(cmd->call);
        pl_free(cmd);
    }
    return rc;
}

int rconn_command_argv(struct rconn *c, rconn_reply_cb cb, void *ud, int argc, const char **argv,
                       const size_t *argvlen)
{
    if (c->opts.on_message)
        return PL_EINVAL;
    if (c->state != RCONN_UP || !c->ac)
        return PL_EIO;
    return send_argv(c, cb, ud, argc, argv, argvlen);
}

int rconn_wait_replicas(struct rconn *c, unsigned replicas, uint32_t timeout_ms, rconn_reply_cb cb,
                        void *ud)
{
    if (c->opts.on_message || timeout_ms == 0)
        return PL_EINVAL;
    if (c->state != RCONN_UP || !c->ac)
        return PL_EIO;
    char n[16], ms[16];
    snprintf(n, sizeof(n), "%u", replicas);
    snprintf(ms, sizeof(ms), "%u", timeout_ms);
    const char *argv[3] = {"WAIT", n, ms};
    struct rcmd *cmd = rcmd_new(c, cb, ud);
    int rc = queue_cmd(c, cmd, 3, argv, NULL);
    if (rc) {
        pl_free(cmd);
        return rc;
    }
    cmd->deadline_ms += timeout_ms; /* it is the tail: the order of deadlines holds */
    return PL_OK;
}

/* ---- subscriber connections ---- */

#define SUB_BATCH 512 /* channels per SUBSCRIBE when subscribing again after a reconnect */

/* Drop the connection (it reconnects and subscribes again). Safe inside a hiredis callback,
 * where the context is freed once the callback returns. */
static void drop_connection(struct rconn *c, const char *why)
{
    PL_LOG(PL_LOG_WARN, "redis", "%s on %s; dropping the connection", why, c->endpoint);
    redisAsyncFree(c->ac); /* then on_disconnect */
}

/* One channel's SUBSCRIBE or UNSUBSCRIBE confirmed. */
static void confirmed(struct rconn *c)
{
    struct rcmd *cmd = c->head;
    if (!cmd || !cmd->confirmations) {
        drop_connection(c, "a pub/sub confirmation nothing waits for");
        return;
    }
    if (--cmd->confirmations == 0) {
        unlink_cmd(c, cmd);
        pl_free(cmd);
    }
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    struct rconn *c = privdata;
    const redisReply *reply = r;
    if (!reply || c->destroying || !c->ac)
        return; /* the context is going: connection_lost drops the pending confirmations */
    c->replies++;
    const redisReply *kind = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                                     reply->element[0]->type == REDIS_REPLY_STRING &&
                                     reply->element[1]->type == REDIS_REPLY_STRING
                                 ? reply->element[0]
                                 : NULL;
    if (kind && strcmp(kind->str, "message") == 0 &&
        reply->element[2]->type == REDIS_REPLY_STRING) {
        /* Unsubscribed meanwhile: no longer in the table, not delivered. */
        void *sub = pl_map_get(&c->subs, reply->element[1]->str);
        if (sub)
            c->opts.on_message(c->opts.message_ud, sub, reply->element[2]->str,
                               reply->element[2]->len);
    } else if (kind &&
               (strcmp(kind->str, "subscribe") == 0 || strcmp(kind->str, "unsubscribe") == 0)) {
        confirmed(c);
    } else {
        drop_connection(c, reply->type == REDIS_REPLY_ERROR ? reply->str
                                                            : "an unexpected pub/sub reply");
    }
}

/* Send SUBSCRIBE or UNSUBSCRIBE for `n` channels; their confirmations are awaited under the
 * command deadline. */
static int send_sub(struct rconn *c, const char *verb, int n, const char **channels)
{
    const char *argv[SUB_BATCH + 1] = {verb};
    for (int i = 0; i < n; i++)
        argv[i + 1] = channels[i];
    sds formatted = NULL;
    if (redisFormatSdsCommandArgv(&formatted, n + 1, argv, NULL) < 0)
        return PL_ENOMEM;
    /* UNSUBSCRIBE takes no callback: its confirmations go to each channel's, on_sub_reply. */
    int rc = redisAsyncFormattedCommand(c->ac, on_sub_reply, c, formatted, sdslen(formatted));
    sdsfree(formatted);
    if (rc != REDIS_OK)
        return PL_EIO;
    struct rcmd *cmd = rcmd_new(c, NULL, NULL);
    cmd->confirmations = (unsigned)n;
    link_cmd(c, cmd);
    return PL_OK;
}

struct resubscribe {
    struct rconn *conn;
    const char *batch[SUB_BATCH];
    int n;
    int rc;
};

static void resubscribe_one(const char *channel, void *sub, void *ud)
{
    (void)sub;
    struct resubscribe *r = ud;
    r->batch[r->n++] = channel;
    if (r->n == SUB_BATCH && r->rc == PL_OK) {
        r->rc = send_sub(r->conn, "SUBSCRIBE", r->n, r->batch);
        r->n = 0;
    }
}

/* A new connection: subscribe to everything in the table. */
static void resubscribe(struct rconn *c)
{
    if (!c->opts.on_message || c->subs.count == 0)
        return;
    struct resubscribe r = {.conn = c};
    pl_map_each(&c->subs, resubscribe_one, &r);
    if (r.n && r.rc == PL_OK)
        r.rc = send_sub(c, "SUBSCRIBE", r.n, r.batch);
    if (c->ever_up)
        PL_LOG(PL_LOG_NOTICE, "redis", "subscribing again to %zu channels on %s", c->subs.count,
               c->endpoint);
}

/* The connection is gone: the confirmations it owed will not come. */
static void drop_confirmations(struct rconn *c)
{
    for (struct rcmd *cmd = c->head, *next; cmd; cmd = next) {
        next = cmd->next;
        if (cmd->confirmations) {
            unlink_cmd(c, cmd);
            pl_free(cmd);
        }
    }
}

int rconn_subscribe(struct rconn *c, const char *channel, void *sub)
{
    if (!c->opts.on_message || c->destroying || !sub || pl_map_get(&c->subs, channel))
        return PL_EINVAL;
    pl_map_put(&c->subs, channel, sub);
    /* Not up: subscribed once it is (resubscribe). A failed send means the connection is
     * going, and the next one subscribes. */
    if (c->state == RCONN_UP && c->ac)
        send_sub(c, "SUBSCRIBE", 1, &channel);
    return PL_OK;
}

void *rconn_unsubscribe(struct rconn *c, const char *channel)
{
    if (!c->opts.on_message || c->destroying)
        return NULL;
    void *sub = pl_map_remove(&c->subs, channel);
    /* Up: this connection subscribed to it (when it came up, or since). */
    if (sub && c->state == RCONN_UP && c->ac)
        send_sub(c, "UNSUBSCRIBE", 1, &channel);
    return sub;
}

size_t rconn_subscriptions(const struct rconn *c)
{
    return c->subs.count;
}

bool rconn_reply_ok(const redisReply *reply, const char *what)
{
    if (reply && reply->type != REDIS_REPLY_ERROR)
        return true;
    if (reply)
        PL_LOG(PL_LOG_WARN, "redis", "%s failed: %s", what, reply->str);
    return false;
}

static void on_reconnect_timer(uv_timer_t *t)
{
    start_connect(PL_CONTAINER_OF(t, struct rconn, retry_timer));
}

static void schedule_reconnect(struct rconn *c)
{
    if (c->destroying)
        return;
    /* Jitter in [50%, 100%] so a fleet does not reconnect in lockstep. */
    uint32_t delay =
        pl_backoff_ms(++c->reconnects, c->opts.reconnect_min_ms, c->opts.reconnect_max_ms, 50);
    uv_timer_start(&c->retry_timer, on_reconnect_timer, delay, 0);
}

/* The context is gone (hiredis frees it after this returns). */
static void connection_lost(struct rconn *c, const char *why)
{
    c->ac = NULL;
    drop_confirmations(c);
    if (c->destroying) {
        close_handles(c);
        return;
    }
    c->timed_out = false;
    if (c->state == RCONN_UP) {
        PL_LOG(PL_LOG_WARN, "redis", "connection to %s lost: %s; reconnecting", c->endpoint, why);
        if (uv_now(c->loop) - c->up_since_ms >= STABLE_MS(c))
            c->reconnects = 0;
    }
    set_state(c, RCONN_DOWN);
    uv_timer_stop(&c->retry_timer);
    schedule_reconnect(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    connection_lost(c, status == REDIS_OK ? "closed" : ac->errstr);
}

/* The set-up steps of a new connection, sent at once and answered in order. */
enum handshake_step { STEP_AUTH, STEP_SELECT, STEP_PING };

/* A set-up step was refused: say what is wrong, once (report_failure), and drop the connection.
 * The replies still to come are ignored (a PING answered after a failed AUTH must not make the
 * connection count as up). */
static void handshake_failed(struct rconn *c, enum handshake_step step, const redisReply *reply)
{
    c->handshake_failed = true;
    const char *why = reply->str ? reply->str : "error";
    if (step == STEP_AUTH)
        report_failure(c, PL_LOG_ERR,
                       "Redis at %s refused to authenticate us: %s (check the user and password in "
                       "--redis / PARLEY_REDIS_URL)",
                       c->endpoint, why);
    else if (step == STEP_PING && strncmp(why, "NOAUTH", 6) == 0)
        report_failure(c, PL_LOG_ERR,
                       "Redis at %s needs a password: %s (give it in --redis / PARLEY_REDIS_URL "
                       "as redis://:PASSWORD@host:port/db)",
                       c->endpoint, why);
    else if (step == STEP_SELECT)
        report_failure(c, PL_LOG_ERR, "Redis at %s refused SELECT %d: %s", c->endpoint, c->db, why);
    else
        report_failure(c, PL_LOG_WARN, "Redis at %s is not usable yet: %s", c->endpoint, why);
    if (c->ac)
        redisAsyncDisconnect(c->ac);
}

static void handshake_reply(struct rconn *c, enum handshake_step step, int status,
                            const redisReply *reply)
{
    if (status != PL_OK || c->handshake_failed)
        return; /* the connection is already being torn down */
    if (reply->type == REDIS_REPLY_ERROR) {
        handshake_failed(c, step, reply);
        return;
    }
    if (step == STEP_PING) {
        uv_timer_stop(&c->retry_timer);
        c->up_since_ms = uv_now(c->loop);
        c->failure[0] = '\0'; /* the next failure is news */
        c->failures_unlogged = 0;
        /* The command connection's line tells the operator; subscriber connections (the desk's,
         * an instance's control channel) come and go with it and would only repeat it. */
        if (c->opts.on_message)
            PL_LOG(PL_LOG_DEBUG, "redis", "subscriber connected to %s", c->endpoint);
        else
            PL_LOG(PL_LOG_NOTICE, "redis", "connected to %s", c->endpoint);
        resubscribe(c);
        c->ever_up = true;
        set_state(c, RCONN_UP);
    }
}

static void on_auth_reply(void *ud, int status, redisReply *reply)
{
    handshake_reply(ud, STEP_AUTH, status, reply);
}

static void on_select_reply(void *ud, int status, redisReply *reply)
{
    handshake_reply(ud, STEP_SELECT, status, reply);
}

static void on_ping_reply(void *ud, int status, redisReply *reply)
{
    handshake_reply(ud, STEP_PING, status, reply);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback; on_disconnect does not run. */
        if (c->state == RCONN_CONNECTING)
            report_failure(c, PL_LOG_WARN, "cannot connect to %s: %s", c->endpoint, ac->errstr);
        connection_lost(c, ac->errstr);
        return;
    }
    set_state(c, RCONN_HANDSHAKE);
    c->handshake_failed = false;
    if (c->password[0]) {
        const char *argv[3] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
        int argc = c->user[0] ? 3 : 2;
        send_argv(c, on_auth_reply, c, argc, argv, NULL);
    }
    if (c->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", c->db);
        const char *argv[2] = {"SELECT", db};
        send_argv(c, on_select_reply, c, 2, argv, NULL);
    }
    const char *ping[1] = {"PING"};
    send_argv(c, on_ping_reply, c, 1, ping, NULL);
}

static void on_connect_deadline(uv_timer_t *t)
{
    struct rconn *c = PL_CONTAINER_OF(t, struct rconn, retry_timer);
    report_failure(c, PL_LOG_WARN, "connecting to %s timed out after %u ms", c->endpoint,
                   c->opts.connect_timeout_ms);
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    set_state(c, RCONN_DOWN);
    /* Not connected yet, so freeing runs no disconnect callback; pending set-up replies get
     * NULL and are ignored. */
    redisAsyncFree(ac);
    schedule_reconnect(c);
}

static void start_connect(struct rconn *c)
{
    redisAsyncContext *ac =
        c->unix_path[0] ? redisAsyncConnectUnix(c->unix_path) : redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        report_failure(c, PL_LOG_WARN, "cannot connect to %s: %s", c->endpoint,
                       ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    set_state(c, RCONN_CONNECTING);
    uv_timer_start(&c->retry_timer, on_connect_deadline, c->opts.connect_timeout_ms, 0);
}

static void on_sweep(uv_timer_t *t)
{
    struct rconn *c = PL_CONTAINER_OF(t, struct rconn, sweep_timer);
    /* libuv runs timers before it polls: after a long loop pass the answers may be waiting in
     * the socket. Read what is there first (one read takes at most 16 KiB, so read while the
     * oldest command is still overdue and replies keep coming); late means Redis did not
     * answer, not that we were busy. */
    while (c->ac && c->head && uv_now(c->loop) >= c->head->deadline_ms) {
        uint64_t before = c->replies;
        redisAsyncHandleRead(c->ac);
        if (c->replies == before)
            break; /* nothing more has arrived */
    }
    if (!c->head || !c->ac || uv_now(c->loop) < c->head->deadline_ms)
        return;
    PL_LOG(PL_LOG_WARN, "redis", "no reply from %s within %u ms; dropping the connection",
           c->endpoint, c->opts.command_timeout_ms);
    c->timed_out = true;
    redisAsyncFree(c->ac); /* pending replies get NULL (PL_ETIMEDOUT), then on_disconnect */
}

int rconn_create(uv_loop_t *loop, const struct rconn_opts *opts, rconn_state_cb on_state,
                 void *state_ud, struct rconn **out, char *err, size_t errlen)
{
    struct rconn *c = pl_calloc(1, sizeof(*c));
    c->loop = loop;
    c->opts = *opts;
    if (!c->opts.connect_timeout_ms)
        c->opts.connect_timeout_ms = 2000;
    if (!c->opts.command_timeout_ms)
        c->opts.command_timeout_ms = 3000;
    if (!c->opts.reconnect_min_ms)
        c->opts.reconnect_min_ms = 100;
    if (!c->opts.reconnect_max_ms)
        c->opts.reconnect_max_ms = 5000;
    c->on_state = on_state;
    c->state_ud = state_ud;
    int rc = parse_url(c, opts->url, err, errlen);
    if (rc) {
        pl_free(c);
        return rc;
    }
    c->opts.url = NULL; /* not kept: it may hold the password */
    if (c->opts.on_message)
        pl_map_init(&c->subs);
    uv_timer_init(loop, &c->retry_timer);
    uv_timer_init(loop, &c->sweep_timer);
    c->handles_open = 2;
    uv_timer_start(&c->sweep_timer, on_sweep, 100, 100);
    start_connect(c);
    *out = c;
    return PL_OK;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct rconn *c = h->data;
    if (--c->handles_open == 0)
        pl_free(c);
}

static void close_handles(struct rconn *c)
{
    drop_confirmations(c);
    if (uv_is_closing((uv_handle_t *)&c->retry_timer))
        return;
    c->retry_timer.data = c;
    c->sweep_timer.data = c;
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->sweep_timer, on_handle_closed);
}

static void on_flush_deadline(uv_timer_t *t)
{
    struct rconn *c = PL_CONTAINER_OF(t, struct rconn, retry_timer);
    if (c->ac) {
        PL_LOG(PL_LOG_WARN, "redis", "pending commands not flushed in time; closing");
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac); /* pending replies complete with PL_ECANCELED */
    }
    close_handles(c);
}

void rconn_destroy(struct rconn *c)
{
    if (!c)
        return;
    c->destroying = true;
    pl_map_cleanup(&c->subs); /* no message is delivered from now on */
    uv_timer_stop(&c->retry_timer);
    if (c->ac && c->state == RCONN_UP && !c->opts.on_message) {
        /* Graceful: commands already sent (a just-finished answer, say) are written and their
         * replies awaited, then hiredis disconnects; a short deadline bounds the wait. */
        redisAsyncDisconnect(c->ac);
        if (c->ac) {
            uv_timer_start(&c->retry_timer, on_flush_deadline, 2000, 0);
            return;
        }
    } else if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac);
    }
    close_handles(c);
}

bool rconn_is_up(const struct rconn *c)
{
    return c->state == RCONN_UP;
}
