/* Prints the responses Parley (and parley-lambda's fallbacks) write for the Lex and Connect
 * fixtures (tests/data/lex, tests/data/connect), one a line, "lex JSON" or "connect JSON", for
 * lambda_types_oracle.sh to type-check against @types/aws-lambda. Test tool only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/connect_proto.h"
#include "connectors/lambda_runtime.h"
#include "connectors/lex_proto.h"

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void lex_all(const char *dir, const char *name)
{
    size_t len;
    char *body = slurp(dir, name, &len);
    struct lex_event e;
    char err[256];
    if (lex_event_parse(body, len, &e, err, sizeof(err)) != PL_OK) {
        fprintf(stderr, "%s: %s\n", name, err);
        exit(1);
    }
    static char long_text[6000];
    size_t o = 0;
    while (o + 64 < sizeof(long_text))
        o += (size_t)snprintf(long_text + o, sizeof(long_text) - o,
                              "Glass & mirrors are covered <in full>. ");
    const struct lex_attribute set[] = {{"parley_session", "5d41402abc4b2a76b9719d911017c592"},
                                        {"parley_escalate", "true"}};
    const struct lex_attribute verified[] = {
        {"parley_verified", "true"}, {"parley_session", "5d41402abc4b2a76b9719d911017c592"}};
    const struct lex_response rs[] = {
        {.action = LEX_CLOSE, .intent_state = "Fulfilled", .text = "Yes.", .text_len = 4},
        {.action = LEX_CLOSE, .intent_state = "Failed", .set = set, .n_set = 2},
        {.action = LEX_ELICIT_INTENT, .text = long_text, .text_len = o, .ssml = true},
        {.action = LEX_ELICIT_SLOT,
         .intent_state = "InProgress",
         .slot_to_elicit = "PolicyNumber",
         .clear_slot_to_elicit = true,
         .text = "What is your policy number?",
         .text_len = 27},
        {.action = LEX_DELEGATE},
        {.action = LEX_CONFIRM_INTENT, .text = "Shall I?", .text_len = 8},
        /* POST /v1/lex's own (bot/http_lex.c): verified, held, re-asked after a failure */
        {.action = LEX_CLOSE,
         .intent_state = "Fulfilled",
         .text = "Thank you, you are verified.",
         .text_len = 28,
         .set = verified,
         .n_set = 2},
        {.action = LEX_ELICIT_INTENT, .text = "Hold on.", .text_len = 8, .ssml = true},
        {.action = LEX_ELICIT_SLOT,
         .intent_state = "InProgress",
         .slot_to_elicit = "Postcode",
         .text = "And the postcode?",
         .text_len = 17},
    };
    for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
        size_t n;
        bool cut;
        char *json = lex_response_json(&e, &rs[i], &n, &cut);
        if (!json) {
            fprintf(stderr, "%s: response %zu not written\n", name, i);
            exit(1);
        }
        printf("lex %s\n", json);
        pl_free(json);
    }
    /* parley-lambda's answer when Parley cannot give one. */
    size_t n;
    char *fallback = lambda_lex_fallback(&e, LAMBDA_LEX_FALLBACK_DEFAULT, &n);
    printf("lex %s\n", fallback);
    pl_free(fallback);
    lex_event_cleanup(&e);
}

static void connect_all(void)
{
    const struct connect_pair done[] = {{"status", "done"},
                                        {"answer", "A burst pipe is **covered**.\nCall us."},
                                        {"session_id", "5d41402abc4b2a76b9719d911017c592"},
                                        {"escalate", "false"}};
    const struct connect_pair failed[] = {
        {"status", "error"}, {"error", "upstream_unavailable"}, {"answer", NULL}};
    size_t n;
    bool cut;
    /* POST /v1/connect's own (bot/http_connect.c): pending, a summary, escalated */
    const struct connect_pair pending[] = {{"status", "pending"},
                                           {"session_id", "5d41402abc4b2a76b9719d911017c592"},
                                           {"turn", "3"},
                                           {"answer", NULL},
                                           {"escalate", "false"}};
    const struct connect_pair summary[] = {
        {"status", "done"},
        {"session_id", "5d41402abc4b2a76b9719d911017c592"},
        {"summary", "Caller: verified, policy POL-100001. Escalated: no. Summary: Caller asked: "
                    "Is my windscreen covered?; Bot answered: Yes. Sources: Motor policy."},
        {"escalate", "true"}};
    const struct connect_pair escalated[] = {{"status", "done"},
                                             {"session_id", "5d41402abc4b2a76b9719d911017c592"},
                                             {"escalate", "true"}};
    const struct {
        const struct connect_pair *pairs;
        size_t n;
    } maps[] = {{done, 4}, {failed, 3}, {pending, 5}, {summary, 4}, {escalated, 3}};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        char *json = connect_response_json(maps[i].pairs, maps[i].n, 0, &n, &cut);
        if (!json)
            exit(1);
        printf("connect %s\n", json);
        pl_free(json);
    }
    for (int f = LAMBDA_FAIL_UNREACHABLE; f <= LAMBDA_FAIL_INVALID; f++) {
        char *fallback = lambda_connect_fallback((enum lambda_failure)f, &n);
        printf("connect %s\n", fallback);
        pl_free(fallback);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lambda_responses TESTS_DATA_DIR\n");
        return 2;
    }
    char lex[900];
    snprintf(lex, sizeof(lex), "%s/lex", argv[1]);
    lex_all(lex, "text_dialog.json");
    lex_all(lex, "speech_fulfillment.json");
    lex_all(lex, "fallback_minimal.json");
    connect_all();
    return 0;
}
