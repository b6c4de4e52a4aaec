/* The OpenAI-compatible mode of the upstream double (README.md, "OpenAI mode"): it checks a
 * POST /v1/chat/completions request and says what to answer, an error or a list of SSE events
 * in the format of PROTOCOLS 6C, leaving the sending (sockets, pacing) to fake_upstream.c.
 * Behaviour comes from the same markers as the Anthropic mode. Test code only. */
#ifndef PARLEY_TESTS_FAKES_FAKE_OPENAI_H
#define PARLEY_TESTS_FAKES_FAKE_OPENAI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* How a stream ends once its events are sent (fake_upstream.c's `enum ending`, same order). */
enum fake_openai_ending { FAKE_OAI_FINISH, FAKE_OAI_CUT, FAKE_OAI_ERROR_CLOSE, FAKE_OAI_STALL };

struct fake_openai_reply {
    int status;             /* 200: stream `events`; else send `body` */
    char extra_headers[64]; /* "retry-after: 1\r\n" or "" */
    char *body;             /* an error's JSON (new, free()) */
    json_t *events;         /* 200: whole SSE events, as strings (new reference) */
    size_t first_delta;     /* events before this one go out at once */
    long first_ms;          /* delay before the first delta */
    long pace_ms;           /* between deltas; -1: the double's --pace-ms */
    enum fake_openai_ending ending;
    const char *behaviour; /* for the request log: "normal", "429", "rejected", ... */
};

/** Take an option of this mode (`--openai-key KEY`: the bearer key requests must carry; without
 *  it any or no key is accepted). False if `flag` is not one of them. */
bool fake_openai_option(const char *flag, const char *value);

/** The bearer key --openai-key requires, or NULL. */
const char *fake_openai_required_key(void);

/** Check a request (headers lower-cased, body as received) and decide the answer. `flaky` counts
 *  the requests seen per [[flaky:N]] marker (shared with the Anthropic mode); `request_no`
 *  names the completion id. */
void fake_openai_handle(json_t *headers, json_t *body, unsigned long request_no, json_t *flaky,
                        const char *default_text, struct fake_openai_reply *out);

/** Free what a reply holds. */
void fake_openai_reply_cleanup(struct fake_openai_reply *r);

#endif
