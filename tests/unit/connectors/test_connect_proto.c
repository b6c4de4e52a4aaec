/* Connect contact-flow events (fixtures in tests/data/connect written from PROTOCOLS.md section
 * 5: a VOICE ask, a transferred CHAT contact with null endpoints and the queue as a string, a
 * minimal one) and the flat string maps written back: plain text, under the size limit. */
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
#include "connectors/connect_proto.h"

static void parse_fixture(const char *name, struct connect_event *e)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/connect/%s", PARLEY_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    char err[256] = "";
    if (connect_event_parse(buf, len, e, err, sizeof(err)) != PL_OK)
        fail_msg("%s: %s", name, err);
}

static void test_voice_event(void **state)
{
    (void)state;
    struct connect_event e;
    parse_fixture("voice_ask.json", &e);
    assert_string_equal(e.contact_id, "4a573372-1f28-4e26-b97b-0e5a9b2c4d6f");
    assert_string_equal(connect_event_conversation_id(&e), "4a573372-1f28-4e26-b97b-0e5a9b2c4d6f");
    assert_true(connect_event_is_voice(&e));
    assert_string_equal(e.customer_address, "+447700900123");
    assert_string_equal(e.customer_type, "TELEPHONE_NUMBER");
    assert_string_equal(e.initiation_method, "INBOUND");
    assert_string_equal(e.queue_name, "Claims");
    assert_string_equal(connect_event_parameter(&e, "action"), "ask");
    assert_string_equal(connect_event_parameter(&e, "text"),
                        "does my home policy cover a burst pipe");
    assert_null(connect_event_parameter(&e, "none"));
    assert_string_equal(connect_event_attribute(&e, "policy_number"), "HOM-200871");
    connect_event_cleanup(&e);
}

static void test_transferred_chat_and_minimal_events(void **state)
{
    (void)state;
    struct connect_event e;
    parse_fixture("chat_transfer.json", &e);
    /* The conversation is the first contact's. */
    assert_string_equal(e.contact_id, "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e");
    assert_string_equal(connect_event_conversation_id(&e), "4a573372-1f28-4e26-b97b-0e5a9b2c4d6f");
    assert_false(connect_event_is_voice(&e));
    assert_string_equal(e.channel, "CHAT");
    assert_string_equal(e.customer_address, ""); /* null endpoint */
    assert_string_equal(e.queue_name, "Claims"); /* a plain string */
    assert_null(connect_event_attribute(&e, "policy_number"));
    connect_event_cleanup(&e);
    parse_fixture("minimal.json", &e);
    assert_string_equal(connect_event_conversation_id(&e), "c0ffee00-0000-4000-8000-000000000001");
    assert_string_equal(e.channel, "");
    assert_string_equal(e.queue_name, "");
    assert_null(e.parameters);
    assert_null(connect_event_parameter(&e, "action"));
    connect_event_cleanup(&e);
}

static void refused(const char *body, const char *message)
{
    struct connect_event e;
    char err[256] = "";
    assert_int_equal(connect_event_parse(body, strlen(body), &e, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, message);
    assert_null(e.root);
}

static void test_malformed_events(void **state)
{
    (void)state;
    refused("nope", "the body is not JSON");
    refused("[1]", "the body is not a JSON object (an Amazon Connect contact-flow event)");
    refused("{\"Details\":{}}",
            "Details.ContactData is missing (an Amazon Connect contact-flow event)");
    refused("{\"Details\":{\"ContactData\":{}}}",
            "Details.ContactData.ContactId must be 1 to 256 characters of A-Z a-z 0-9 -");
    refused("{\"Details\":{\"ContactData\":{\"ContactId\":\"a b\"}}}",
            "Details.ContactData.ContactId must be 1 to 256 characters of A-Z a-z 0-9 -");
    refused("{\"Details\":{\"ContactData\":{\"ContactId\":\"a\",\"InitialContactId\":\"../x\"}}}",
            "Details.ContactData.InitialContactId must be 1 to 256 characters of A-Z a-z 0-9 -");
    refused("{\"Details\":{\"ContactData\":{\"ContactId\":\"a\",\"Attributes\":[]}}}",
            "Details.ContactData.Attributes must be an object of strings");
    refused("{\"Details\":{\"ContactData\":{\"ContactId\":\"a\"},\"Parameters\":\"x\"}}",
            "Details.Parameters must be an object of strings");
}

static void test_plain_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"**Yes**, you are `covered`.", "Yes, you are covered."},
        {"# Cover\n\n- Burst pipes\n- Flood\n* Storm\n+ Fire",
         "Cover Burst pipes Flood Storm Fire"},
        {"  spaced\t\tout \r\n text  ", "spaced out text"},
        {"a __bold__ claim_number", "a bold claim_number"},
        {"bell\x07 and esc\x1b[31m", "bell and esc [31m"},
        {"broken \xff utf8 \xc3\xa9t\xc3\xa9", "broken utf8 \xc3\xa9t\xc3\xa9"},
        {"-5 degrees, #1 choice", "-5 degrees, #1 choice"},
        /* Citation marks are for the transcript, not to be read out. */
        {"Glass is covered. [kb:motor-glass-cover.md#0] Call us [policy:POL-100245].",
         "Glass is covered. Call us."},
        {"[kb:a.md][kb:b.md#2] Yes", "Yes"},
        {"a [kb:] b [kb:has space] c [note] d", "a [kb:] b [kb:has space] c [note] d"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = connect_plain_text(cases[i].in, strlen(cases[i].in));
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("%zu: got \"%s\", want \"%s\"", i, got, cases[i].out);
        pl_free(got);
    }
}

static void test_response_is_a_flat_map_under_the_limit(void **state)
{
    (void)state;
    const struct connect_pair pairs[] = {{"status", "done"},
                                         {"answer", "Burst pipes are **covered**.\nCall us."},
                                         {"error", NULL},
                                         {"session_id", "4a573372"}};
    size_t len;
    bool cut;
    char *json = connect_response_json(pairs, 4, 0, &len, &cut);
    assert_string_equal(json, "{\"status\":\"done\",\"answer\":\"Burst pipes are covered. Call "
                              "us.\",\"session_id\":\"4a573372\"}");
    assert_int_equal(len, strlen(json));
    assert_false(cut);
    pl_free(json);
    /* Too long: the longest value is cut at a word end, the others kept whole. */
    static char big[5000];
    size_t o = 0;
    while (o + 16 < sizeof(big))
        o += (size_t)snprintf(big + o, sizeof(big) - o, "word%zu ", o % 97);
    const struct connect_pair many[] = {{"status", "done"}, {"answer", big}};
    json = connect_response_json(many, 2, 200, &len, &cut);
    assert_true(cut);
    assert_true(len < 200);
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "status")), "done");
    const char *answer = json_string_value(json_object_get(root, "answer"));
    size_t al = strlen(answer);
    assert_string_equal(answer + al - 3, "...");
    assert_true(answer[al - 4] != ' ');
    assert_memory_equal(answer, big, al - 3); /* a prefix of the words, cut at a word's end */
    assert_true(big[al - 3] == ' ');
    json_decref(root);
    pl_free(json);
    /* Nothing can fit: NULL. */
    const struct connect_pair keys[] = {{"a_rather_long_key_name", "x"}};
    assert_null(connect_response_json(keys, 1, 10, &len, &cut));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voice_event),
        cmocka_unit_test(test_transferred_chat_and_minimal_events),
        cmocka_unit_test(test_malformed_events),
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_response_is_a_flat_map_under_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
