/* Lex V2 code-hook events (fixtures in tests/data/lex written from PROTOCOLS.md section 4: a
 * Text DialogCodeHook event with a null slot, a Speech FulfillmentCodeHook event with List,
 * Composite and unresolved slots and a field Lex may add later, a minimal one) and the
 * responses written for them: exact bytes, messages cut to Lex's limits, SSML escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/lex_proto.h"

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/lex/%s", PARLEY_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void parse_fixture(const char *name, struct lex_event *e)
{
    size_t len;
    char *body = read_fixture(name, &len);
    char err[256] = "";
    int rc = lex_event_parse(body, len, e, err, sizeof(err));
    if (rc != PL_OK)
        fail_msg("%s: %s", name, err);
}

static void test_text_dialog_event(void **state)
{
    (void)state;
    struct lex_event e;
    parse_fixture("text_dialog.json", &e);
    assert_int_equal(e.source, LEX_DIALOG_CODE_HOOK);
    assert_int_equal(e.input_mode, LEX_INPUT_TEXT);
    assert_string_equal(e.session_id, "us-east-1:7f0c2a51-3b7e-4c1a-9d11-0e5a9b2c4d6f");
    assert_string_equal(e.input_transcript, "my policy number is MTR 100245");
    assert_string_equal(e.locale_id, "en_GB");
    assert_string_equal(e.bot_name, "ParleyInsuranceBot");
    assert_string_equal(e.intent_name, "VerifyPolicy");
    assert_string_equal(e.intent_state, "InProgress");
    assert_string_equal(lex_event_slot(&e, "PolicyNumber"), "MTR-100245");
    assert_null(lex_event_slot(&e, "Postcode")); /* null: unfilled */
    assert_null(lex_event_slot(&e, "NoSuchSlot"));
    assert_string_equal(lex_event_attribute(&e, "caller_language"), "en");
    assert_string_equal(lex_event_attribute(&e, "parley_session"), "");
    assert_null(lex_event_attribute(&e, "other"));
    lex_event_cleanup(&e);
}

static void test_speech_fulfillment_event(void **state)
{
    (void)state;
    struct lex_event e;
    parse_fixture("speech_fulfillment.json", &e);
    assert_int_equal(e.source, LEX_FULFILLMENT_CODE_HOOK);
    assert_int_equal(e.input_mode, LEX_INPUT_SPEECH);
    assert_string_equal(e.intent_name, "AskQuestion");
    assert_string_equal(lex_event_slot(&e, "Drivers"), "policyholder"); /* a List: its first */
    assert_null(lex_event_slot(&e, "Address"));                         /* Composite */
    assert_string_equal(lex_event_slot(&e, "Unresolved"), "something"); /* originalValue */
    assert_null(lex_event_slot(&e, "Empty"));
    lex_event_cleanup(&e);
    /* The least an event can be: no slots, no attributes, no mode (text). */
    parse_fixture("fallback_minimal.json", &e);
    assert_string_equal(e.intent_name, "FallbackIntent");
    assert_int_equal(e.input_mode, LEX_INPUT_TEXT);
    assert_string_equal(e.input_transcript, "");
    assert_null(e.slots);
    assert_null(lex_event_slot(&e, "Any"));
    lex_event_cleanup(&e);
}

