/* Parley's own rate limits against a real redis-server and parleyd (the offline provider): a
 * session's messages past its burst are refused with rate_limited and retry_after_ms, on the
 * WebSocket and over HTTP (429, Retry-After), and nothing refused is stored; cancels count; the
 * bucket is in Redis, so a second instance sees the same one; all sessions of one address share
 * theirs (admins relaying for others excepted); one address may open only so many anonymous
 * sessions a minute, and an anonymous session without a message is kept minutes, not days; a
 * full session refuses new messages and keeps the rest; a limit of 0 turns it off and leaves no
 * key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define ADDRESS_MESSAGES "parley:addr:{127.0.0.1}:messages"
#define ADDRESS_SESSIONS "parley:addr:{127.0.0.1}:sessions"

static struct ts_stack st;
static struct ts_parleyd other; /* a second instance on the same Redis, same options */
/* The default limits (20 messages a minute per session after a burst of 10; 600 a minute per
 * address), with room for the messages a test sends at once. */
static const char *const parleyd_args[] = {"--local-pace-ms", "1", "--max-queued-messages", "32",
                                           NULL};

static int start_instance(struct ts_parleyd *p, const char *name, const char *const *args)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/%s", st.workdir, name);
    mkdir(dir, 0755);
    return ts_parleyd_start(p, dir, &st.redis, NULL, args);
}

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "rate_limits", NULL, parleyd_args))
        return -1;
    return start_instance(&other, "other", parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&other);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

/* Send a message and return what answers it: its ack or an error frame (turn frames of earlier
 * messages are skipped). */
static json_t *send_message(struct ts_caller *c, const char *id, const char *text)
{
    assert_int_equal(ts_caller_message(c, id, text), 0);
    for (;;) {
        json_t *f = ts_caller_recv(c, 10000);
        assert_non_null(f);
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!strcmp(type, "ack") || !strcmp(type, "error"))
            return f;
        json_decref(f);
    }
}

static void expect_ack(struct ts_caller *c, const char *id, long turn)
{
    json_t *f = send_message(c, id, id);
    const char *type = json_string_value(json_object_get(f, "type"));
    if (strcmp(type, "ack") != 0)
        fail_msg("message %s: %s", id, json_string_value(json_object_get(f, "message")));
    assert_string_equal(json_string_value(json_object_get(f, "id")), id);
    assert_int_equal(json_integer_value(json_object_get(f, "turn")), turn);
    json_decref(f);
}

/* The message is refused by a rate limit: exactly the frame's fields, retry_after_ms in
 * (0, max_wait_ms]. Returns retry_after_ms. */
static long expect_limited(struct ts_caller *c, const char *id, long max_wait_ms)
{
    json_t *f = send_message(c, id, id);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(f, "code")), "rate_limited");
    assert_string_equal(json_string_value(json_object_get(f, "message")),
                        "you are sending messages faster than this service allows; wait a "
                        "moment and send again");
    assert_true(json_is_true(json_object_get(f, "retryable")));
    json_t *after = json_object_get(f, "retry_after_ms");
    assert_true(json_is_integer(after));
    long ms = (long)json_integer_value(after);
    assert_true(ms > 0 && ms <= max_wait_ms);
    assert_int_equal(json_object_size(f), 5);
    json_decref(f);
    return ms;
}

/* The caller messages of the transcript, in order, joined with ',' (they are sent with their
 * ids as their texts). */
static char *caller_texts(const char *sid)
{
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", sid);
    assert_non_null(x);
    struct pl_buf out;
    pl_buf_init(&out, SIZE_MAX);
    pl_buf_append_str(&out, "");
    static const char needle[] = "role\ncaller\nturn\n";
    for (const char *p = strstr(x, needle); p; p = strstr(p, needle)) {
        p = strchr(p + sizeof(needle) - 1, '\n') + 1; /* after the turn number */
        assert_memory_equal(p, "text\n", 5);
        p += 5;
        size_t n = strcspn(p, "\n");
        pl_buf_printf(&out, "%s%.*s", out.len ? "," : "", (int)n, p);
    }
    pl_free(x);
    return pl_buf_take(&out);
}

