/* The embeddings APIs' bytes: Titan's and the OpenAI-compatible request bodies exactly, their
 * replies read (floats and base64 little-endian float32, data out of index order), malformed
 * replies refused, and non-200 answers classified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/embeddings_wire.h"

static void test_titan_request(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    assert_int_equal(emb_titan_request(&b, "Is \"glass\" covered?\n", 20, 512), PL_OK);
    assert_string_equal(b.data,
                        "{\"inputText\":\"Is \\\"glass\\\" covered?\\n\",\"dimensions\":512,"
                        "\"normalize\":true}");
    pl_buf_reset(&b);
    assert_int_equal(emb_titan_request(&b, "x", 1, 300), PL_EINVAL);
    assert_int_equal(emb_titan_request(&b, "", 0, 256), PL_EINVAL);
    pl_buf_cleanup(&b);
}

static void test_titan_parse(void **state)
{
    (void)state;
    float v[3];
    const char *ok = "{\"embedding\":[0.5,-1,2e-3],\"inputTextTokenCount\":4}";
    assert_int_equal(emb_titan_parse(ok, strlen(ok), 3, v), PL_OK);
    assert_true(v[0] == 0.5f && v[1] == -1.0f && v[2] == 2e-3f);
    const char *by_type = "{\"embeddingsByType\":{\"float\":[1,2,3]}}";
    assert_int_equal(emb_titan_parse(by_type, strlen(by_type), 3, v), PL_OK);
    assert_true(v[2] == 3.0f);
    const char *bad[] = {"{\"embedding\":[1,2]}", "{\"embedding\":[1,2,\"3\"]}",
                         "{\"embedding\":[1,2,1e39]}", "[1,2,3]", "{\"embedding\":[1,2,3]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(emb_titan_parse(bad[i], strlen(bad[i]), 3, v), PL_EPROTO);
}

static void test_openai_request(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    const char *texts[] = {"one", "two \u00e9"};
    const size_t lens[] = {3, 6};
    assert_int_equal(emb_openai_request(&b, "text-embedding-3-small", texts, lens, 2, 0), PL_OK);
    assert_string_equal(b.data, "{\"model\":\"text-embedding-3-small\",\"input\":[\"one\",\"two "
                                "\u00e9\"],\"encoding_format\":\"float\"}");
    pl_buf_reset(&b);
    assert_int_equal(emb_openai_request(&b, "m", texts, lens, 1, 256), PL_OK);
    assert_string_equal(b.data, "{\"model\":\"m\",\"input\":[\"one\"],\"encoding_format\":"
                                "\"float\",\"dimensions\":256}");
    const size_t empty[] = {0};
    assert_int_equal(emb_openai_request(&b, "m", texts, empty, 1, 0), PL_EINVAL);
    assert_int_equal(emb_openai_request(&b, "m", texts, lens, 0, 0), PL_EINVAL);
    pl_buf_cleanup(&b);
}

static void test_openai_parse_floats_out_of_order(void **state)
{
    (void)state;
    const char *r = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,"
                    "\"embedding\":[3,4]},{\"object\":\"embedding\",\"index\":0,\"embedding\":"
                    "[1,2]}],\"model\":\"m\",\"usage\":{\"prompt_tokens\":2,\"total_tokens\":2}}";
    unsigned dims = 0;
    float *v = NULL;
    assert_int_equal(emb_openai_parse(r, strlen(r), 2, &dims, &v), PL_OK);
    assert_int_equal(dims, 2);
    const float want[] = {1, 2, 3, 4};
    assert_memory_equal(v, want, sizeof(want));
    pl_free(v);
    /* dims known and different: refused */
    dims = 3;
    assert_int_equal(emb_openai_parse(r, strlen(r), 2, &dims, &v), PL_EPROTO);
    assert_null(v);
}

static void test_openai_parse_base64(void **state)
{
    (void)state;
    /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0: "AACAPwAAAMA=" */
    const char *r = "{\"data\":[{\"index\":0,\"embedding\":\"AACAPwAAAMA=\"}]}";
    unsigned dims = 0;
    float *v = NULL;
    assert_int_equal(emb_openai_parse(r, strlen(r), 1, &dims, &v), PL_OK);
    assert_int_equal(dims, 2);
    assert_true(v[0] == 1.0f && v[1] == -2.0f);
    pl_free(v);
    const char *bad[] = {
        "{\"data\":[{\"index\":0,\"embedding\":\"AACAPwAAAA==\"}]}", /* 7 bytes */
        "{\"data\":[{\"index\":0,\"embedding\":\"AACAf wAAAMA\"}]}", /* not base64 */
        "{\"data\":[{\"index\":0,\"embedding\":\"AACAfw==\"}]}",     /* +inf */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dims = 0;
        assert_int_equal(emb_openai_parse(bad[i], strlen(bad[i]), 1, &dims, &v), PL_EPROTO);
    }
}

static void test_openai_parse_refuses_wrong_shapes(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}", /* dup */
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":2,\"embedding\":[2]}]}", /* range */
        "{\"data\":[{\"index\":0,\"embedding\":[1]}]}",                                 /* count */
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[2,3]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":[]},{\"index\":1,\"embedding\":[]}]}",
        "{\"data\":[{\"index\":\"0\",\"embedding\":[1]},{\"index\":1,\"embedding\":[2]}]}",
        "{\"error\":{\"message\":\"no\"}}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned dims = 0;
        float *v = (float *)1;
        assert_int_equal(emb_openai_parse(bad[i], strlen(bad[i]), 2, &dims, &v), PL_EPROTO);
        assert_null(v);
    }
}

static void test_classify(void **state)
{
    (void)state;
    struct emb_http_error e;
    const char *oai = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}";
    emb_classify_http_error(429, oai, strlen(oai), &e);
    assert_true(e.retryable);
    assert_string_equal(e.detail, "embeddings server 429: Rate limit reached");
    const char *br = "{\"message\":\"Too many requests,\\nplease wait\"}";
    emb_classify_http_error(503, br, strlen(br), &e);
    assert_true(e.retryable);
    assert_string_equal(e.detail, "embeddings server 503: Too many requests, please wait");
    emb_classify_http_error(400, "<html>", 6, &e);
    assert_false(e.retryable);
    assert_string_equal(e.detail, "embeddings server 400");
    emb_classify_http_error(403, NULL, 0, &e);
    assert_false(e.retryable);
    emb_classify_http_error(500, "", 0, &e);
    assert_true(e.retryable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_titan_request),
        cmocka_unit_test(test_titan_parse),
        cmocka_unit_test(test_openai_request),
        cmocka_unit_test(test_openai_parse_floats_out_of_order),
        cmocka_unit_test(test_openai_parse_base64),
        cmocka_unit_test(test_openai_parse_refuses_wrong_shapes),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
