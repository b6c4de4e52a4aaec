/* Integration-test servers and helpers; see fixtures.h. */
#include "tests/support/fixtures.h"

#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "common/buf.h"

#define START_TIMEOUT_MS 15000

int ts_redis_start(struct ts_redis *r, const char *workdir)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s/redis", workdir);
    mkdir(r->dir, 0755);
    r->port = ts_free_port();
    return ts_redis_restart(r);
}

int ts_redis_restart(struct ts_redis *r)
{
    char port[16], log[700];
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    char *argv[] = {(char *)"/usr/bin/redis-server",
                    (char *)"--port",
                    port,
                    (char *)"--bind",
                    (char *)"127.0.0.1",
                    (char *)"--dir",
                    r->dir,
                    (char *)"--appendonly",
                    (char *)"yes",
                    (char *)"--appendfsync",
                    (char *)"always",
                    (char *)"--save",
                    (char *)"",
                    NULL};
    if (ts_proc_spawn(&r->proc, "redis-server", argv, NULL, log))
        return -1;
    return ts_wait_port(&r->proc, r->port, START_TIMEOUT_MS);
}

void ts_redis_stop(struct ts_redis *r)
{
    ts_proc_stop(&r->proc, 10000);
}

static void reply_text(struct pl_buf *b, const redisReply *rep)
{
    switch (rep->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        pl_buf_append(b, rep->str, rep->len);
        break;
    case REDIS_REPLY_INTEGER:
        pl_buf_printf(b, "%lld", rep->integer);
        break;
    case REDIS_REPLY_NIL:
        pl_buf_append_str(b, "(nil)");
        break;
    case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < rep->elements; i++) {
            if (i)
                pl_buf_append_str(b, "\n");
            reply_text(b, rep->element[i]);
        }
        break;
    default:
        break;
    }
}

char *ts_redis_vquery(const struct ts_redis *r, const char *password, const char *fmt, va_list ap)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (password) {
        redisReply *a = redisCommand(c, "AUTH %s", password);
        if (a)
            freeReplyObject(a);
    }
    redisReply *rep = redisvCommand(c, fmt, ap);
    char *out = NULL;
    if (rep) {
        struct pl_buf b;
        pl_buf_init(&b, SIZE_MAX);
        reply_text(&b, rep);
        out = pl_buf_take(&b);
        freeReplyObject(rep);
    }
    redisFree(c);
    return out;
}

bool ts_redis_wait(const struct ts_redis *r, const char *suffix, int timeout_ms, const char *fmt,
                   ...)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        char *got = ts_redis_vquery(r, NULL, fmt, ap);
        va_end(ap);
        size_t n = got ? strlen(got) : 0, k = strlen(suffix);
        bool ok = got && n >= k && strcmp(got + n - k, suffix) == 0;
        pl_free(got);
        if (ok)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms =
            (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            return false;
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL); /* polling a condition with a deadline */
    }
}

char *ts_redis_query(const struct ts_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = ts_redis_vquery(r, NULL, fmt, ap);
    va_end(ap);
    return out;
}

long ts_redis_calls(const struct ts_redis *r, const char *command)
{
    char *info = ts_redis_query(r, "INFO commandstats");
    if (!info)
        return -1;
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", command);
    const char *p = strstr(info, key);
    long n = p ? strtol(p + strlen(key), NULL, 10) : 0;
    pl_free(info);
    return n;
}

void ts_on_done(void *ud, int status)
{
    struct ts_done *d = ud;
    d->done = true;
    d->status = status;
}

