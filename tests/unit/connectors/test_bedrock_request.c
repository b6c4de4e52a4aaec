/* Bedrock request bodies and paths (connectors/bedrock_request.h): the exact bytes of each API's
 * body, the cache point and guardrail options, the encoded paths of model ids, inference
 * profiles and ARNs, and the checks of --bedrock-api and --bedrock-guardrail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/anthropic_request.h"
#include "connectors/bedrock_request.h"

static const struct prompt_message three[] = {
    {"user", "Is my shed covered?"},
    {"assistant", "Yes, up to \xc2\xa3"
                  "2,500."},
    {"user", "And the \"tools\"?\n"},
};

static const struct prompt req3 = {.system = "You help callers.\n",
                                   .messages = three,
                                   .n_messages = 3,
                                   .max_tokens = 512,
                                   .user_id = "9f2c"};

static char *body_of(enum bedrock_api api, const struct prompt *req,
                     const struct bedrock_request_opts *o)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(bedrock_request_body(&b, api, req, o), PL_OK);
    /* Every body is JSON. */
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(j);
    json_decref(j);
    return b.data; /* the caller frees it with pl_free */
}

static void test_converse_exact(void **state)
{
    (void)state;
    struct bedrock_request_opts o = {.model = "m", .prompt_caching = true};
    char *b = body_of(BEDROCK_API_CONVERSE, &req3, &o);
    assert_string_equal(b,
                        "{\"messages\":["
                        "{\"role\":\"user\",\"content\":[{\"text\":\"Is my shed covered?\"}]},"
                        "{\"role\":\"assistant\",\"content\":[{\"text\":\"Yes, up to \xc2\xa3"
                        "2,500.\"}]},"
                        "{\"role\":\"user\",\"content\":[{\"text\":\"And the \\\"tools\\\"?\\n\"}]}"
                        "],\"system\":[{\"text\":\"You help callers.\\n\"},"
                        "{\"cachePoint\":{\"type\":\"default\"}}],"
                        "\"inferenceConfig\":{\"maxTokens\":512}}");
    pl_free(b);
}

static void test_converse_no_caching_no_system(void **state)
{
    (void)state;
    struct bedrock_request_opts o = {.model = "m", .prompt_caching = false};
    char *b = body_of(BEDROCK_API_CONVERSE, &req3, &o);
    assert_non_null(strstr(b, "\"system\":[{\"text\":\"You help callers.\\n\"}],"));
    assert_null(strstr(b, "cachePoint"));
    pl_free(b);
    /* No system text: no system member, and no cache point even when caching is on. */
    struct prompt one = {.system = "", .messages = three, .n_messages = 1, .max_tokens = 7};
    o.prompt_caching = true;
    b = body_of(BEDROCK_API_CONVERSE, &one, &o);
    assert_string_equal(b, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Is my "
                           "shed covered?\"}]}],\"inferenceConfig\":{\"maxTokens\":7}}");
    pl_free(b);
}

static void test_converse_guardrail(void **state)
{
    (void)state;
    struct bedrock_guardrail g;
    char err[200];
    assert_int_equal(bedrock_guardrail_parse("gr1abc:3", &g, err, sizeof(err)), PL_OK);
    struct bedrock_request_opts o = {.model = "m", .guardrail = &g};
    struct prompt one = {.messages = three, .n_messages = 1, .max_tokens = 7};
    char *b = body_of(BEDROCK_API_CONVERSE, &one, &o);
    assert_string_equal(b, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Is my "
                           "shed covered?\"}]}],\"inferenceConfig\":{\"maxTokens\":7},"
                           "\"guardrailConfig\":{\"guardrailIdentifier\":\"gr1abc\","
                           "\"guardrailVersion\":\"3\",\"trace\":\"disabled\","
                           "\"streamProcessingMode\":\"sync\"}}");
    pl_free(b);
}

static void test_invoke_exact(void **state)
{
    (void)state;
    struct bedrock_request_opts o = {.model = "anthropic.claude-3-haiku-20240307-v1:0"};
    char *b = body_of(BEDROCK_API_INVOKE, &req3, &o);
    /* No model, no stream, no metadata; the Bedrock version first. */
    assert_string_equal(b, "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":512,"
                           "\"system\":\"You help callers.\\n\","
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Is my shed covered?\"},"
                           "{\"role\":\"assistant\",\"content\":\"Yes, up to \xc2\xa3"
                           "2,500.\"},"
                           "{\"role\":\"user\",\"content\":\"And the \\\"tools\\\"?\\n\"}]}");
    pl_free(b);
}