static void expect_caller_texts(const char *sid, const char *want)
{
    char *got = caller_texts(sid);
    assert_string_equal(got, want);
    pl_free(got);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long redis_int(const char *fmt, const char *arg)
{
    char *v = ts_redis_query(&st.redis, fmt, arg);
    assert_non_null(v);
    long n = strtol(v, NULL, 10);
    pl_free(v);
    return n;
}

static void test_messages_past_the_burst_are_refused(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    char id[8];
    for (int i = 1; i <= 10; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        expect_ack(&c, id, i);
    }
    /* One message refills every 3 s: the eleventh waits for it. */
    expect_limited(&c, "m11", 3000);
    expect_limited(&c, "m12", 3000);
    /* Nothing refused is stored: the transcript holds exactly the ten acknowledged messages. */
    expect_caller_texts(c.session_id, "m1,m2,m3,m4,m5,m6,m7,m8,m9,m10");
    assert_int_equal(redis_int("HGET parley:{%s}:session turns", c.session_id), 10);
    /* The session's bucket is a field of its record (it goes with the session): the time at
     * which it is full again, ten messages (30 s) after the first. */
    char *full_at =
        ts_redis_query(&st.redis, "HGET parley:{%s}:session rate_full_at", c.session_id);
    long long left = strtoll(full_at, NULL, 10) - wall_ms();
    assert_true(left > 20000 && left <= 30000);
    pl_free(full_at);
    ts_caller_close(&c);
}

/* The loop the limit is for: a message, its answer cancelled at once, the next message. Each
 * cancel that stops an answer counts as a message, charged with the next one: the burst of 10
 * lets five pairs through. */
static void test_message_cancel_loop_is_refused_after_the_burst(void **state)
{
    (void)state;
    static const char *const args[] = {"--local-pace-ms", "20", NULL}; /* answers last ~1 s */
    struct ts_parleyd slow;
    assert_int_equal(start_instance(&slow, "slow", args), 0);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, slow.ws_url, NULL, 0, 0), 0);
    char id[8];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        expect_ack(&c, id, i);
        assert_int_equal(ts_caller_send(&c, "{\"type\":\"cancel\"}"), 0);
        struct ts_turn t;
        assert_int_equal(ts_caller_read_turn(&c, 10000, &t), 0);
        assert_int_equal(t.turn, i);
        assert_string_equal(t.stop_reason, "cancelled");
        ts_turn_free(&t);
    }
    /* 1 + 2 + 2 + 2 + 2 = 9 of 10 used: the sixth message and the fifth cancel need two. */
    expect_limited(&c, "m6", 3000);
    expect_caller_texts(c.session_id, "m1,m2,m3,m4,m5");
    /* Each answer was stopped and stored as such, and nothing else was answered. */
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", c.session_id);
    int cancelled = 0;
    for (const char *p = strstr(x, "stop_reason\ncancelled"); p;
         p = strstr(p + 1, "stop_reason\ncancelled"))
        cancelled++;
    assert_int_equal(cancelled, 5);
    assert_null(strstr(x, "end_turn"));
    pl_free(x);
    ts_caller_close(&c);
    assert_int_equal(ts_parleyd_stop(&slow), 0);
}