int ts_upstream_start(struct ts_upstream *u, const char *workdir, const char *const *args)
{
    memset(u, 0, sizeof(*u));
    u->port = ts_free_port();
    char port[16], log[600];
    snprintf(port, sizeof(port), "%d", u->port);
    snprintf(u->log, sizeof(u->log), "%s/upstream-requests.jsonl", workdir);
    snprintf(log, sizeof(log), "%s/upstream.log", workdir);
    const char *argv[32] = {ts_bin("tests/fakes/fake_upstream"), "--port", port, "--log", u->log};
    size_t n = 5;
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char bin[512];
    snprintf(bin, sizeof(bin), "%s", argv[0]);
    argv[0] = bin;
    if (ts_proc_spawn(&u->proc, "fake_upstream", (char *const *)argv, NULL, log))
        return -1;
    return ts_wait_port(&u->proc, u->port, START_TIMEOUT_MS);
}

void ts_upstream_stop(struct ts_upstream *u)
{
    ts_proc_stop(&u->proc, 5000);
}

/* The text of a message's content: a string, or its last block's text. */
static const char *content_text(json_t *content)
{
    if (json_is_string(content))
        return json_string_value(content);
    return json_string_value(
        json_object_get(json_array_get(content, json_array_size(content) - 1), "text"));
}

static char *system_prompt_in_log(const char *log, const char *marker)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return NULL;
    char *found = NULL, *line = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *body = json_object_get(j, "body");
        json_t *msgs = json_object_get(body, "messages");
        const char *text = content_text(
            json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
        if (text && strstr(text, marker)) {
            json_t *sys = json_object_get(body, "system");
            const char *s =
                json_is_string(sys)
                    ? json_string_value(sys)
                    : json_string_value(json_object_get(json_array_get(sys, 0), "text"));
            found = pl_strdup(s ? s : "");
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return found;
}

char *ts_upstream_system_prompt(const struct ts_upstream *u, const char *marker)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        char *found = system_prompt_in_log(u->log, marker);
        if (found)
            return found;
        poll(NULL, 0, 50);
    }
    return NULL;
}

/* Ready means connected to Redis: a caller arriving before that is told to retry, which is
 * right for callers but would make a test's first step depend on timing. */
static int wait_ready(struct ts_parleyd *p)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", p->url);
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
        struct ts_http_reply r;
        int rc = ts_http("GET", url, NULL, NULL, &r);
        long status = r.status;
        ts_http_reply_free(&r); /* filled on failure too (parleyd not listening yet) */
        if (rc == 0 && status == 200)
            return 0;
        poll(NULL, 0, 20);
    }
    fprintf(stderr, "parleyd did not become ready (GET /readyz) in %d ms\n", START_TIMEOUT_MS);
    ts_proc_dump_log(&p->proc);
    return -1;
}

