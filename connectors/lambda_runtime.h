/* The AWS Lambda custom runtime API (PROTOCOLS.md 6H) as parley-lambda speaks it, without the
 * I/O: reading an invocation's headers, the Runtime API's URLs and error bodies, telling a Lex
 * event from a Connect one, where to forward it (PARLEY_WEBHOOK_URL), how long Parley may take
 * before the deadline, whether Parley's answer can be handed back, and the fallback answers
 * for when it cannot (docs/lambda.md). Pure functions; the blocking HTTP lives in
 * bot/parley_lambda.c. Fuzzed by tests/fuzz/fuzz_lambda_runtime.c. */
#ifndef PARLEY_CONNECTORS_LAMBDA_RUNTIME_H
#define PARLEY_CONNECTORS_LAMBDA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/connect_proto.h"
#include "connectors/lex_proto.h"

/* Lambda's request ids are UUIDs; a little room, since the id goes into a URL path. */
#define LAMBDA_REQUEST_ID_MAX 128
/* An X-Ray trace header ("Root=1-...;Parent=...;Sampled=1") is well under this. */
#define LAMBDA_TRACE_ID_MAX 512
/* Longest URL built or taken (PARLEY_WEBHOOK_URL, the Runtime API's). */
#define LAMBDA_URL_MAX 2048
/* A synchronous invocation's event and response are at most 6 MB (Lambda's quota). */
#define LAMBDA_PAYLOAD_MAX (6 * 1024 * 1024)
/* What parley-lambda keeps back from the deadline to answer the fallback in time. */
#define LAMBDA_MARGIN_MS_DEFAULT 500
/* The message a Lex caller hears when Parley cannot answer (PARLEY_LEX_FALLBACK_MESSAGE). */
#define LAMBDA_LEX_FALLBACK_DEFAULT                                                                \
    "Sorry, I can't help with that right now. Please try again in a moment."

/* One invocation as read from the headers of GET /runtime/invocation/next. */
struct lambda_invocation {
    char request_id[LAMBDA_REQUEST_ID_MAX + 1]; /* "" until read */
    int64_t deadline_ms;                        /* epoch ms; -1 until read */
    char trace_id[LAMBDA_TRACE_ID_MAX + 1];     /* "" when none was sent */
    bool malformed;                             /* one of the three arrived unusable */
};

void lambda_invocation_init(struct lambda_invocation *inv);
/** Read one header line as the server sent it ("Name: value", with or without its CRLF; the
 *  name in any case). Lambda-Runtime-Aws-Request-Id (1 to LAMBDA_REQUEST_ID_MAX of
 *  [A-Za-z0-9._-]), Lambda-Runtime-Deadline-Ms (decimal digits, at most 15) and
 *  Lambda-Runtime-Trace-Id (printable ASCII, at most LAMBDA_TRACE_ID_MAX) are kept; one that
 *  breaks those rules sets `malformed`; other lines are ignored. */
void lambda_invocation_header(struct lambda_invocation *inv, const char *line, size_t len);
/** PL_OK when a request id and a deadline were read and nothing was malformed; else PL_EPROTO
 *  with the reason in `err`. */
int lambda_invocation_check(const struct lambda_invocation *inv, char *err, size_t errlen);

enum lambda_endpoint {
    LAMBDA_NEXT,       /* GET  /runtime/invocation/next */
    LAMBDA_RESPONSE,   /* POST /runtime/invocation/{id}/response */
    LAMBDA_ERROR,      /* POST /runtime/invocation/{id}/error */
    LAMBDA_INIT_ERROR, /* POST /runtime/init/error */
};

/** The URL of `endpoint` on the Runtime API at `api` ($AWS_LAMBDA_RUNTIME_API, "host:port"),
 *  for `request_id` where the endpoint needs one. PL_OK, PL_EINVAL (an empty api, or one with
 *  a byte outside [A-Za-z0-9.:[]-]), PL_ETOOBIG (`outlen` too small). */
int lambda_runtime_url(char *out, size_t outlen, const char *api, enum lambda_endpoint endpoint,
                       const char *request_id);

/** The body of an error report: {"errorMessage":M,"errorType":T,"stackTrace":[]} (new string). */
char *lambda_error_json(const char *type, const char *message);