static void test_messages_exact(void **state)
{
    (void)state;
    struct bedrock_request_opts o = {.model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"};
    struct prompt one = {.messages = three, .n_messages = 1, .max_tokens = 64, .user_id = "x"};
    char *b = body_of(BEDROCK_API_MESSAGES, &one, &o);
    assert_string_equal(b,
                        "{\"anthropic_version\":\"bedrock-2023-05-31\","
                        "\"model\":\"us.anthropic.claude-sonnet-4-5-20250929-v1:0\","
                        "\"max_tokens\":64,\"stream\":true,"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"Is my shed covered?\"}]}");
    pl_free(b);
}

/* The Anthropic API's own body is unchanged by the options. */
static void test_anthropic_body_unchanged(void **state)
{
    (void)state;
    struct pl_buf a, b;
    pl_buf_init(&a, 1 << 20);
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(anthropic_request_body(&a, "claude-x", &req3), PL_OK);
    struct anthropic_request_opts o = {.model = "claude-x", .stream = true, .metadata = true};
    assert_int_equal(anthropic_request_body_opts(&b, &o, &req3), PL_OK);
    assert_string_equal(a.data, b.data);
    static const char head[] = "{\"model\":\"claude-x\",\"max_tokens\":512,\"stream\":true,"
                               "\"system\":";
    assert_memory_equal(a.data, head, sizeof(head) - 1);
    assert_non_null(strstr(a.data, "\"metadata\":{\"user_id\":\"9f2c\"}"));
    pl_buf_cleanup(&a);
    pl_buf_cleanup(&b);
}

static void check_path(enum bedrock_api api, const char *model, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 16);
    assert_int_equal(bedrock_request_path(&b, api, model), PL_OK);
    assert_string_equal(b.data, want);
    pl_buf_cleanup(&b);
}

static void test_paths(void **state)
{
    (void)state;
    check_path(BEDROCK_API_CONVERSE, "anthropic.claude-3-haiku-20240307-v1:0",
               "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream");
    check_path(BEDROCK_API_INVOKE, "anthropic.claude-3-haiku-20240307-v1:0",
               "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream");
    check_path(BEDROCK_API_CONVERSE, "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
               "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream");
    check_path(BEDROCK_API_INVOKE,
               "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/"
               "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
               "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2F"
               "eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke-with-response-stream");
    check_path(BEDROCK_API_MESSAGES, "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
               "/anthropic/v1/messages");
}

static void test_api_names(void **state)
{
    (void)state;
    enum bedrock_api a = BEDROCK_API_CONVERSE;
    assert_int_equal(bedrock_api_parse("invoke", &a), PL_OK);
    assert_int_equal(a, BEDROCK_API_INVOKE);
    assert_int_equal(bedrock_api_parse("messages", &a), PL_OK);
    assert_int_equal(a, BEDROCK_API_MESSAGES);
    assert_int_equal(bedrock_api_parse("converse", &a), PL_OK);
    assert_int_equal(a, BEDROCK_API_CONVERSE);
    assert_int_equal(bedrock_api_parse("Converse", &a), PL_EINVAL);
    assert_int_equal(bedrock_api_parse("", &a), PL_EINVAL);
    assert_int_equal(bedrock_api_parse(NULL, &a), PL_EINVAL);
    assert_string_equal(bedrock_api_name(BEDROCK_API_INVOKE), "invoke");
}

static void test_guardrail_parse(void **state)
{
    (void)state;
    struct bedrock_guardrail g;
    char err[200];
    assert_int_equal(bedrock_guardrail_parse("abc123:DRAFT", &g, err, sizeof(err)), PL_OK);
    assert_string_equal(g.id, "abc123");
    assert_string_equal(g.version, "DRAFT");
    assert_int_equal(bedrock_guardrail_parse("arn:aws:bedrock:us-east-1:123456789012:guardrail/"
                                             "k3f9x2:12",
                                             &g, err, sizeof(err)),
                     PL_OK);
    assert_string_equal(g.id, "arn:aws:bedrock:us-east-1:123456789012:guardrail/k3f9x2");
    assert_string_equal(g.version, "12");
    assert_int_equal(bedrock_guardrail_parse("abc:99999999", &g, err, sizeof(err)), PL_OK);
    static const char *const bad[] = {
        "abc",    "abc:",          ":1",          "abc:0",
        "abc:01", "abc:123456789", "abc:draft",   "ABC:1",
        "ab c:1", "abc:1.0",       "arn:aws:x:1", "arn:aws:bedrock:r:1:guardrail/:1",
        "",       "a:guardrail/:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err[0] = '\0';
        assert_int_equal(bedrock_guardrail_parse(bad[i], &g, err, sizeof(err)), PL_EINVAL);
        assert_non_null(strstr(err, "--bedrock-guardrail"));
        assert_string_equal(g.id, "");
    }
    assert_int_equal(bedrock_guardrail_parse(NULL, &g, err, sizeof(err)), PL_EINVAL);
}

static void test_too_big(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 40);
    struct bedrock_request_opts o = {.model = "m"};
    assert_int_equal(bedrock_request_body(&b, BEDROCK_API_CONVERSE, &req3, &o), PL_ETOOBIG);
    pl_buf_cleanup(&b);
    pl_buf_init(&b, 40);
    assert_int_equal(bedrock_request_body(&b, BEDROCK_API_INVOKE, &req3, &o), PL_ETOOBIG);
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converse_exact),
        cmocka_unit_test(test_converse_no_caching_no_system),
        cmocka_unit_test(test_converse_guardrail),
        cmocka_unit_test(test_invoke_exact),
        cmocka_unit_test(test_messages_exact),
        cmocka_unit_test(test_anthropic_body_unchanged),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_api_names),
        cmocka_unit_test(test_guardrail_parse),
        cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
