/* A scripted web caller for integration tests: a parley.chat.v1 WebSocket connection (wsc.h)
 * with helpers to say hello, send messages and collect the frames of a turn. Every received
 * frame is parsed with jansson; assertions stay in the tests. Test code only. */
#ifndef PARLEY_TESTS_SUPPORT_CALLER_H
#define PARLEY_TESTS_SUPPORT_CALLER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct wsc;

struct ts_caller {
    struct wsc *ws;
    char session_id[65];
    char *token;     /* from ready */
    json_t *history; /* the history frame's messages array */
};

/** Connect to `ws_url` (parley.chat.v1) without saying anything. 0 or -1. */
int ts_caller_connect(struct ts_caller *c, const char *ws_url);
/** Connect, send hello (with `token` if not NULL, and resume if resume_turn > 0), and wait for
 *  ready and history. 0, or -1 (an error frame or timeout; printed). */
int ts_caller_open(struct ts_caller *c, const char *ws_url, const char *token, long resume_turn,
                   long resume_seq);
void ts_caller_close(struct ts_caller *c);

/* The same helpers speak the agent protocol on a connection opened by these. */

/** Connect to the agent WebSocket of the parleyd on 127.0.0.1:`port` (parley.agent.v1) without
 *  saying anything. 0 or -1 (printed). */
int ts_agent_connect(struct ts_caller *a, int port);
/** Connect, say hello with a new token of `role` ("agent" or "admin") for `sub`, and wait for
 *  ready: 0 with the ready frame in *ready (a new reference) when `ready` is not NULL, or -1
 *  (printed). */
int ts_agent_open(struct ts_caller *a, int port, const char *role, const char *sub, json_t **ready);

/** Send a text frame as is. */
int ts_caller_send(struct ts_caller *c, const char *text);
/** Send {"type":"message","id":id,"text":text}. */
int ts_caller_message(struct ts_caller *c, const char *id, const char *text);

/** The next frame (new reference), or NULL after timeout_ms or on close. */
json_t *ts_caller_recv(struct ts_caller *c, int timeout_ms);
/** The next frame whose type is `type`, skipping others; NULL on timeout/close. */
json_t *ts_caller_expect(struct ts_caller *c, const char *type, int timeout_ms);

/* A turn as the caller saw it. */
struct ts_turn {
    long turn;
    char *text; /* deltas concatenated (new) */
    long n_deltas;
    bool seq_ok; /* seq ran 0, 1, 2, ... without gaps */
    char stop_reason[32];
    long answered_in; /* the turn whose answer covered it (== turn unless another did) */
    long input_tokens, output_tokens;
    char error_code[32]; /* an error frame (its turn_end follows when it was acknowledged) */
    char error_message[320];
    bool error_retryable;
    long error_retry_after_ms; /* the error frame's retry_after_ms (0: none) */
};

/** Read frames until the turn_end of the next turn (or an error that no turn_end follows within
 *  2 s); acks are skipped. 0 or -1 on timeout. */
int ts_caller_read_turn(struct ts_caller *c, int timeout_ms, struct ts_turn *out);
void ts_turn_free(struct ts_turn *t);

/** Send a message, expect its ack, then read its turn. 0 or -1. */
int ts_caller_ask(struct ts_caller *c, const char *id, const char *text, int timeout_ms,
                  struct ts_turn *out);

#endif
