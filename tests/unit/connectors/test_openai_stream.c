/* OpenAI-compatible streams as vLLM, llama-server and Ollama's /v1 send them (written from
 * their documented layouts), fed through the SSE parser whole and split at every byte: the text,
 * finish reason, usage and end must be exactly the same every way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/openai_stream.h"
#include "connectors/sse.h"

struct got {
    struct oai_stream s;
    struct pl_buf text;
    int status; /* the first failure, or PL_OK */
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct got *g = ud;
    assert_true(len > 0);
    assert_int_equal(pl_buf_append(&g->text, text, len), PL_OK);
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    (void)event;
    struct got *g = ud;
    g->status = oai_stream_event(&g->s, data, len, on_text, g);
    return g->status;
}

/* Feed `wire` through the SSE parser in two pieces cut at `cut` (strlen: whole). */
static void run(const char *wire, size_t cut, struct got *g)
{
    oai_stream_init(&g->s);
    pl_buf_init(&g->text, 1 << 20);
    g->status = PL_OK;
    struct sse_parser p;
    sse_parser_init(&p, 1 << 20);
    size_t n = strlen(wire);
    int rc = sse_parser_feed(&p, wire, cut, on_event, g);
    if (rc == PL_OK)
        rc = sse_parser_feed(&p, wire + cut, n - cut, on_event, g);
    assert_int_equal(rc, g->status);
    sse_parser_cleanup(&p);
}

struct want {
    int status;
    const char *text;
    bool done, finished;
    const char *finish_reason;
    enum llm_stop stop;
    bool has_usage;
    long prompt, completion;
    const char *model;
};

/* The stream gives `w` whole and at every split point. */
static void check_stream(const char *wire, const struct want *w)
{
    size_t n = strlen(wire);
    for (size_t cut = 0; cut <= n; cut++) {
        struct got g;
        run(wire, cut, &g);
        assert_int_equal(g.status, w->status);
        assert_int_equal(g.text.len, strlen(w->text));
        assert_memory_equal(g.text.len ? g.text.data : "", w->text, strlen(w->text));
        assert_int_equal(g.s.done, w->done);
        assert_int_equal(g.s.finished, w->finished);
        assert_string_equal(g.s.finish_reason, w->finish_reason);
        assert_int_equal(g.s.stop, w->stop);
        assert_int_equal(g.s.has_usage, w->has_usage);
        assert_int_equal(g.s.prompt_tokens, w->prompt);
        assert_int_equal(g.s.completion_tokens, w->completion);
        assert_string_equal(g.s.model, w->model);
        pl_buf_cleanup(&g.text);
    }
}

/* vLLM with include_usage: role chunk, content, a finish chunk that is not the last, then the
 * choices:[] usage chunk; extra stop_reason, reasoning_content and continuous_usage_stats. */
