/* The embeddings client on a loop (connectors/embeddings.h) against a one-answer HTTP server on
 * a loopback port: a batch read in its index order with the model's length learnt, an error
 * status classified, a peer that never answers ending at the call's own deadline (never inside
 * emb_start), a cancelled call never calling back, Titan's single text with a bearer key, and
 * the set-up's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/err.h"
#include "connectors/embeddings.h"
#include "connectors/http_client.h"
#include "loopback_http.h"

static uv_loop_t loop;
static struct loopback_http server = {.until = "\"float\"}"}; /* the end of a request body */
static struct http_client *hc;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&loop);
    if (http_client_create(&loop, &hc) != PL_OK)
        return -1;
    return loopback_http_start(&server, &loop);
}

static int teardown(void **state)
{
    (void)state;
    http_client_destroy(hc);
    loopback_http_close(&server);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

struct got {
    bool called;
    int status;
    bool retryable;
    int http_status;
    unsigned dims;
    size_t n;
    float v[8];
    char detail[240];
};

static void on_result(void *ud, const struct emb_result *r)
{
    struct got *g = ud;
    assert_false(g->called);
    g->called = true;
    g->status = r->status;
    g->retryable = r->retryable;
    g->http_status = r->http_status;
    g->dims = r->dims;
    g->n = r->n;
    if (r->status == PL_OK)
        memcpy(g->v, r->vecs, r->n * r->dims * sizeof(float));
    snprintf(g->detail, sizeof(g->detail), "%s", r->detail ? r->detail : "");
}

static struct emb_client *openai_client(void)
{
    char url[64], err[200];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", server.port);
    struct emb_config cfg = {.provider = EMB_PROVIDER_OPENAI, .model = "m", .base_url = url};
    struct emb_client *c = NULL;
    assert_int_equal(emb_client_create(&loop, hc, &cfg, &c, err, sizeof(err)), PL_OK);
    return c;
}

static void wait_for(struct got *g)
{
    while (!g->called)
        uv_run(&loop, UV_RUN_ONCE);
}

/* The server answers `status` with `body` (a content-length of its own). */
static void answer(const char *status, const char *body)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n\r\n%s",
             status, strlen(body), body);
    server.answer = buf;
}

static const char *const texts[] = {"one", "two"};
static const size_t lens[] = {3, 3};

static void test_batch_in_index_order(void **state)
{
    (void)state;
    answer("200 OK",
           "{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":[1,2]}]}");
    struct emb_client *c = openai_client();
    assert_int_equal(emb_client_batch_max(c), 64);
    assert_string_equal(emb_client_id(c), "openai:m");
    assert_int_equal(emb_client_dims(c), 0);
    struct got g = {0};
    assert_non_null(emb_start(c, texts, lens, 2, 5000, on_result, &g));
    assert_false(g.called);
    wait_for(&g);
    assert_int_equal(g.status, PL_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.dims, 2);
    const float want[] = {1, 2, 3, 4};
    assert_memory_equal(g.v, want, sizeof(want));
    assert_int_equal(emb_client_dims(c), 2); /* learnt */
    emb_client_destroy(c);
}

static void test_error_status(void **state)
{
    (void)state;
    answer("429 Too Many Requests", "{\"error\":{\"message\":\"slow down\"}}");
    struct emb_client *c = openai_client();
    struct got g = {0};
    assert_non_null(emb_start(c, texts, lens, 1, 5000, on_result, &g));
    wait_for(&g);
    assert_int_equal(g.status, PL_EUPSTREAM);
    assert_true(g.retryable);
    assert_int_equal(g.http_status, 429);
    assert_string_equal(g.detail, "embeddings server 429: slow down");
    answer("401 Unauthorized", "{}");
    memset(&g, 0, sizeof(g));
    assert_non_null(emb_start(c, texts, lens, 1, 5000, on_result, &g));
    wait_for(&g);
    assert_int_equal(g.status, PL_EUPSTREAM);
    assert_false(g.retryable);
    /* a 200 that is not an embeddings reply */
    answer("200 OK", "{}");
    memset(&g, 0, sizeof(g));
    assert_non_null(emb_start(c, texts, lens, 1, 5000, on_result, &g));
    wait_for(&g);
    assert_int_equal(g.status, PL_EPROTO);
    emb_client_destroy(c);
}

