/* libFuzzer target for what parley-lambda reads from others (connectors/lambda_runtime.h): the
 * Runtime API's invocation headers, the operator's PARLEY_WEBHOOK_URL, the event, and Parley's
 * answer. The input is "HEADER LINES\x1eURL\x1eBODY": the header lines (split at '\n') are
 * read as one invocation, the URL as the target, the body as an event and as an answer of
 * each kind. Contracts: a request id accepted is one URL path segment of safe bytes, never "."
 * or ".."; a target accepted builds URLs without blanks, queries or fragments, and reads back
 * to itself; an event read gives a fallback that the answer check itself accepts; the same
 * answer twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/lambda_runtime.h"
#include "tests/fuzz/fuzz_check.h"

static void headers(const char *text, size_t len)
{
    struct lambda_invocation inv;
    lambda_invocation_init(&inv);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        lambda_invocation_header(&inv, p, n);
        p += n;
    }
    char err[128];
    if (lambda_invocation_check(&inv, err, sizeof err) != PL_OK) {
        CHECK(err[0]);
        return;
    }
    size_t idlen = strlen(inv.request_id);
    CHECK(idlen >= 1 && idlen <= LAMBDA_REQUEST_ID_MAX);
    CHECK(strcmp(inv.request_id, ".") && strcmp(inv.request_id, ".."));
    CHECK(strspn(inv.request_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 "-_.") == idlen);
    CHECK(inv.deadline_ms >= 0);
    for (const char *t = inv.trace_id; *t; t++)
        CHECK(*t > ' ' && *t < 0x7f);
    char url[LAMBDA_URL_MAX + 1];
    CHECK(lambda_runtime_url(url, sizeof url, "127.0.0.1:9001", LAMBDA_RESPONSE, inv.request_id) ==
          PL_OK);
    static const char base[] = "http://127.0.0.1:9001/2018-06-01/runtime/invocation/";
    CHECK(strncmp(url, base, strlen(base)) == 0);
    CHECK(strcmp(url + strlen(base) + idlen, "/response") == 0);
}

static void target(const char *text)
{
    struct lambda_target t, again;
    char err[256], url[LAMBDA_URL_MAX + 32];
    if (lambda_target_parse(text, &t, err, sizeof err) != PL_OK) {
        CHECK(err[0]);
        return;
    }
    for (int k = LAMBDA_EVENT_LEX; k <= LAMBDA_EVENT_CONNECT; k++) {
        CHECK(lambda_target_url(&t, (enum lambda_event_kind)k, url, sizeof url) == PL_OK);
        CHECK(!strpbrk(url, " ?#\r\n\t"));
        size_t n = strlen(url);
        CHECK((n >= 7 && !strcmp(url + n - 7, "/v1/lex")) ||
              (n >= 11 && !strcmp(url + n - 11, "/v1/connect")));
    }
    CHECK(lambda_target_parse(t.url, &again, err, sizeof err) == PL_OK);
    CHECK(again.fixed == t.fixed && strcmp(again.url, t.url) == 0);
}

static void event_and_answer(const char *body, size_t len)
{
    char err[256], err2[256];
    for (int k = LAMBDA_EVENT_UNKNOWN; k <= LAMBDA_EVENT_CONNECT; k++) {
        int a = lambda_answer_check((enum lambda_event_kind)k, body, len, err, sizeof err);
        int b = lambda_answer_check((enum lambda_event_kind)k, body, len, err2, sizeof err2);
        CHECK(a == b && (a == PL_OK || a == PL_EPROTO));
        CHECK(a == PL_OK || strcmp(err, err2) == 0);
        CHECK(k != LAMBDA_EVENT_UNKNOWN || a == PL_EPROTO);
    }
    struct lambda_event e;
    int rc = lambda_event_read(body, len, &e, err, sizeof err);
    CHECK(rc == PL_OK || rc == PL_EINVAL);
    CHECK(rc == PL_OK ? e.kind != LAMBDA_EVENT_UNKNOWN
                      : (e.kind == LAMBDA_EVENT_UNKNOWN && err[0]));
    size_t flen = 0;
    char *fallback = NULL;
    if (e.kind == LAMBDA_EVENT_LEX)
        fallback = lambda_lex_fallback(&e.lex, LAMBDA_LEX_FALLBACK_DEFAULT, &flen);
    else if (e.kind == LAMBDA_EVENT_CONNECT)
        fallback = lambda_connect_fallback(LAMBDA_FAIL_TIMEOUT, &flen);
    if (e.kind != LAMBDA_EVENT_UNKNOWN) {
        CHECK(fallback && flen == strlen(fallback));
        CHECK(lambda_answer_check(e.kind, fallback, flen, err, sizeof err) == PL_OK);
    }
    pl_free(fallback);
    lambda_event_cleanup(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *url = memchr(text, 0x1e, size);
    char *body = NULL;
    if (url) {
        *url++ = '\0';
        body = memchr(url, 0x1e, size - (size_t)(url - text));
        if (body)
            *body++ = '\0';
    }
    headers(text, url ? strlen(text) : size);
    if (url)
        target(url);
    if (body)
        event_and_answer(body, size - (size_t)(body - text));
    free(text);
    return 0;
}
