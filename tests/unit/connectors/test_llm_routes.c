/* --routes: parsing (models with ':', spaces, every refusal with its message) and the routes
 * object (a routed purpose gets its chain, any other chat's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "common/err.h"
#include "connectors/llm_providers.h"
#include "connectors/llm_routes.h"

static void test_parse(void **state)
{
    (void)state;
    struct llm_route_spec r[LLM_ROUTES_MAX];
    size_t n = 99;
    char err[256] = "";
    assert_int_equal(
        llm_routes_parse("summary=openai:llama3.1, extract=bedrock:us.anthropic.claude-haiku-4-"
                         "5-20251001-v1:0",
                         r, LLM_ROUTES_MAX, &n, err, sizeof(err)),
        PL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].purpose, "summary");
    assert_string_equal(r[0].kind, "openai");
    assert_string_equal(r[0].model, "llama3.1");
    assert_string_equal(r[1].purpose, "extract");
    assert_string_equal(r[1].kind, "bedrock");
    assert_string_equal(r[1].model, "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    assert_int_equal(llm_routes_parse(" summary=local ", r, LLM_ROUTES_MAX, &n, err, sizeof(err)),
                     PL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].kind, "local");
    assert_string_equal(r[0].model, "");
    assert_int_equal(llm_routes_parse(NULL, r, LLM_ROUTES_MAX, &n, err, sizeof(err)), PL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(llm_routes_parse("  ", r, LLM_ROUTES_MAX, &n, err, sizeof(err)), PL_OK);
    assert_int_equal(n, 0);
}

static void refused(const char *text, const char *message)
{
    struct llm_route_spec r[2];
    size_t n;
    char err[256] = "";
    assert_int_equal(llm_routes_parse(text, r, 2, &n, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, message);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("summary", "--routes: \"summary\" is not purpose=provider[:model]");
    refused("greeting=local", "--routes: unknown purpose \"greeting\" (known: summary, extract)");
    refused("chat=local",
            "--routes: chat is set by --provider, --model and --fallback, not by a route");
    refused("summary=gpt:4", "--routes: unknown provider \"gpt\" for summary (known: anthropic, "
                             "bedrock, openai, local)");
    refused("summary=openai:", "--routes: empty model in \"summary=openai:\"");
    refused("summary=local,,extract=local",
            "--routes: an empty entry (two commas, or one at an end)");
    refused("summary=local,", "--routes: an empty entry (two commas, or one at an end)");
    refused("summary=local,summary=openai:x", "--routes: summary is routed twice");
    refused("summary=local,extract=local,summary=local", "--routes: more than 2 routes");
    char long_model[400] = "extract=openai:";
    memset(long_model + strlen(long_model), 'm', 300);
    refused(long_model, "--routes: the model of extract is longer than 255 bytes");
    assert_true(llm_route_purpose_known("chat"));
    assert_true(llm_route_purpose_known("extract"));
    assert_false(llm_route_purpose_known("summar"));
}

static struct llm_provider *local(uv_loop_t *loop, const char *model)
{
    struct llm_env env = {.loop = loop};
    struct llm_provider_config pc = {.kind = "local", .model = model};
    struct llm_provider *p = NULL;
    char err[128];
    assert_int_equal(llm_provider_create(&env, &pc, &p, err, sizeof(err)), PL_OK);
    return p;
}

static void test_routes_object(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct llm_provider *chat = local(&loop, "chat-model");
    struct llm_provider *summary = local(&loop, "summary-model");
    struct llm_routes *r = llm_routes_create(chat);
    llm_routes_add(r, "summary", summary);
    llm_routes_add(r, "summary", local(&loop, "ignored")); /* the first stays */
    assert_ptr_equal(llm_route(r, "chat"), chat);
    assert_ptr_equal(llm_route(r, "summary"), summary);
    assert_ptr_equal(llm_route(r, "extract"), chat);
    char text[128];
    llm_routes_describe(r, text, sizeof(text));
    assert_string_equal(text, "chat=local:chat-model, summary=local:summary-model");
    llm_routes_describe(r, text, 12);
    assert_string_equal(text, "chat=local:");
    llm_routes_destroy(r);
    llm_provider_destroy(chat);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_routes_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