static void test_deadline_and_cancel(void **state)
{
    (void)state;
    server.answer = NULL; /* never */
    struct emb_client *c = openai_client();
    struct got g = {0};
    uint64_t t0 = uv_now(&loop);
    assert_non_null(emb_start(c, texts, lens, 1, 100, on_result, &g));
    wait_for(&g);
    assert_int_equal(g.status, PL_ETIMEDOUT);
    assert_true(g.retryable);
    assert_true(uv_now(&loop) - t0 >= 100);
    /* cancelled: no callback, ever; destroying the client with a call in flight: none either */
    struct got h = {0}, k = {0};
    struct emb_call *call = emb_start(c, texts, lens, 1, 50, on_result, &h);
    assert_non_null(emb_start(c, texts, lens, 1, 50, on_result, &k));
    emb_cancel(call);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    emb_client_destroy(c);
    for (int i = 0; i < 20; i++) /* the server keeps the loop alive: a few passes */
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_false(h.called);
    assert_false(k.called);
    /* too many texts, none, or an empty one: refused at once */
    c = openai_client();
    assert_null(emb_start(c, texts, lens, 0, 100, on_result, &h));
    const size_t empty[] = {0};
    assert_null(emb_start(c, texts, empty, 1, 100, on_result, &h));
    emb_client_destroy(c);
}

static void test_titan_with_a_key(void **state)
{
    (void)state;
    server.until = "true}";
    answer("200 OK", "{\"embedding\":[0.5,0.25],\"inputTextTokenCount\":1}");
    char url[64], err[200];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", server.port);
    struct emb_config cfg = {.provider = EMB_PROVIDER_BEDROCK,
                             .model = EMB_TITAN_V2_MODEL,
                             .dims = 256,
                             .base_url = url,
                             .api_key = "ABSK-key",
                             .region = "us-east-1"};
    struct emb_client *c = NULL;
    assert_int_equal(emb_client_create(&loop, hc, &cfg, &c, err, sizeof(err)), PL_OK);
    assert_int_equal(emb_client_batch_max(c), 1);
    assert_string_equal(emb_client_id(c), "bedrock:amazon.titan-embed-text-v2:0");
    struct got g = {0};
    assert_null(emb_start(c, texts, lens, 2, 1000, on_result, &g)); /* one text per call */
    assert_non_null(emb_start(c, texts, lens, 1, 1000, on_result, &g));
    wait_for(&g);
    /* 2 numbers where 256 were asked for: refused */
    assert_int_equal(g.status, PL_EPROTO);
    emb_client_destroy(c);
    server.until = "\"float\"}";
}

static void test_setup_refusals(void **state)
{
    (void)state;
    char err[200];
    struct emb_client *c = NULL;
    struct emb_config cfg = {.provider = EMB_PROVIDER_BEDROCK, .model = "m", .dims = 300};
    assert_int_equal(emb_client_create(&loop, hc, &cfg, &c, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, "--embeddings-dimensions must be 256, 512 or 1024 for Titan");
    cfg.dims = 512;
    assert_int_equal(emb_client_create(&loop, hc, &cfg, &c, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, "the bedrock embeddings model needs a region (--aws-region)");
    cfg.region = "eu-west-2";
    assert_int_equal(emb_client_create(&loop, hc, &cfg, &c, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, "the bedrock embeddings model needs AWS credentials or "
                             "AWS_BEARER_TOKEN_BEDROCK");
    struct emb_config o = {.provider = EMB_PROVIDER_OPENAI, .model = "m"};
    assert_int_equal(emb_client_create(&loop, hc, &o, &c, err, sizeof(err)), PL_EINVAL);
    o.base_url = "ftp://x";
    assert_int_equal(emb_client_create(&loop, hc, &o, &c, err, sizeof(err)), PL_EINVAL);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_in_index_order), cmocka_unit_test(test_error_status),
        cmocka_unit_test(test_deadline_and_cancel),  cmocka_unit_test(test_titan_with_a_key),
        cmocka_unit_test(test_setup_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