static const char vllm[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
    "\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Bonjour, \\u00e7a \"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"va \xe2\x9c\x93\\n\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,"
    "\"finish_reason\":\"stop\",\"stop_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"Qwen/Qwen3-8B\",\"choices\":[],\"usage\":{\"prompt_tokens\":17,\"total_tokens\":29,"
    "\"completion_tokens\":12}}\n\n"
    "data: [DONE]\n\n";

static void test_vllm(void **state)
{
    (void)state;
    struct want w = {PL_OK,
                     "Bonjour, \xc3\xa7"
                     "a va \xe2\x9c\x93\n",
                     true,
                     true,
                     "stop",
                     LLM_STOP_END_TURN,
                     true,
                     17,
                     12,
                     "Qwen/Qwen3-8B"};
    check_stream(vllm, &w);
}

/* llama-server before PR #15444: usage and timings on the finish chunk, no usage chunk;
 * length means max_tokens. CRLF line endings. */
static const char llama_old[] =
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"Hi\"}}],"
    "\"created\":1,\"id\":\"chatcmpl-x\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":"
    "\"b1\",\"object\":\"chat.completion.chunk\"}\r\n\r\n"
    "data: {\"choices\":[{\"finish_reason\":\"length\",\"index\":0,\"delta\":{}}],\"created\":1,"
    "\"id\":\"chatcmpl-x\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":\"b1\",\"object\":"
    "\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":4,\"prompt_tokens\":9,"
    "\"total_tokens\":13},\"timings\":{\"prompt_n\":9,\"predicted_n\":4}}\r\n\r\n"
    "data: [DONE]\r\n\r\n";

static void test_llama_server_usage_on_finish_chunk(void **state)
{
    (void)state;
    struct want w = {PL_OK, "Hi", true, true,           "length", LLM_STOP_MAX_TOKENS,
                     true,  9,    4,    "gpt-3.5-turbo"};
    check_stream(llama_old, &w);
}

/* llama-server after PR #15444: the finish chunk, then a choices:[] usage chunk with timings. */
static const char llama_new[] =
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":null}}],\"created\":1,\"id\":\"c\",\"model\":\"m.gguf\",\"object\":"
    "\"chat.completion.chunk\"}\n\n"
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"Yes.\"}}],"
    "\"created\":1,\"id\":\"c\",\"model\":\"m.gguf\",\"object\":\"chat.completion.chunk\"}\n\n"
    "data: {\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}],\"created\":1,"
    "\"id\":\"c\",\"model\":\"m.gguf\",\"object\":\"chat.completion.chunk\"}\n\n"
    "data: {\"choices\":[],\"created\":1,\"id\":\"c\",\"model\":\"m.gguf\",\"object\":"
    "\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":30,"
    "\"total_tokens\":32},\"timings\":{\"cache_n\":0,\"prompt_ms\":1.5}}\n\n"
    "data: [DONE]\n\n";

static void test_llama_server_usage_chunk(void **state)
{
    (void)state;
    struct want w = {PL_OK, "Yes.", true, true, "stop", LLM_STOP_END_TURN, true, 30, 2, "m.gguf"};
    check_stream(llama_new, &w);
}

/* Ollama /v1: delta `reasoning`, a finish chunk, a usage chunk, [DONE]. */
static const char ollama[] =
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"llama3.2\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"role\":\"assistant\",\"content\":\"\",\"reasoning\":\"think\"},\"finish_reason\":null}]}"
    "\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"llama3.2\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"role\":\"assistant\",\"content\":\"Sure\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"llama3.2\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"content_filter\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"llama3.2\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[],\"usage\":{"
    "\"prompt_tokens\":26,\"completion_tokens\":1,\"total_tokens\":27}}\n\n"
    "data: [DONE]\n\n";

static void test_ollama(void **state)
{
    (void)state;
    struct want w = {PL_OK, "Sure", true, true,      "content_filter", LLM_STOP_REFUSAL,
                     true,  26,     1,    "llama3.2"};
    check_stream(ollama, &w);
}

/* Choice 1 of an n=2 answer and OpenAI's obfuscation padding: only index 0 is text. */
static void test_only_choice_zero_and_unknown_fields(void **state)
{
    (void)state;
    static const char wire[] =
        "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt\",\"choices\":[{\"index\":1,"
        "\"delta\":{\"content\":\"other\"},\"finish_reason\":\"length\"},{\"index\":0,\"delta\":{"
        "\"content\":\"mine\"},\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"x9\"}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    struct want w = {PL_OK, "mine", true, true, "tool_calls", LLM_STOP_END_TURN,
                     false, 0,      0,    "gpt"};
    check_stream(wire, &w);
}

