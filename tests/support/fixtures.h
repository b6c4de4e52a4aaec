/* The three servers of an integration test: a real redis-server (AOF on, restartable on the
 * same port and data), the upstream double, and parleyd pointed at both. Plus small blocking
 * helpers to read Redis and make HTTP requests. Test code only. */
#ifndef PARLEY_TESTS_SUPPORT_FIXTURES_H
#define PARLEY_TESTS_SUPPORT_FIXTURES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tests/support/process.h"

#define TS_JWT_SECRET "integration-test-secret-0123456789abcdef"
#define TS_API_KEY    "test-key"

struct ts_redis {
    struct ts_proc proc;
    int port;
    char dir[600];
};

/** Start redis-server in `workdir`/redis on a free port. 0 or -1. */
int ts_redis_start(struct ts_redis *r, const char *workdir);
/** Start it again on the same port with the same data (after ts_redis_stop). */
int ts_redis_restart(struct ts_redis *r);
void ts_redis_stop(struct ts_redis *r);

/** Run a Redis command (printf-style, hiredis syntax) and return the reply as text: a string or
 *  integer as is, an array as its elements joined with '\n', nil as "(nil)". New string, or
 *  NULL on a connection error. */
char *ts_redis_query(const struct ts_redis *r, const char *fmt, ...);
/** Poll `fmt`'s reply (every 5 ms) until it ends with `suffix`: true, or false after
 *  `timeout_ms`. */
bool ts_redis_wait(const struct ts_redis *r, const char *suffix, int timeout_ms, const char *fmt,
                   ...);
/** The same with a va_list, after AUTH with `password` when not NULL. */
char *ts_redis_vquery(const struct ts_redis *r, const char *password, const char *fmt, va_list ap);

/** Calls of a Redis command so far (INFO commandstats, which counts calls made inside scripts
 *  too), e.g. ts_redis_calls(r, "evalsha"). */
long ts_redis_calls(const struct ts_redis *r, const char *command);

/* The outcome of a call whose callback takes (ud, status), for tests that run a loop. */
struct ts_done {
    bool done;
    int status;
};
/** A callback of that shape: `ud` is a struct ts_done. */
void ts_on_done(void *ud, int status);

struct ts_upstream {
    struct ts_proc proc;
    int port;
    char log[512]; /* its request log (one JSON line per request) */
};

/** Start the upstream double with extra arguments (NULL-terminated list, may be NULL). */
int ts_upstream_start(struct ts_upstream *u, const char *workdir, const char *const *args);
void ts_upstream_stop(struct ts_upstream *u);
/** How many requests in the double's log hold `marker` (0 when there is no log yet). */
int ts_upstream_requests_with(const struct ts_upstream *u, const char *marker);
/** The system prompt (a string, or the text of its first block) of the first request in the
 *  double's log whose last message contains `marker` (new string); polled for 10 s, since the
 *  log line may land just after the answer. NULL when no such request was logged. */
char *ts_upstream_system_prompt(const struct ts_upstream *u, const char *marker);

struct ts_parleyd {
    struct ts_proc proc;
    int port;
    int nofile;             /* its descriptor limit (0: inherited) */
    char url[64];           /* http://127.0.0.1:PORT */
    char ws_url[64];        /* ws://127.0.0.1:PORT/v1/chat */
    const char *const *env; /* extra environment ("K=V", NULL-terminated), kept for restarts */
};

/** Start parleyd on a free port against `redis` and `upstream` (NULL: the local provider), with
 *  --allow-anonymous and TS_JWT_SECRET, plus extra arguments (NULL-terminated, may be NULL).
 *  Waits until /healthz answers. */
int ts_parleyd_start(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                     const struct ts_upstream *upstream, const char *const *args);
/** The same with extra environment entries ("K=V", NULL-terminated, valid until the stop), e.g.
 *  the AWS credentials of a Bedrock provider. */
