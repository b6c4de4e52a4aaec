/* Scripted web caller; see caller.h. */
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/wsc.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ts_caller_connect(struct ts_caller *c, const char *ws_url)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    c->ws = wsc_connect(ws_url, "parley.chat.v1", 5000, err, sizeof(err));
    if (!c->ws) {
        fprintf(stderr, "connect %s: %s\n", ws_url, err);
        return -1;
    }
    return 0;
}

int ts_agent_connect(struct ts_caller *a, int port)
{
    memset(a, 0, sizeof(*a));
    char url[96], err[256];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/v1/agent", port);
    a->ws = wsc_connect(url, "parley.agent.v1", 5000, err, sizeof(err));
    if (!a->ws) {
        fprintf(stderr, "connect %s: %s\n", url, err);
        return -1;
    }
    return 0;
}

int ts_agent_open(struct ts_caller *a, int port, const char *role, const char *sub, json_t **ready)
{
    if (ts_agent_connect(a, port))
        return -1;
    char *token = ts_token(role, sub, NULL, 600);
    json_t *hello = json_pack("{s:s,s:s}", "type", "hello", "token", token);
    free(token);
    char *text = json_dumps(hello, JSON_COMPACT);
    json_decref(hello);
    int rc = ts_caller_send(a, text);
    free(text);
    json_t *f = rc == 0 ? ts_caller_recv(a, 5000) : NULL;
    const char *type = f ? json_string_value(json_object_get(f, "type")) : NULL;
    if (!type || strcmp(type, "ready") != 0) {
        char *got = f ? json_dumps(f, JSON_COMPACT) : NULL;
        fprintf(stderr, "agent hello as %s: %s\n", sub, got ? got : "no answer");
        free(got);
        json_decref(f);
        return -1;
    }
    if (ready)
        *ready = f;
    else
        json_decref(f);
    return 0;
}

int ts_caller_open(struct ts_caller *c, const char *ws_url, const char *token, long resume_turn,
                   long resume_seq)
{
    if (ts_caller_connect(c, ws_url))
        return -1;
    json_t *hello = json_pack("{s:s}", "type", "hello");
    if (token)
        json_object_set_new(hello, "token", json_string(token));
    if (resume_turn > 0)
        json_object_set_new(
            hello, "resume",
            json_pack("{s:I,s:I}", "turn", (json_int_t)resume_turn, "seq", (json_int_t)resume_seq));
    char *s = json_dumps(hello, JSON_COMPACT);
    json_decref(hello);
    ts_caller_send(c, s);
    free(s);
    json_t *f = ts_caller_recv(c, 10000);
    const char *type = f ? json_string_value(json_object_get(f, "type")) : NULL;
    if (!type || strcmp(type, "ready") != 0) {
        char *d = f ? json_dumps(f, JSON_COMPACT) : NULL;
        fprintf(stderr, "expected ready, got %s\n", d ? d : "nothing");
        free(d);
        json_decref(f);
        return -1;
    }
    snprintf(c->session_id, sizeof(c->session_id), "%s",
             json_string_value(json_object_get(f, "session_id")));
    c->token = pl_strdup(json_string_value(json_object_get(f, "token")));
    json_decref(f);
    f = ts_caller_expect(c, "history", 10000);
    if (!f)
        return -1;
    c->history = json_incref(json_object_get(f, "messages"));
    json_decref(f);
    return 0;
}

void ts_caller_close(struct ts_caller *c)
{
    if (c->ws)
        wsc_close(c->ws);
    c->ws = NULL;
    pl_free(c->token);
    c->token = NULL;
    json_decref(c->history);
    c->history = NULL;
}

int ts_caller_send(struct ts_caller *c, const char *text)
{
    return wsc_send_text(c->ws, text, strlen(text));
}

int ts_caller_message(struct ts_caller *c, const char *id, const char *text)
{
    json_t *m = json_pack("{s:s,s:s,s:s}", "type", "message", "id", id, "text", text);
    char *s = json_dumps(m, JSON_COMPACT);
    int rc = ts_caller_send(c, s);
    free(s);
    json_decref(m);
    return rc;
}

