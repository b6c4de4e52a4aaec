/* The Messages API request body (docs/upstream-anthropic.md, Request): exact bytes, escaping of
 * every character JSON requires, optional fields, and the size bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/anthropic_request.h"

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
    assert_int_equal(anthropic_request_body(&b, "claude-sonnet-4-5", &req), PL_OK);
    assert_string_equal(b.data,
                        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,"
                        "\"system\":\"You help callers of Acme Insurance.\\n\","
                        "\"metadata\":{\"user_id\":\"9f2c\"},"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"Is my shed covered?\"},"
                        "{\"role\":\"assistant\",\"content\":\"Yes, up to \xc2\xa3"
                        "2,500.\"},"
                        "{\"role\":\"user\",\"content\":"
                        "\"And the \\\"contents\\\"\\\\tools?\\nLine two\\t\\u0001\"}]}");
    /* And it is JSON that says the same thing. */
    json_error_t err;
    json_t *j = json_loads(b.data, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "messages"), 2), "content")),
                        three[2].text);
    assert_true(json_is_true(json_object_get(j, "stream")));
    json_decref(j);
    pl_buf_cleanup(&b);
}

static void test_optional_fields_left_out(void **state)
{
    (void)state;
    struct prompt req = {
        .system = "", .messages = three, .n_messages = 1, .max_tokens = 5, .user_id = NULL};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(anthropic_request_body(&b, "m", &req), PL_OK);
    assert_string_equal(b.data, "{\"model\":\"m\",\"max_tokens\":5,\"stream\":true,"
                                "\"messages\":[{\"role\":\"user\",\"content\":"
                                "\"Is my shed covered?\"}]}");
    pl_buf_cleanup(&b);
}

/* With prompt caching the system prompt is one text block marked cacheable; the rest is the
 * same bytes, and no system at all stays no system. */
static void test_prompt_cache_marks_the_system_block(void **state)
{
    (void)state;
    struct prompt req = {.system = "You help \"callers\".",
                         .messages = three,
                         .n_messages = 1,
                         .max_tokens = 7,
                         .user_id = "s1"};
    struct anthropic_request_opts opts = {
        .model = "m", .stream = true, .metadata = true, .prompt_cache = true};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(anthropic_request_body_opts(&b, &opts, &req), PL_OK);
    assert_string_equal(b.data,
                        "{\"model\":\"m\",\"max_tokens\":7,\"stream\":true,"
                        "\"system\":[{\"type\":\"text\",\"text\":\"You help \\\"callers\\\".\","
                        "\"cache_control\":{\"type\":\"ephemeral\"}}],"
                        "\"metadata\":{\"user_id\":\"s1\"},"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"Is my shed covered?\"}]}");
    json_error_t err;
    json_t *j = json_loads(b.data, 0, &err);
    assert_non_null(j);
    json_t *block = json_array_get(json_object_get(j, "system"), 0);
    assert_string_equal(json_string_value(json_object_get(block, "text")), req.system);
    json_decref(j);
    pl_buf_reset(&b);
    req.system = NULL;
    assert_int_equal(anthropic_request_body_opts(&b, &opts, &req), PL_OK);
    assert_null(strstr(b.data, "system"));
    assert_null(strstr(b.data, "cache_control"));
    pl_buf_cleanup(&b);
}

static void test_bound_is_kept(void **state)
{
    (void)state;
    struct prompt req = {.messages = three, .n_messages = 3, .max_tokens = 5};
    struct pl_buf b;
    pl_buf_init(&b, 100);
    assert_int_equal(anthropic_request_body(&b, "m", &req), PL_ETOOBIG);
    assert_true(b.len <= 100);
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_optional_fields_left_out),
        cmocka_unit_test(test_bound_is_kept),
        cmocka_unit_test(test_prompt_cache_marks_the_system_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