int ts_parleyd_start_env(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                         const struct ts_upstream *upstream, const char *const *args,
                         const char *const *env);
/** The same with the descriptor limit (ulimit -n) set to `nofile` in parleyd's process. */
int ts_parleyd_start_nofile(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                            const struct ts_upstream *upstream, const char *const *args,
                            int nofile);
/** Same again on the same port (after a stop). */
int ts_parleyd_restart(struct ts_parleyd *p, const char *workdir, const struct ts_redis *redis,
                       const struct ts_upstream *upstream, const char *const *args);
/** SIGTERM and wait; returns parleyd's exit status (0 = clean, every handle closed). */
int ts_parleyd_stop(struct ts_parleyd *p);

/* The usual set of one test program: redis-server, (optionally) the double, and parleyd. */
struct ts_stack {
    char workdir[512];
    struct ts_redis redis;
    struct ts_upstream upstream;
    bool with_upstream;
    struct ts_parleyd parleyd;
    const char *const *parleyd_args;
};

/** Start everything for test program `name`. `upstream_args` NULL: no double (parleyd uses the
 *  local provider); otherwise the double's extra arguments (NULL-terminated). `parleyd_args`
 *  (NULL-terminated, may be NULL) must stay valid until ts_stack_stop. 0 or -1. */
int ts_stack_start(struct ts_stack *s, const char *name, const char *const *upstream_args,
                   const char *const *parleyd_args);
/** A second instance `b` on the stack's Redis and double (workdir/b), with `args`. 0 or -1. */
int ts_stack_start_second(struct ts_stack *s, struct ts_parleyd *b, const char *const *args);
/** Start parleyd again on the same port with the same arguments (after a stop or a kill). */
int ts_stack_restart_parleyd(struct ts_stack *s);
/** Stop parleyd, the double and Redis. 0 only if parleyd exited cleanly (every handle closed,
 *  no sanitizer report). */
int ts_stack_stop(struct ts_stack *s);

struct ts_http_reply {
    long status;
    char *body; /* new, NUL-terminated */
    size_t len;
    char content_type[128]; /* response headers, "" when absent */
    char allow[64];
    char retry_after[16];
};

/** Blocking HTTP request (libcurl easy). `bearer` and `body` may be NULL. 0 or -1; `out` is
 *  filled either way (what arrived before a failure): free it either way. */
int ts_http(const char *method, const char *url, const char *bearer, const char *body,
            struct ts_http_reply *out);
/** The same with an Accept header (NULL: none) and a timeout. */
int ts_http_accept(const char *method, const char *url, const char *bearer, const char *body,
                   const char *accept, long timeout_ms, struct ts_http_reply *out);
void ts_http_reply_free(struct ts_http_reply *r);

/** POST the JSON `body` to `url` with the headers X-Parley-Timestamp: `ts` and
 *  X-Parley-Signature: `signature` (the whole value, "v1=HEX,..."); a NULL one is left out (the
 *  webhooks' signing, docs/lex-connect.md). Returns the HTTP status (0: no answer) with the body
 *  in *out (new, NUL-terminated). */
long ts_post_signed(const char *url, const char *ts, const char *signature, const char *body,
                    char **out);

/** Split a text/event-stream body into its events: a JSON array of {"event":NAME,"data":OBJ}
 *  (data parsed as JSON; a comment line is left out). NULL if an event's data is not JSON or
 *  the body does not end with a complete event. */
json_t *ts_sse_events(const char *body);

/** Create a session with an admin token (POST /v1/sessions) on `base_url`; fills `sid` (33
 *  bytes) and returns the caller token (new), or NULL. */
char *ts_session_create(const char *base_url, char *sid);

/** A caller token for session `sid` (or an admin/agent token when role says so), signed with
 *  TS_JWT_SECRET, expiring `ttl_s` from now (negative: already expired). New string. */
char *ts_token(const char *role, const char *sub, const char *sid, long ttl_s);

#endif
