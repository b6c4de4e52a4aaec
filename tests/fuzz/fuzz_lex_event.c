/* libFuzzer target for Lex V2 code-hook events and responses (connectors/lex_proto.h): the event is
 * a stranger's body on POST /v1/lex until its signature is checked, and the answer text is a
 * model's. An event is read or refused with a message; a read one's slots and attributes are
 * looked up without harm; the responses written for it (every action; plain and SSML, with
 * the input itself as the answer) are JSON with a sessionState, a dialogAction of that type and
 * at most ten messages of 1 to 1024 characters each. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/lex_proto.h"
#include "tests/fuzz/fuzz_check.h"

static const char *const action_names[] = {"Close", "ElicitIntent", "ElicitSlot", "ConfirmIntent",
                                           "Delegate"};

static void check_response(const char *json, enum lex_action action)
{
    json_t *root = json_loads(json, 0, NULL);
    CHECK(root != NULL);
    json_t *st = json_object_get(root, "sessionState");
    CHECK(json_is_object(json_object_get(st, "sessionAttributes")));
    const char *type =
        json_string_value(json_object_get(json_object_get(st, "dialogAction"), "type"));
    CHECK(type && strcmp(type, action_names[action]) == 0);
    CHECK(json_is_string(json_object_get(json_object_get(st, "intent"), "name")));
    json_t *m = json_object_get(root, "messages");
    size_t n = json_array_size(m);
    CHECK(n <= LEX_MESSAGES_MAX);
    if (action == LEX_ELICIT_INTENT || action == LEX_CONFIRM_INTENT)
        CHECK(n >= 1);
    for (size_t i = 0; i < n; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(m, i), "content"));
        CHECK(c != NULL);
        size_t chars = pl_utf8_count(c, strlen(c));
        CHECK(chars >= 1 && chars <= LEX_MESSAGE_MAX_CHARS);
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct lex_event e;
    char err[256] = "";
    if (lex_event_parse(body, size, &e, err, sizeof(err)) != PL_OK) {
        CHECK(err[0] && e.root == NULL);
        return 0;
    }
    lex_event_slot(&e, "PolicyNumber");
    lex_event_attribute(&e, "parley_session");
    struct lex_attribute set[] = {{"parley_session", "0123456789abcdef0123456789abcdef"}};
    for (int a = LEX_CLOSE; a <= LEX_DELEGATE; a++) {
        for (int ssml = 0; ssml < 2; ssml++) {
            struct lex_response r = {.action = (enum lex_action)a,
                                     .intent_state = a == LEX_CLOSE ? "Fulfilled" : NULL,
                                     .slot_to_elicit = "PolicyNumber",
                                     .clear_slot_to_elicit = ssml,
                                     .text = body,
                                     .text_len = size,
                                     .ssml = ssml,
                                     .set = set,
                                     .n_set = 1};
            size_t len = 0;
            bool cut;
            char *json = lex_response_json(&e, &r, &len, &cut);
            if (json) {
                CHECK(strlen(json) == len);
                check_response(json, (enum lex_action)a);
                pl_free(json);
            } else {
                CHECK(a == LEX_ELICIT_INTENT || a == LEX_CONFIRM_INTENT);
            }
        }
    }
    lex_event_cleanup(&e);
    return 0;
}