static void refused(const char *body, const char *message)
{
    struct lex_event e;
    char err[256] = "";
    assert_int_equal(lex_event_parse(body, strlen(body), &e, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, message);
    assert_null(e.root);
}

static void test_malformed_events(void **state)
{
    (void)state;
    refused("{", "the body is not JSON");
    refused("[]", "the body is not a JSON object (a Lex V2 code-hook event)");
    refused("{\"invocationSource\":\"DialogCodeHook\"}",
            "sessionId must be 2 to 100 characters of A-Z a-z 0-9 . _ : - (a Lex V2 event)");
    refused("{\"sessionId\":\"a b\"}",
            "sessionId must be 2 to 100 characters of A-Z a-z 0-9 . _ : - (a Lex V2 event)");
    refused("{\"sessionId\":\"ab\",\"invocationSource\":\"Other\"}",
            "invocationSource must be DialogCodeHook or FulfillmentCodeHook");
    refused("{\"sessionId\":\"ab\",\"invocationSource\":\"DialogCodeHook\",\"sessionState\":{}}",
            "sessionState.intent is missing (a Lex V2 event)");
    refused("{\"sessionId\":\"ab\",\"invocationSource\":\"DialogCodeHook\",\"sessionState\":"
            "{\"intent\":{\"name\":\"\"}}}",
            "sessionState.intent.name is missing");
    refused("{\"sessionId\":\"ab\",\"invocationSource\":\"DialogCodeHook\",\"sessionState\":"
            "{\"intent\":{\"name\":\"A\",\"slots\":[]}}}",
            "sessionState.intent.slots must be an object");
    refused("{\"sessionId\":\"ab\",\"invocationSource\":\"DialogCodeHook\",\"sessionState\":"
            "{\"sessionAttributes\":{\"n\":1},\"intent\":{\"name\":\"A\"}}}",
            "sessionState.sessionAttributes must be an object of strings");
    refused("{\"sessionId\":\"ab\",\"sessionId\":\"cd\"}", "the body is not JSON");
}

static void expect_json(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_close_with_an_answer(void **state)
{
    (void)state;
    struct lex_event e;
    parse_fixture("text_dialog.json", &e);
    struct lex_attribute set[] = {{"parley_session", "5d41402abc4b2a76b9719d911017c592"}};
    struct lex_response r = {.action = LEX_CLOSE,
                             .intent_state = "Fulfilled",
                             .text = "Windscreen damage is covered.",
                             .text_len = 29,
                             .set = set,
                             .n_set = 1};
    size_t len;
    bool cut;
    expect_json(
        lex_response_json(&e, &r, &len, &cut),
        "{\"sessionState\":{\"sessionAttributes\":{\"parley_session\":"
        "\"5d41402abc4b2a76b9719d911017c592\",\"caller_language\":\"en\"},\"dialogAction\":"
        "{\"type\":\"Close\"},\"intent\":{\"name\":\"VerifyPolicy\",\"slots\":{\"PolicyNumber\":"
        "{\"shape\":\"Scalar\",\"value\":{\"originalValue\":\"MTR 100245\",\"interpretedValue\":"
        "\"MTR-100245\",\"resolvedValues\":[\"MTR-100245\"]}},\"Postcode\":null},\"state\":"
        "\"Fulfilled\"}},\"messages\":[{\"contentType\":"
        "\"PlainText\",\"content\":\"Windscreen damage is covered.\"}]}");
    assert_false(cut);
    /* Re-asking a slot: ElicitSlot names it and sends it back empty; no text, no messages. */
    r = (struct lex_response){.action = LEX_ELICIT_SLOT,
                              .intent_state = "InProgress",
                              .slot_to_elicit = "PolicyNumber",
                              .clear_slot_to_elicit = true};
    expect_json(lex_response_json(&e, &r, &len, &cut),
                "{\"sessionState\":{\"sessionAttributes\":{\"parley_session\":\"\","
                "\"caller_language\":\"en\"},\"dialogAction\":{\"type\":\"ElicitSlot\","
                "\"slotToElicit\":\"PolicyNumber\"},\"intent\":{\"name\":\"VerifyPolicy\","
                "\"slots\":{\"PolicyNumber\":null,\"Postcode\":null},\"state\":\"InProgress\"}}}");
    /* ElicitIntent needs a message. */
    r = (struct lex_response){.action = LEX_ELICIT_INTENT};
    assert_null(lex_response_json(&e, &r, &len, &cut));
    lex_event_cleanup(&e);
}

static void test_ssml_is_escaped_and_wrapped(void **state)
{
    (void)state;
    struct lex_event e;
    parse_fixture("fallback_minimal.json", &e);
    const char *text = "Fees & excess: <\"50\"> it's that.";
    struct lex_response r = {
        .action = LEX_ELICIT_INTENT, .text = text, .text_len = strlen(text), .ssml = true};
    size_t len;
    bool cut;
    expect_json(lex_response_json(&e, &r, &len, &cut),
                "{\"sessionState\":{\"sessionAttributes\":{},\"dialogAction\":{\"type\":"
                "\"ElicitIntent\"},\"intent\":{\"name\":\"FallbackIntent\",\"slots\":{},"
                "\"state\":\"InProgress\"}},"
                "\"messages\":[{\"contentType\":\"SSML\",\"content\":\"<speak>Fees &amp; excess: "
                "&lt;&quot;50&quot;&gt; it&apos;s that.</speak>\"}]}");
    lex_event_cleanup(&e);
}

/* The messages of a response, checked against Lex's limits; their count. */
static size_t check_messages(const char *json, bool ssml)
{
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);
    json_t *m = json_object_get(root, "messages");
    size_t n = json_array_size(m);
    assert_true(n >= 1 && n <= LEX_MESSAGES_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(m, i), "content"));
        size_t chars = pl_utf8_count(c, strlen(c));
        assert_true(chars >= 1 && chars <= LEX_MESSAGE_MAX_CHARS);
        assert_string_equal(json_string_value(json_object_get(json_array_get(m, i), "contentType")),
                            ssml ? "SSML" : "PlainText");
        if (ssml)
            assert_true(strncmp(c, "<speak>", 7) == 0 &&
                        strstr(c, "</speak>") == c + strlen(c) - 8);
    }
    json_decref(root);
    return n;
}

static void test_long_answers_are_cut_to_lex_limits(void **state)
{
    (void)state;
    struct lex_event e;
    parse_fixture("fallback_minimal.json", &e);
    static char text[20000];
    size_t o = 0;
    for (int i = 0; o + 64 < 2500; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "Clause %d covers glass & mirrors. ", i);
    struct lex_response r = {.action = LEX_CLOSE, .text = text, .text_len = o};
    size_t len;
    bool cut;
    char *json = lex_response_json(&e, &r, &len, &cut);
    assert_int_equal(check_messages(json, false), 3);
    assert_false(cut);
    pl_free(json);
    /* SSML: "&" becomes "&amp;", so the same text takes more messages, each still in limits. */
    r.ssml = true;
    json = lex_response_json(&e, &r, &len, &cut);
    assert_int_equal(check_messages(json, true), 3);
    pl_free(json);
    /* Far too long: ten messages and the rest left out, said. */
    while (o + 64 < sizeof(text))
        o += (size_t)snprintf(text + o, sizeof(text) - o, "More words follow here. ");
    r = (struct lex_response){.action = LEX_CLOSE, .text = text, .text_len = o};
    json = lex_response_json(&e, &r, &len, &cut);
    assert_int_equal(check_messages(json, false), LEX_MESSAGES_MAX);
    assert_true(cut);
    pl_free(json);
    lex_event_cleanup(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_dialog_event),
        cmocka_unit_test(test_speech_fulfillment_event),
        cmocka_unit_test(test_malformed_events),
        cmocka_unit_test(test_close_with_an_answer),
        cmocka_unit_test(test_ssml_is_escaped_and_wrapped),
        cmocka_unit_test(test_long_answers_are_cut_to_lex_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