enum lambda_event_kind { LAMBDA_EVENT_UNKNOWN, LAMBDA_EVENT_LEX, LAMBDA_EVENT_CONNECT };

/* An event read to know its kind and to build a fallback for it. */
struct lambda_event {
    enum lambda_event_kind kind;
    struct lex_event lex;         /* LAMBDA_EVENT_LEX */
    struct connect_event connect; /* LAMBDA_EVENT_CONNECT */
};

/** Read `len` bytes of an event: a Connect contact-flow event (an object with Details) read by
 *  connect_event_parse, or a Lex V2 code-hook event (an object with sessionState,
 *  invocationSource or bot) read by lex_event_parse. PL_OK with the kind, or PL_EINVAL with
 *  kind UNKNOWN and the reason in `err` (not JSON, neither shape, or the reader's refusal).
 *  Free with lambda_event_cleanup in both cases. */
int lambda_event_read(const char *body, size_t len, struct lambda_event *out, char *err,
                      size_t errlen);
void lambda_event_cleanup(struct lambda_event *e);
/** "lex", "connect" or "unknown". */
const char *lambda_event_kind_name(enum lambda_event_kind kind);

/* Where events go: PARLEY_WEBHOOK_URL read once at start. */
struct lambda_target {
    char url[LAMBDA_URL_MAX + 1]; /* as given, minus trailing slashes of a base */
    bool fixed;                   /* a full endpoint: every event goes there */
};

/** Read PARLEY_WEBHOOK_URL: http:// or https://, a host of [A-Za-z0-9.:[]-] (no user info),
 *  then a path of printable ASCII without a query or fragment. A path ending in /v1/lex or
 *  /v1/connect is an endpoint that takes every event; any other is a base to which each
 *  event's path is added. PL_OK or PL_EINVAL with the reason in `err`. */
int lambda_target_parse(const char *url, struct lambda_target *t, char *err, size_t errlen);
/** The URL an event of `kind` goes to: the endpoint, or the base + "/v1/lex" or
 *  "/v1/connect". PL_OK, PL_EINVAL (a base and an unknown kind), PL_ETOOBIG. */
int lambda_target_url(const struct lambda_target *t, enum lambda_event_kind kind, char *out,
                      size_t outlen);

/** How long Parley may take: `deadline_ms` - `now_ms` - `margin_ms`, at most `cap_ms` (when
 *  > 0); 0 when no time is left (answer the fallback at once). */
int64_t lambda_forward_budget_ms(int64_t deadline_ms, int64_t now_ms, int64_t margin_ms,
                                 int64_t cap_ms);

/** Whether Parley's 2xx answer can go back as it is: a JSON object; for Lex with
 *  sessionState.dialogAction.type a string; for Connect every value a string and the whole
 *  under 32 KB. PL_OK or PL_EPROTO with the reason in `err`. */
int lambda_answer_check(enum lambda_event_kind kind, const char *body, size_t len, char *err,
                        size_t errlen);

/* Why Parley's answer could not be used; named in the Connect fallback's `reason` and the log. */
enum lambda_failure {
    LAMBDA_FAIL_UNREACHABLE, /* no connection, or it broke */
    LAMBDA_FAIL_TIMEOUT,     /* no answer within the budget */
    LAMBDA_FAIL_NO_TIME,     /* the deadline left no budget at all */
    LAMBDA_FAIL_STATUS,      /* an answer that is not 2xx */
    LAMBDA_FAIL_INVALID,     /* a 2xx answer lambda_answer_check refuses */
};

/** "unreachable", "timeout", "no_time", "http_status", "invalid_response". */
const char *lambda_failure_name(enum lambda_failure f);

/** The Lex fallback for event `e`: Close with the intent Failed, `message` as one PlainText
 *  message, the event's session attributes kept plus parley_error=unavailable (for a Connect
 *  flow around the bot). New string (`*len` its length); NULL only if `message` is empty. */
char *lambda_lex_fallback(const struct lex_event *e, const char *message, size_t *len);
/** The Connect fallback: {"error":"unavailable","status":"error","reason":<failure name>}.
 *  New string (`*len` its length). */
char *lambda_connect_fallback(enum lambda_failure why, size_t *len);

#endif
