/* The OpenAI-compatible chat completions request body: exact bytes, the system prompt as the
 * first message, escaping, stream_options, and the size bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/openai_request.h"

static const struct prompt_message three[] = {
    {"user", "Is my shed covered?"},
    {"assistant", "Yes, up to \xc2\xa3"
                  "2,500."},
    {"user", "And the \"contents\"\\tools?\nLine two\t\x01"},
};

static void test_exact_bytes(void **state)
{
    (void)state;
    struct prompt req = {.system = "You help callers of Acme Insurance.\n",
                         .messages = three,
                         .n_messages = 3,
                         .max_tokens = 1024,
                         .user_id = "9f2c"};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(openai_request_body(&b, "llama3.1", &req), PL_OK);
    assert_string_equal(b.data, "{\"model\":\"llama3.1\",\"messages\":["
                                "{\"role\":\"system\",\"content\":\"You help callers of Acme "
                                "Insurance.\\n\"},"
                                "{\"role\":\"user\",\"content\":\"Is my shed covered?\"},"
                                "{\"role\":\"assistant\",\"content\":\"Yes, up to \xc2\xa3"
                                "2,500.\"},"
                                "{\"role\":\"user\",\"content\":"
                                "\"And the \\\"contents\\\"\\\\tools?\\nLine two\\t\\u0001\"}],"
                                "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                "\"max_tokens\":1024}");
    /* JSON that says the same thing, and no user id went out. */
    json_error_t err;
    json_t *j = json_loads(b.data, 0, &err);
    assert_non_null(j);
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 3), "content")),
                        three[2].text);
    assert_null(strstr(b.data, "9f2c"));
    json_decref(j);
    pl_buf_cleanup(&b);
}

static void test_no_system_message_without_a_system_prompt(void **state)
{
    (void)state;
    struct prompt req = {.system = "", .messages = three, .n_messages = 1, .max_tokens = 5};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(openai_request_body(&b, "m", &req), PL_OK);
    assert_string_equal(b.data, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                "\"Is my shed covered?\"}],\"stream\":true,\"stream_options\":"
                                "{\"include_usage\":true},\"max_tokens\":5}");
    pl_buf_reset(&b);
    req.system = NULL;
    assert_int_equal(openai_request_body(&b, "m", &req), PL_OK);
    assert_null(strstr(b.data, "system"));
    pl_buf_cleanup(&b);
}

static void test_too_big(void **state)
{
    (void)state;
    struct prompt req = {.system = "s", .messages = three, .n_messages = 3, .max_tokens = 5};
    struct pl_buf b;
    pl_buf_init(&b, 40);
    assert_int_equal(openai_request_body(&b, "m", &req), PL_ETOOBIG);
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_no_system_message_without_a_system_prompt),
        cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