/* Cut before [DONE] (after the finish chunk even): done stays false for the caller to see. */
static void test_cut_stream_is_not_done(void **state)
{
    (void)state;
    static const char wire[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"},\"finish_reason\":null}"
        "],\"usage\":null}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":"
        "null}\n\n"
        "data: [DO"; /* an event never completed */
    struct want w = {PL_OK, "Par", false, true, "stop", LLM_STOP_END_TURN, false, 0, 0, ""};
    check_stream(wire, &w);
}

static void check_error(const char *wire, const char *text, const char *type, const char *message,
                        enum api_error error, bool retryable)
{
    struct want w = {PL_EUPSTREAM, text, false, false, "", LLM_STOP_END_TURN, false, 0, 0, ""};
    check_stream(wire, &w);
    struct got g;
    run(wire, strlen(wire), &g);
    assert_string_equal(g.s.error_type, type);
    assert_string_equal(g.s.error_message, message);
    assert_int_equal(g.s.error, error);
    assert_int_equal(g.s.retryable, retryable);
    pl_buf_cleanup(&g.text);
}

/* Mid-stream errors of each server, and nothing decoded after one. */
static void test_errors(void **state)
{
    (void)state;
    /* llama-server: context overflow inside a 200 stream, code is the HTTP status */
    check_error("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                "data: {\"error\":{\"code\":400,\"message\":\"the request exceeds the available "
                "context size\",\"type\":\"exceed_context_size_error\"}}\n\n"
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n",
                "a", "exceed_context_size_error", "the request exceeds the available context size",
                API_ERR_UPSTREAM_ERROR, false);
    check_error("data: {\"error\":{\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}}"
                "\n\n",
                "", "server_error", "boom", API_ERR_UPSTREAM_UNAVAILABLE, true);
    /* vLLM: code is an int status; older vLLM flat */
    check_error("data: {\"error\":{\"message\":\"slow down\",\"type\":\"BadRequestError\","
                "\"param\":null,\"code\":429}}\n\n",
                "", "BadRequestError", "slow down", API_ERR_RATE_LIMITED, true);
    check_error("data: {\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\","
                "\"param\":null,\"code\":400}\n\n",
                "", "BadRequestError", "bad", API_ERR_UPSTREAM_ERROR, false);
    /* Ollama and OpenAI: code null or a string */
    check_error("data: {\"error\":{\"message\":\"model crashed\",\"type\":\"api_error\","
                "\"param\":null,\"code\":null}}\n\n",
                "", "api_error", "model crashed", API_ERR_UPSTREAM_UNAVAILABLE, true);
    check_error("data: {\"error\":{\"message\":\"limit\",\"type\":\"requests\",\"param\":null,"
                "\"code\":\"rate_limit_exceeded\"}}\n\n",
                "", "requests", "limit", API_ERR_RATE_LIMITED, true);
    check_error("data: {\"error\":{\"message\":\"x\"}}\n\n", "", "unknown_error", "x",
                API_ERR_UPSTREAM_ERROR, false);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "data: not json\n\n",
        "data: [1]\n\n",
        "data: {\"choices\":{}}\n\n",
        "data: {\"choices\":[1]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":7}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\u0000b\"}}]}\n\n",
        "data: [DONE]\n\ndata: {}\n\n",
        "data: [DONE]\n\ndata: [DONE]\n\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct got g;
        run(bad[i], strlen(bad[i]), &g);
        assert_int_equal(g.status, PL_EPROTO);
        pl_buf_cleanup(&g.text);
    }
}

static void test_stop_mapping(void **state)
{
    (void)state;
    assert_int_equal(oai_stop_from_finish("stop"), LLM_STOP_END_TURN);
    assert_int_equal(oai_stop_from_finish("length"), LLM_STOP_MAX_TOKENS);
    assert_int_equal(oai_stop_from_finish("content_filter"), LLM_STOP_REFUSAL);
    assert_int_equal(oai_stop_from_finish("tool_calls"), LLM_STOP_END_TURN);
    assert_int_equal(oai_stop_from_finish("function_call"), LLM_STOP_END_TURN);
    assert_int_equal(oai_stop_from_finish("abort"), LLM_STOP_END_TURN);
    assert_int_equal(oai_stop_from_finish(NULL), LLM_STOP_END_TURN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vllm),
        cmocka_unit_test(test_llama_server_usage_on_finish_chunk),
        cmocka_unit_test(test_llama_server_usage_chunk),
        cmocka_unit_test(test_ollama),
        cmocka_unit_test(test_only_choice_zero_and_unknown_fields),
        cmocka_unit_test(test_cut_stream_is_not_done),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_stop_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
