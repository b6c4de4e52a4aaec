/* A test double of the AWS Lambda Runtime API (PROTOCOLS.md 6H) on a test's own libuv loop, for
 * parley-lambda's tests: the test queues events; GET /2018-06-01/runtime/invocation/next waits
 * until one is queued (as Lambda's does, with no timeout) and serves it with Lambda's headers;
 * POST .../invocation/{id}/response, .../invocation/{id}/error and /runtime/init/error are
 * answered 202 and recorded (body and headers), so a test asserts on what the runtime sent.
 * /next can be made to answer 500, the signal that makes a runtime exit. Every request is
 * logged; a request Lambda would refuse is answered as Lambda does and counted. */
#ifndef PARLEY_TESTS_FAKES_FAKE_LAMBDA_RUNTIME_H
#define PARLEY_TESTS_FAKES_FAKE_LAMBDA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"
#include "tests/fakes/fake_http.h"

#define FAKE_LAMBDA_FUNCTION_ARN "arn:aws:lambda:eu-west-2:111122223333:function:parley-forwarder"
#define FAKE_LAMBDA_RECORDS_MAX  64

enum fake_lambda_kind {
    FAKE_LAMBDA_RESPONSE,   /* POST /runtime/invocation/{id}/response */
    FAKE_LAMBDA_ERROR,      /* POST /runtime/invocation/{id}/error */
    FAKE_LAMBDA_INIT_ERROR, /* POST /runtime/init/error */
};

/* What the runtime posted. */
struct fake_lambda_record {
    enum fake_lambda_kind kind;
    char request_id[160]; /* "" for init/error */
    char *body;           /* new, NUL-terminated */
    size_t len;
    char content_type[128];
    char error_type[128]; /* Lambda-Runtime-Function-Error-Type, "" when absent */
    int64_t t_epoch_ms;   /* CLOCK_REALTIME ms when it arrived (deadlines are epoch ms) */
};

struct fake_lambda_event;

struct fake_lambda_runtime {
    /* Behaviour: the test sets these at any time. */
    bool fail_next;  /* the waiting and every later /next answer 500 */
    int post_status; /* 0: POSTs are answered 202 and recorded; else this status, unrecorded */

    /* What it saw. */
    unsigned requests; /* every request */
    unsigned nexts;    /* GET /next received */
    unsigned served;   /* events handed out */
    unsigned refused;  /* requests Lambda would refuse (also printed as REQUEST CHECK FAILED) */
    struct fake_lambda_record records[FAKE_LAMBDA_RECORDS_MAX];
    size_t n_records;
    struct pl_buf log; /* one JSON line per request: n, t_ms, method, path, status */

    char api[64]; /* "127.0.0.1:PORT": AWS_LAMBDA_RUNTIME_API for the runtime */

    /* Internals. */
    struct fake_http _http;
    struct fake_http_req *_waiting; /* a /next with no event yet */
    struct fake_lambda_event *_queue, *_queue_tail;
    struct fake_lambda_event *_served; /* handed out, answered or not */
};

/** Listen on 127.0.0.1, a free port (in `api`); 0 or a libuv error. */
int fake_lambda_runtime_start(struct fake_lambda_runtime *f, uv_loop_t *loop);
/** Stop; the loop then runs until the connections are closed. Records stay readable until
 *  fake_lambda_runtime_cleanup. */
void fake_lambda_runtime_stop(struct fake_lambda_runtime *f);
void fake_lambda_runtime_cleanup(struct fake_lambda_runtime *f);

/** Queue an event (the body is copied): `deadline_ms` is epoch ms, `trace_id` NULL sends no
 *  Lambda-Runtime-Trace-Id. A waiting /next gets it at once. */
void fake_lambda_runtime_push(struct fake_lambda_runtime *f, const char *request_id,
                              int64_t deadline_ms, const char *trace_id, const char *body,
                              size_t len);
/** Make /next answer 500 from now on (and the waiting one now). */
void fake_lambda_runtime_fail(struct fake_lambda_runtime *f);

/** The record the runtime posted for `request_id` ("" for init/error), or NULL. */
const struct fake_lambda_record *fake_lambda_runtime_record(const struct fake_lambda_runtime *f,
                                                            const char *request_id);

#endif