static void test_a_second_instance_sees_the_same_bucket(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    struct ts_caller a, b;
    assert_int_equal(ts_caller_open(&a, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(ts_caller_open(&b, other.ws_url, token, 0, 0), 0);
    char id[8];
    for (int i = 1; i <= 10; i++) {
        snprintf(id, sizeof(id), "%c%d", i % 2 ? 'a' : 'b', i);
        expect_ack(i % 2 ? &a : &b, id, i);
    }
    expect_limited(&b, "b11", 3000);
    expect_limited(&a, "a12", 3000);
    expect_caller_texts(sid, "a1,b2,a3,b4,a5,b6,a7,b8,a9,b10");
    ts_caller_close(&a);
    ts_caller_close(&b);
    pl_free(token);
}

static void test_sessions_of_one_address_share_its_limit(void **state)
{
    (void)state;
    static const char *const args[] = {"--local-pace-ms",
                                       "1",
                                       "--messages-per-minute",
                                       "0",
                                       "--messages-per-minute-per-address",
                                       "4",
                                       NULL};
    struct ts_parleyd strict;
    assert_int_equal(start_instance(&strict, "strict", args), 0);
    pl_free(ts_redis_query(&st.redis, "DEL " ADDRESS_MESSAGES)); /* the other tests' messages */
    struct ts_caller a, b;
    assert_int_equal(ts_caller_open(&a, strict.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_open(&b, strict.ws_url, NULL, 0, 0), 0);
    expect_ack(&a, "a1", 1);
    expect_ack(&a, "a2", 2);
    expect_ack(&b, "b1", 1);
    expect_ack(&a, "a3", 3);
    /* Four a minute, one every 15 s: both sessions are refused now. */
    expect_limited(&b, "b2", 15000);
    expect_limited(&a, "a4", 15000);
    expect_caller_texts(a.session_id, "a1,a2,a3");
    expect_caller_texts(b.session_id, "b1");
    long pttl = redis_int("PTTL %s", ADDRESS_MESSAGES);
    assert_true(pttl > 45000 && pttl <= 60000);

    /* An admin posting for a caller (a site's backend relays many) counts only in the
     * session's own limit, which is off here; the caller's own token counts by address. */
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/sessions/%s/messages?wait_ms=0", strict.port,
             a.session_id);
    char *admin = ts_token("admin", "site-backend", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin, "{\"text\":\"by admin\"}", &r), 0);
    assert_int_equal(r.status, 202);
    ts_http_reply_free(&r);
    assert_int_equal(ts_http("POST", url, a.token, "{\"text\":\"a5\"}", &r), 0);
    assert_int_equal(r.status, 429);
    ts_http_reply_free(&r);
    expect_caller_texts(a.session_id, "a1,a2,a3,by admin");
    pl_free(admin);
    ts_caller_close(&a);
    ts_caller_close(&b);
    assert_int_equal(ts_parleyd_stop(&strict), 0);
    /* Instances sharing Redis are meant to share their limits: this one's bucket would hold the
     * others back. */
    pl_free(ts_redis_query(&st.redis, "DEL " ADDRESS_MESSAGES));
}

/* Sessions in Redis (any instance's). */
static long count_sessions(void)
{
    char *keys = ts_redis_query(&st.redis, "KEYS parley:{*}:session");
    assert_non_null(keys);
    long n = keys[0] ? 1 : 0;
    for (const char *p = keys; (p = strchr(p, '\n')); p++)
        n++;
    pl_free(keys);
    return n;
}

static void test_anonymous_sessions_per_address(void **state)
{
    (void)state;
    static const char *const args[] = {"--anon-sessions-per-minute", "3", NULL};
    struct ts_parleyd few;
    assert_int_equal(start_instance(&few, "few", args), 0);
    pl_free(ts_redis_query(&st.redis, "DEL " ADDRESS_SESSIONS)); /* the other tests' sessions */
    long before = count_sessions();
    struct ts_caller c[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(ts_caller_open(&c[i], few.ws_url, NULL, 0, 0), 0);
    /* The fourth in a minute is refused, and nothing is created. */
    struct ts_caller d;
    assert_int_equal(ts_caller_connect(&d, few.ws_url), 0);
    assert_int_equal(ts_caller_send(&d, "{\"type\":\"hello\"}"), 0);
    json_t *f = ts_caller_recv(&d, 10000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(f, "code")), "rate_limited");
    assert_string_equal(json_string_value(json_object_get(f, "message")),
                        "too many new conversations were started from your address; wait a "
                        "moment and try again");
    assert_true(json_is_true(json_object_get(f, "retryable")));
    long ms = (long)json_integer_value(json_object_get(f, "retry_after_ms"));
    assert_true(ms > 0 && ms <= 20000); /* three a minute: one every 20 s */
    json_decref(f);
    assert_int_equal(count_sessions(), before + 3);
    long pttl = redis_int("PTTL %s", ADDRESS_SESSIONS);
    assert_true(pttl > 40000 && pttl <= 60000);
    /* A caller with a token is not a new session: the same connection may go on with one. */
    char hello[1200];
    snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"token\":\"%s\"}", c[0].token);
    assert_int_equal(ts_caller_send(&d, hello), 0);
    f = ts_caller_expect(&d, "ready", 10000);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "session_id")), c[0].session_id);
    json_decref(f);
    ts_caller_close(&d);
    for (int i = 0; i < 3; i++)
        ts_caller_close(&c[i]);
    assert_int_equal(ts_parleyd_stop(&few), 0);
    pl_free(ts_redis_query(&st.redis, "DEL " ADDRESS_SESSIONS));
}