json_t *ts_caller_recv(struct ts_caller *c, int timeout_ms)
{
    char *msg = NULL;
    size_t len = 0;
    int opcode = 0;
    if (wsc_recv(c->ws, timeout_ms, &msg, &len, &opcode) != 0)
        return NULL;
    json_error_t e;
    json_t *j = json_loadb(msg, len, 0, &e);
    if (!j)
        fprintf(stderr, "server sent non-JSON: %.*s\n", (int)len, msg);
    pl_free(msg);
    return j;
}

json_t *ts_caller_expect(struct ts_caller *c, const char *type, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0)
            break;
        json_t *f = ts_caller_recv(c, (int)left);
        if (!f)
            break;
        const char *t = json_string_value(json_object_get(f, "type"));
        if (t && strcmp(t, type) == 0)
            return f;
        json_decref(f);
    }
    fprintf(stderr, "no %s frame within %d ms\n", type, timeout_ms);
    return NULL;
}

int ts_caller_read_turn(struct ts_caller *c, int timeout_ms, struct ts_turn *out)
{
    memset(out, 0, sizeof(*out));
    out->turn = -1;
    out->seq_ok = true;
    struct pl_buf text;
    pl_buf_init(&text, SIZE_MAX);
    long long end = now_ms() + timeout_ms;
    int rc = -1;
    for (;;) {
        long long left = end - now_ms();
        if (out->error_code[0] && left > 2000)
            left = 2000; /* after an error, its turn_end follows at once */
        json_t *f = left > 0 ? ts_caller_recv(c, (int)left) : NULL;
        if (!f)
            break;
        const char *t = json_string_value(json_object_get(f, "type"));
        long turn = (long)json_integer_value(json_object_get(f, "turn"));
        if (!t) {
            /* not a protocol frame: ignore */
        } else if (!strcmp(t, "turn_start")) {
            out->turn = turn;
        } else if (!strcmp(t, "delta")) {
            if (out->turn < 0)
                out->turn = turn;
            if (json_integer_value(json_object_get(f, "seq")) != out->n_deltas || turn != out->turn)
                out->seq_ok = false;
            out->n_deltas++;
            pl_buf_append_str(&text, json_string_value(json_object_get(f, "text")));
        } else if (!strcmp(t, "turn_end")) {
            out->turn = turn;
            json_t *in = json_object_get(f, "answered_in");
            out->answered_in = in ? (long)json_integer_value(in) : turn;
            snprintf(out->stop_reason, sizeof(out->stop_reason), "%s",
                     json_string_value(json_object_get(f, "stop_reason")));
            json_t *u = json_object_get(f, "usage");
            out->input_tokens = (long)json_integer_value(json_object_get(u, "input_tokens"));
            out->output_tokens = (long)json_integer_value(json_object_get(u, "output_tokens"));
            rc = 0;
        } else if (!strcmp(t, "error")) {
            snprintf(out->error_code, sizeof(out->error_code), "%s",
                     json_string_value(json_object_get(f, "code")));
            snprintf(out->error_message, sizeof(out->error_message), "%s",
                     json_string_value(json_object_get(f, "message")));
            out->error_retryable = json_is_true(json_object_get(f, "retryable"));
            out->error_retry_after_ms =
                (long)json_integer_value(json_object_get(f, "retry_after_ms"));
            if (out->turn < 0)
                rc = 1; /* the turn never started: its turn_end follows, if it was acknowledged */
        }
        json_decref(f);
        if (rc == 0)
            break;
    }
    if (rc == 1)
        rc = 0;
    if (!text.data)
        pl_buf_append_str(&text, "");
    out->text = pl_buf_take(&text);
    return rc;
}

void ts_turn_free(struct ts_turn *t)
{
    pl_free(t->text);
    t->text = NULL;
}

int ts_caller_ask(struct ts_caller *c, const char *id, const char *text, int timeout_ms,
                  struct ts_turn *out)
{
    memset(out, 0, sizeof(*out));
    if (ts_caller_message(c, id, text))
        return -1;
    json_t *ack = ts_caller_expect(c, "ack", timeout_ms);
    if (!ack)
        return -1;
    json_decref(ack);
    return ts_caller_read_turn(c, timeout_ms, out);
}