static int parleyd_spawn(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                         const struct ts_upstream *upstream, const char *const *args)
{
    char listen[64], redis_url[64], base_url[64], log[600], bin[512];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", p->port);
    snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d/0", redis->port);
    snprintf(log, sizeof(log), "%s/parleyd.log", workdir);
    snprintf(bin, sizeof(bin), "%s", ts_bin("parleyd"));
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
    snprintf(p->ws_url, sizeof(p->ws_url), "ws://127.0.0.1:%d/v1/chat", p->port);
    const char *argv[48] = {bin,
                            "--listen",
                            listen,
                            "--redis",
                            redis_url,
                            "--allow-anonymous",
                            "--jwt-secret",
                            TS_JWT_SECRET,
                            "--log-format",
                            "text"};
    size_t n = 10;
    if (upstream) {
        snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", upstream->port);
        argv[n++] = "--provider";
        argv[n++] = "anthropic";
    } else {
        argv[n++] = "--provider";
        argv[n++] = "local";
    }
    for (size_t i = 0; args && args[i] && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    static char env_key[] = "ANTHROPIC_API_KEY=" TS_API_KEY;
    static char env_url[96];
    snprintf(env_url, sizeof(env_url), "ANTHROPIC_BASE_URL=%s", upstream ? base_url : "");
    char *env[24] = {NULL};
    size_t ne = 0;
    if (upstream) {
        env[ne++] = env_key;
        env[ne++] = env_url;
    }
    for (size_t i = 0; p->env && p->env[i] && ne < 23; i++)
        env[ne++] = (char *)p->env[i];
    if (ts_proc_spawn_nofile(&p->proc, "parleyd", (char *const *)argv, ne ? env : NULL, log,
                             p->nofile))
        return -1;
    if (ts_wait_port(&p->proc, p->port, START_TIMEOUT_MS))
        return -1;
    return wait_ready(p);
}

int ts_parleyd_start(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                     const struct ts_upstream *upstream, const char *const *args)
{
    memset(p, 0, sizeof(*p));
    p->port = ts_free_port();
    return parleyd_spawn(p, workdir, redis, upstream, args);
}

int ts_parleyd_start_env(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                         const struct ts_upstream *upstream, const char *const *args,
                         const char *const *env)
{
    memset(p, 0, sizeof(*p));
    p->port = ts_free_port();
    p->env = env;
    return parleyd_spawn(p, workdir, redis, upstream, args);
}

int ts_parleyd_start_nofile(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                            const struct ts_upstream *upstream, const char *const *args, int nofile)
{
    memset(p, 0, sizeof(*p));
    p->port = ts_free_port();
    p->nofile = nofile;
    return parleyd_spawn(p, workdir, redis, upstream, args);
}

int ts_parleyd_restart(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                       const struct ts_upstream *upstream, const char *const *args)
{
    return parleyd_spawn(p, workdir, redis, upstream, args);
}

int ts_parleyd_stop(struct ts_parleyd *p)
{
    int rc = ts_proc_stop(&p->proc, 15000);
    if (rc != 0)
        ts_proc_dump_log(&p->proc);
    return rc;
}

int ts_upstream_requests_with(const struct ts_upstream *u, const char *marker)
{
    FILE *fp = fopen(u->log, "r");
    if (!fp)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, fp) > 0)
        if (strstr(line, marker))
            n++;
    free(line);
    fclose(fp);
    return n;
}

int ts_stack_start(struct ts_stack *s, const char *name, const char *const *upstream_args,
                   const char *const *parleyd_args)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->workdir, sizeof(s->workdir), "%s", ts_workdir(name));
    s->with_upstream = upstream_args != NULL;
    s->parleyd_args = parleyd_args;
    if (ts_redis_start(&s->redis, s->workdir))
        return -1;
    if (s->with_upstream && ts_upstream_start(&s->upstream, s->workdir, upstream_args))
        return -1;
    return ts_parleyd_start(&s->parleyd, s->workdir, &s->redis,
                            s->with_upstream ? &s->upstream : NULL, parleyd_args);
}

int ts_stack_start_second(struct ts_stack *s, struct ts_parleyd *b, const char *const *args)
{
    char dir[sizeof(s->workdir) + 4];
    snprintf(dir, sizeof(dir), "%s/b", s->workdir);
    mkdir(dir, 0755);
    return ts_parleyd_start(b, dir, &s->redis, s->with_upstream ? &s->upstream : NULL, args);
}

int ts_stack_restart_parleyd(struct ts_stack *s)
{
    return ts_parleyd_restart(&s->parleyd, s->workdir, &s->redis,
                              s->with_upstream ? &s->upstream : NULL, s->parleyd_args);
}

int ts_stack_stop(struct ts_stack *s)
{
    int rc = ts_parleyd_stop(&s->parleyd);
    if (s->with_upstream)
        ts_upstream_stop(&s->upstream);
    ts_redis_stop(&s->redis);
    return rc == 0 ? 0 : -1;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    pl_buf_append(ud, ptr, size * n);
    return size * n;
}