static void test_empty_anonymous_sessions_expire_soon(void **state)
{
    (void)state;
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, NULL, 0, 0), 0);
    /* --anon-session-ttl (900 s) while it has no message, even when its caller comes back. */
    long ttl = redis_int("TTL parley:{%s}:session", c.session_id);
    assert_true(ttl > 880 && ttl <= 900);
    char *v = ts_redis_query(&st.redis, "HGET parley:{%s}:session empty_ttl", c.session_id);
    assert_string_equal(v, "900");
    pl_free(v);
    pl_free(ts_redis_query(&st.redis, "EXPIRE parley:{%s}:session 600", c.session_id));
    char *token = pl_strdup(c.token);
    ts_caller_close(&c);
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    ttl = redis_int("TTL parley:{%s}:session", c.session_id);
    assert_true(ttl > 880 && ttl <= 900);
    /* Its first message gives it --session-ttl (7 days), and its other keys with it. */
    expect_ack(&c, "m1", 1);
    const char *parts[] = {"session", "transcript", "client_ids"};
    for (int i = 0; i < 3; i++) {
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "TTL parley:{%%s}:%s", parts[i]);
        ttl = redis_int(cmd, c.session_id);
        assert_true(ttl > 604000 && ttl <= 604800);
    }
    ts_caller_close(&c);
    assert_int_equal(ts_caller_open(&c, st.parleyd.ws_url, token, 0, 0), 0);
    ttl = redis_int("TTL parley:{%s}:session", c.session_id);
    assert_true(ttl > 604000 && ttl <= 604800);
    ts_caller_close(&c);
    pl_free(token);
    /* A session a site's backend creates for its caller is kept --session-ttl from the start. */
    char sid[33];
    char *caller = ts_session_create(st.parleyd.url, sid);
    assert_non_null(caller);
    ttl = redis_int("TTL parley:{%s}:session", sid);
    assert_true(ttl > 604000 && ttl <= 604800);
    pl_free(caller);
}

/* A session holds at most --max-session-messages caller messages: the next is refused with
 * session_full, nothing is trimmed, and what was acknowledged stays acknowledged. */
static void test_a_full_session_refuses_new_messages(void **state)
{
    (void)state;
    static const char *const args[] = {"--local-pace-ms", "1", "--max-session-messages", "3", NULL};
    struct ts_parleyd small;
    assert_int_equal(start_instance(&small, "small", args), 0);
    char sid[33];
    char *token = ts_session_create(small.url, sid);
    assert_non_null(token);
    struct ts_caller c;
    assert_int_equal(ts_caller_open(&c, small.ws_url, token, 0, 0), 0);
    expect_ack(&c, "m1", 1);
    expect_ack(&c, "m2", 2);
    expect_ack(&c, "m3", 3);
    json_t *f = send_message(&c, "m4", "m4");
    char *frame = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(frame, "{\"type\":\"error\",\"code\":\"session_full\",\"message\":"
                               "\"this conversation has reached its limit of messages; please "
                               "start a new conversation\",\"retryable\":false}");
    free(frame);
    json_decref(f);
    /* A message already stored is still acknowledged with its turn when resent. */
    expect_ack(&c, "m2", 2);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=0", small.url, sid);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, token, "{\"text\":\"m5\"}", &r), 0);
    assert_int_equal(r.status, 409);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"session_full\",\"message\":\"this "
                                "conversation has reached its limit of messages; please start a "
                                "new conversation\",\"retryable\":false}}");
    assert_string_equal(r.retry_after, "");
    ts_http_reply_free(&r);
    expect_caller_texts(sid, "m1,m2,m3");
    assert_int_equal(redis_int("HGET parley:{%s}:session turns", sid), 3);
    assert_int_equal(redis_int("HLEN parley:{%s}:client_ids", sid), 3);
    ts_caller_close(&c);
    pl_free(token);
    assert_int_equal(ts_parleyd_stop(&small), 0);
}

static void test_zero_turns_the_limits_off(void **state)
{
    (void)state;
    static const char *const args[] = {"--local-pace-ms",
                                       "1",
                                       "--max-queued-messages",
                                       "64",
                                       "--messages-per-minute",
                                       "0",
                                       "--messages-per-minute-per-address",
                                       "0",
                                       "--anon-sessions-per-minute",
                                       "0",
                                       NULL};
    struct ts_parleyd open;
    assert_int_equal(start_instance(&open, "open", args), 0);
    pl_free(ts_redis_query(&st.redis, "DEL " ADDRESS_MESSAGES " " ADDRESS_SESSIONS));
    struct ts_caller c;
    for (int i = 0; i < 40; i++) { /* more than the default 30 anonymous sessions a minute */
        assert_int_equal(ts_caller_open(&c, open.ws_url, NULL, 0, 0), 0);
        ts_caller_close(&c);
    }
    assert_int_equal(ts_caller_open(&c, open.ws_url, NULL, 0, 0), 0);
    char id[8];
    for (int i = 1; i <= 40; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        expect_ack(&c, id, i);
    }
    assert_int_equal(redis_int("HEXISTS parley:{%s}:session rate_full_at", c.session_id), 0);
    assert_int_equal(redis_int("EXISTS %s", ADDRESS_MESSAGES), 0);
    assert_int_equal(redis_int("EXISTS %s", ADDRESS_SESSIONS), 0);
    ts_caller_close(&c);
    assert_int_equal(ts_parleyd_stop(&open), 0);
}

static void test_http_refusal_is_429_with_retry_after(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=0", st.parleyd.url, sid);
    struct ts_http_reply r;
    for (int i = 1; i <= 10; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"id\":\"h%d\",\"text\":\"h%d\"}", i, i);
        assert_int_equal(ts_http("POST", url, token, body, &r), 0);
        assert_int_equal(r.status, 202);
        assert_string_equal(r.retry_after, "");
        ts_http_reply_free(&r);
    }
    assert_int_equal(ts_http("POST", url, token, "{\"id\":\"h11\",\"text\":\"h11\"}", &r), 0);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.content_type, "application/json");
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    long ms = (long)json_integer_value(json_object_get(e, "retry_after_ms"));
    assert_true(ms > 0 && ms <= 3000);
    char want[300];
    snprintf(want, sizeof(want),
             "{\"error\":{\"code\":\"rate_limited\",\"message\":\"you are sending messages "
             "faster than this service allows; wait a moment and send again\","
             "\"retryable\":true,\"retry_after_ms\":%ld}}",
             ms);
    assert_string_equal(r.body, want);
    /* Retry-After is in whole seconds, rounded up. */
    char secs[24];
    snprintf(secs, sizeof(secs), "%ld", (ms + 999) / 1000);
    assert_string_equal(r.retry_after, secs);
    json_decref(j);
    ts_http_reply_free(&r);
    expect_caller_texts(sid, "h1,h2,h3,h4,h5,h6,h7,h8,h9,h10");
    pl_free(token);
}

/* A poll that must read the transcript (the turn is not live on the instance asked) is charged
 * to the session's poll bucket: 120 a minute after a burst of 20 by default. */
static void test_polls_that_read_redis_are_limited(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/messages?wait_ms=10000", st.parleyd.url, sid);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, token, "{\"id\":\"p1\",\"text\":\"p1\"}", &r), 0);
    assert_int_equal(r.status, 200);
    ts_http_reply_free(&r);
    /* Asked of the other instance, which does not hold the session: each poll reads Redis. */
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/turns/1", other.url, sid);
    for (int i = 1; i <= 20; i++) {
        assert_int_equal(ts_http("GET", url, token, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        ts_http_reply_free(&r);
    }
    assert_int_equal(ts_http("GET", url, token, NULL, &r), 0);
    assert_int_equal(r.status, 429);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    long ms =
        (long)json_integer_value(json_object_get(json_object_get(j, "error"), "retry_after_ms"));
    assert_true(ms > 0 && ms <= 500); /* one poll comes back every 500 ms */
    char want[300];
    snprintf(want, sizeof(want),
             "{\"error\":{\"code\":\"rate_limited\",\"message\":\"this conversation's answers "
             "are asked for faster than this service allows; ask again after retry_after_ms\","
             "\"retryable\":true,\"retry_after_ms\":%ld}}",
             ms);
    assert_string_equal(r.body, want);
    assert_string_equal(r.retry_after, "1");
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_past_the_burst_are_refused),
        cmocka_unit_test(test_message_cancel_loop_is_refused_after_the_burst),
        cmocka_unit_test(test_a_second_instance_sees_the_same_bucket),
        cmocka_unit_test(test_sessions_of_one_address_share_its_limit),
        cmocka_unit_test(test_anonymous_sessions_per_address),
        cmocka_unit_test(test_empty_anonymous_sessions_expire_soon),
        cmocka_unit_test(test_a_full_session_refuses_new_messages),
        cmocka_unit_test(test_zero_turns_the_limits_off),
        cmocka_unit_test(test_http_refusal_is_429_with_retry_after),
        cmocka_unit_test(test_polls_that_read_redis_are_limited),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