long ts_post_signed(const char *url, const char *ts, const char *signature, const char *body,
                    char **out)
{
    char tsh[96], sigh[512];
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (ts) {
        snprintf(tsh, sizeof(tsh), "X-Parley-Timestamp: %s", ts);
        hdrs = curl_slist_append(hdrs, tsh);
    }
    if (signature) {
        snprintf(sigh, sizeof(sigh), "X-Parley-Signature: %s", signature);
        hdrs = curl_slist_append(hdrs, sigh);
    }
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    pl_buf_append(&b, "", 1);
    *out = pl_buf_take(&b);
    return status;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0)
        return;
    const char *v = line + n;
    size_t vlen = len - n;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    snprintf(out, cap, "%.*s", (int)vlen, v);
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    struct ts_http_reply *out = ud;
    header_value(ptr, size * n, "content-type:", out->content_type, sizeof(out->content_type));
    header_value(ptr, size * n, "allow:", out->allow, sizeof(out->allow));
    header_value(ptr, size * n, "retry-after:", out->retry_after, sizeof(out->retry_after));
    return size * n;
}

int ts_http_accept(const char *method, const char *url, const char *bearer, const char *body,
                   const char *accept, long timeout_ms, struct ts_http_reply *out)
{
    memset(out, 0, sizeof(*out));
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char auth[4200], acc[300];
    if (bearer) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (accept) {
        snprintf(acc, sizeof(acc), "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, acc);
    }
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->len = b.len;
    out->body = pl_buf_take(&b);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

int ts_http(const char *method, const char *url, const char *bearer, const char *body,
            struct ts_http_reply *out)
{
    return ts_http_accept(method, url, bearer, body, NULL, 10000, out);
}

void ts_http_reply_free(struct ts_http_reply *r)
{
    pl_free(r->body);
    r->body = NULL;
}

json_t *ts_sse_events(const char *body)
{
    json_t *events = json_array();
    char event[64] = "";
    const char *p = body;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            goto bad; /* an unfinished line */
        size_t len = (size_t)(nl - p);
        if (len == 0) {
            event[0] = '\0'; /* the blank line after an event */
        } else if (p[0] == ':') {
            /* a comment (keep-alive) */
        } else if (len > 7 && strncmp(p, "event: ", 7) == 0) {
            snprintf(event, sizeof(event), "%.*s", (int)(len - 7), p + 7);
        } else if (len > 6 && strncmp(p, "data: ", 6) == 0) {
            json_t *data = json_loadb(p + 6, len - 6, 0, NULL);
            if (!data || !event[0] || nl[1] != '\n')
                goto bad;
            json_array_append_new(events, json_pack("{s:s,s:o}", "event", event, "data", data));
        } else {
            goto bad;
        }
        p = nl + 1;
    }
    return events;
bad:
    fprintf(stderr, "malformed event stream:\n%s\n", body);
    json_decref(events);
    return NULL;
}

char *ts_session_create(const char *base_url, char *sid)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/sessions", base_url);
    char *admin = ts_token("admin", "tests", NULL, 600);
    struct ts_http_reply r;
    int rc = ts_http("POST", url, admin, "{}", &r);
    pl_free(admin);
    char *token = NULL;
    json_t *j = rc == 0 && r.status == 201 ? json_loads(r.body, 0, NULL) : NULL;
    if (j) {
        snprintf(sid, 33, "%s", json_string_value(json_object_get(j, "session_id")));
        token = pl_strdup(json_string_value(json_object_get(j, "token")));
    } else {
        fprintf(stderr, "POST /v1/sessions failed: %ld %s\n", r.status, r.body ? r.body : "");
    }
    json_decref(j);
    ts_http_reply_free(&r);
    return token;
}

char *ts_token(const char *role, const char *sub, const char *sid, long ttl_s)
{
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    auth_role_parse(role, &c.role);
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    if (sid)
        snprintf(c.sid, sizeof(c.sid), "%s", sid);
    c.iat = (long long)time(NULL);
    c.exp = c.iat + ttl_s;
    return auth_token_mint((const unsigned char *)TS_JWT_SECRET, strlen(TS_JWT_SECRET), &c);
}
