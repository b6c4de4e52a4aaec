/* Dense retrieval (docs/knowledge.md "Dense retrieval") with a real Redis, the upstream double's
 * OpenAI-compatible embeddings (toy vectors in which synonyms meet) and two parleyd instances A
 * and B started with --embeddings, plus a third, C, without (BM25 only), all on one Redis: a
 * document POSTed on A is embedded once across A and B (the double's log holds each passage
 * once, the vectors are in Redis), a question that shares no word with it but whose synonyms
 * do is found by the hybrid search of A and B and not by C's BM25 (also as `parley kb eval
 * --url` ranks it), and it reaches the model's prompt in a turn; the embeddings endpoint failing
 * or answering past --embeddings-timeout-ms leaves a turn answered with BM25's passages (no
 * error, no wait for the slow reply); a deleted document's vectors leave Redis and memory; two
 * instances starting with one --kb DIR embed each passage once between them; Titan on Bedrock,
 * SigV4-signed, on an instance of its own. Everything polled with deadlines. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st; /* Redis, the double, and C: parleyd without embeddings */
static struct ts_parleyd a, b;
static char dir_a[600], dir_b[600], embed_url[96];
static const char *const upstream_args[] = {"--pace-ms", "1", NULL};
static const char *const dense_args[] = {"--kb-sync-ms",
                                         "100",
                                         "--embeddings",
                                         "openai:toy-embed",
                                         "--embeddings-base-url",
                                         embed_url,
                                         "--embeddings-timeout-ms",
                                         "500",
                                         NULL};

#define DOC_NAME "glass-dense.md"
/* No word of QUESTION appears in it; its synonyms (windshield: windscreen) do. */
#define DOC_JSON                                                                                   \
    "{\"name\":\"" DOC_NAME "\",\"text\":\"# Windscreen repairs\\n\\nA cracked windscreen is "     \
    "mended at no cost to you, and mending it leaves your bonus alone.\\n\\n## Replacement\\n\\n"  \
    "When the windscreen must be replaced, the glass excess of GBP 100 applies.\\n\"}"
#define QUESTION "my windshield broke yesterday q1zz"

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "kb_dense", upstream_args, NULL))
        return -1;
    snprintf(embed_url, sizeof(embed_url), "http://127.0.0.1:%d/v1", st.upstream.port);
    snprintf(dir_a, sizeof(dir_a), "%s/a", st.workdir);
    snprintf(dir_b, sizeof(dir_b), "%s/b", st.workdir);
    mkdir(dir_a, 0755);
    mkdir(dir_b, 0755);
    if (ts_parleyd_start(&a, dir_a, &st.redis, &st.upstream, dense_args))
        return -1;
    return ts_parleyd_start(&b, dir_b, &st.redis, &st.upstream, dense_args);
}

static int teardown(void **state)
{
    (void)state;
    int ra = ts_parleyd_stop(&a), rb = ts_parleyd_stop(&b);
    return ts_stack_stop(&st) == 0 && ra == 0 && rb == 0 ? 0 : -1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long call(const char *base, const char *method, const char *path, const char *body,
                 struct ts_http_reply *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    char *token = ts_token(strcmp(method, "GET") ? "admin" : "agent", "tests", NULL, 600);
    assert_int_equal(ts_http(method, url, token, body, r), 0);
    pl_free(token);
    return r->status;
}

/* `base`'s search for `q` (encoded): its mode into `mode` and whether `doc` ranks first. */
static bool search(const char *base, const char *q, const char *doc, char mode[16])
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/kb/search?q=%s&k=3", q);
    struct ts_http_reply r;
    assert_int_equal(call(base, "GET", path, NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    snprintf(mode, 16, "%s", json_string_value(json_object_get(j, "mode")));
    json_t *first = json_array_get(json_object_get(j, "hits"), 0);
    bool found = first && !strcmp(json_string_value(json_object_get(first, "doc")), doc);
    json_decref(j);
    ts_http_reply_free(&r);
    return found;
}

/* Poll until `base`'s hybrid search finds `doc` first for `q`, for at most 10 s. */
static bool wait_hybrid(const char *base, const char *q, const char *doc)
{
    long long deadline = now_ms() + 10000;
    char mode[16];
    while (now_ms() < deadline)
        if (search(base, q, doc, mode) && !strcmp(mode, "hybrid"))
            return true;
    return false;
}

/* The value of metric line `prefix` (name with its labels) in `base`'s /metrics; -1 if none. */
static long long metric(const char *base, const char *prefix)
{
    struct ts_http_reply r;
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", base);
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    long long v = -1;
    size_t pl = strlen(prefix);
    for (const char *line = r.body; line && *line;) {
        if (!strncmp(line, prefix, pl) && line[pl] == ' ')
            v = strtoll(line + pl + 1, NULL, 10);
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    ts_http_reply_free(&r);
    return v;
}

/* The standard output of `cmd` (new string). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = pl_calloc(1, 16384);
    size_t n = fread(out, 1, 16383, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

/* How many inputs of the double's /v1/embeddings requests contain `needle`. */
static long embedded_inputs(const char *needle)
{
    FILE *f = fopen(st.upstream.log, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *path = json_string_value(json_object_get(j, "path"));
        if (path && !strcmp(path, "/v1/embeddings")) {
            json_t *input = json_object_get(json_object_get(j, "body"), "input");
            for (size_t i = 0; i < json_array_size(input); i++)
                if (strstr(json_string_value(json_array_get(input, i)), needle))
                    n++;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return n;
}

static void test_embedded_once_and_found_by_meaning(void **state)
{
    (void)state;
    struct ts_http_reply r;
    assert_int_equal(call(a.url, "POST", "/v1/kb/documents", DOC_JSON, &r), 201);
    json_t *j = json_loads(r.body, 0, NULL);
    long chunks = (long)json_integer_value(json_object_get(j, "chunks"));
    json_decref(j);
    ts_http_reply_free(&r);
    assert_true(chunks >= 2);

    /* Both hybrid searches find it by meaning; C's BM25 finds nothing. */
    const char *q = "my%20windshield%20broke%20yesterday";
    assert_true(wait_hybrid(a.url, q, DOC_NAME));
    assert_true(wait_hybrid(b.url, q, DOC_NAME));
    char mode[16];
    assert_false(search(st.parleyd.url, q, DOC_NAME, mode));
    assert_string_equal(mode, "bm25");

    /* Embedded once across A and B: each passage once in the double's log, and the two
     * instances' counts add up to the passages; the vectors are in Redis. */
    assert_int_equal(embedded_inputs("A cracked windscreen is mended"), 1);
    assert_int_equal(embedded_inputs("the glass excess of GBP 100"), 1);
    long long ea = metric(a.url, "parley_kb_dense_chunks_embedded_total");
    long long eb = metric(b.url, "parley_kb_dense_chunks_embedded_total");
    assert_int_equal(ea + eb, chunks);
    assert_true(metric(ea ? b.url : a.url, "parley_kb_dense_vectors_loaded_total") >= 1);
    char *n = ts_redis_query(&st.redis, "HGET parley:{kb}:vec:%s n", DOC_NAME);
    assert_non_null(n);
    assert_int_equal(atol(n), chunks);
    pl_free(n);
    n = ts_redis_query(&st.redis, "HGET parley:{kb}:vec:%s model", DOC_NAME);
    assert_string_equal(n, "openai:toy-embed");
    pl_free(n);

    /* `parley kb eval --url`: ranked by B's hybrid search, and by C's BM25. */
    char file[700], cmd[2048];
    snprintf(file, sizeof(file), "%s/eval.json", st.workdir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "{\"questions\":[{\"q\":\"my windshield broke yesterday\",\"expect\":[\"%s\"]}]}",
            DOC_NAME);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s kb eval %s --url %s --jwt-secret %s", ts_bin("parley"), file,
             b.url, TS_JWT_SECRET);
    char *out = run(cmd);
    assert_non_null(strstr(out, "recall@1  1.0000"));
    assert_non_null(strstr(out, ": 1 hybrid, 0 bm25 only"));
    pl_free(out);
    snprintf(cmd, sizeof(cmd), "%s kb eval %s --url %s --jwt-secret %s", ts_bin("parley"), file,
             st.parleyd.url, TS_JWT_SECRET);
    out = run(cmd);
    assert_non_null(strstr(out, "recall@1  0.0000"));
    assert_non_null(strstr(out, ": 0 hybrid, 1 bm25 only"));
    pl_free(out);

    /* A turn on B: the passage found by meaning is in the model's system prompt. */
    struct ts_caller c;
    struct ts_turn t;
    assert_int_equal(ts_caller_open(&c, b.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "k1", QUESTION, 10000, &t), 0);
    assert_string_equal(t.error_code, "");
    ts_turn_free(&t);
    ts_caller_close(&c);
    char *sys = ts_upstream_system_prompt(&st.upstream, "q1zz");
    assert_non_null(sys);
    assert_non_null(strstr(sys, "kb:" DOC_NAME));
    pl_free(sys);
}

/* A turn whose question's embedding fails (`marker`) still answers, with BM25's passages, in
 * less than 10 s. */
static void ask_with_failing_embedding(const char *question, const char *tag)
{
    struct ts_caller c;
    struct ts_turn t;
    assert_int_equal(ts_caller_open(&c, a.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_ask(&c, "k1", question, 10000, &t), 0);
    assert_string_equal(t.error_code, "");
    assert_string_equal(t.stop_reason, "end_turn");
    assert_true(strlen(t.text) > 0);
    ts_turn_free(&t);
    ts_caller_close(&c);
    char *sys = ts_upstream_system_prompt(&st.upstream, tag);
    assert_non_null(sys);
    assert_non_null(strstr(sys, "kb:" DOC_NAME)); /* by its words */
    pl_free(sys);
}

static void test_failing_or_slow_embeddings_fall_back_to_bm25(void **state)
{
    (void)state;
    assert_true(wait_hybrid(a.url, "windscreen%20excess", DOC_NAME));
    long long errors = metric(a.url, "parley_kb_dense_queries_total{outcome=\"error\"}");
    long long timeouts = metric(a.url, "parley_kb_dense_queries_total{outcome=\"timeout\"}");
    ask_with_failing_embedding("windscreen excess please e500zz [[embed-500]]", "e500zz");
    ask_with_failing_embedding("windscreen excess please e429zz [[embed-429]]", "e429zz");
    assert_int_equal(metric(a.url, "parley_kb_dense_queries_total{outcome=\"error\"}"), errors + 2);
    /* The double answers after 30 s; the turn goes on at the 500 ms deadline, so it is answered
     * within ask's 10 s (had it waited, it would not be; no timing is asserted closer). */
    ask_with_failing_embedding("windscreen excess please slowzz [[embed-slow:30000]]", "slowzz");
    assert_int_equal(metric(a.url, "parley_kb_dense_queries_total{outcome=\"timeout\"}"),
                     timeouts + 1);
    /* The search endpoint says which it used. */
    char mode[16];
    assert_true(search(a.url, "windscreen%20excess%20%5B%5Bembed-500%5D%5D", DOC_NAME, mode));
    assert_string_equal(mode, "bm25");
}

static void test_deleted_document_vectors_go(void **state)
{
    (void)state;
    assert_true(wait_hybrid(b.url, "windscreen%20excess", DOC_NAME));
    assert_int_equal(metric(b.url, "parley_kb_dense_documents{state=\"ready\"}"), 1);
    struct ts_http_reply r;
    assert_int_equal(call(a.url, "DELETE", "/v1/kb/documents/" DOC_NAME, NULL, &r), 200);
    ts_http_reply_free(&r);
    long long deadline = now_ms() + 10000;
    bool gone = false;
    while (!gone && now_ms() < deadline) {
        char *v = ts_redis_query(&st.redis, "EXISTS parley:{kb}:vec:%s", DOC_NAME);
        gone = v && !strcmp(v, "0") &&
               metric(a.url, "parley_kb_dense_documents{state=\"ready\"}") == 0 &&
               metric(b.url, "parley_kb_dense_documents{state=\"ready\"}") == 0;
        pl_free(v);
    }
    assert_true(gone);
    assert_int_equal(metric(b.url, "parley_kb_dense_bytes") >= 0, 1);
}

/* Two instances starting with the same --kb DIR (their own Redis): each passage is embedded by
 * one of them, the other reads the vectors (a document locked by one waits on the other). */
static void test_kb_dir_embedded_once_at_start(void **state)
{
    (void)state;
    struct ts_redis redis3;
    struct ts_parleyd x, y;
    char dir_x[700], dir_y[700], rdir[700], docs[700], path[800];
    snprintf(dir_x, sizeof(dir_x), "%s/x", st.workdir);
    snprintf(dir_y, sizeof(dir_y), "%s/y", st.workdir);
    snprintf(rdir, sizeof(rdir), "%s/redis3", st.workdir);
    snprintf(docs, sizeof(docs), "%s/docs", st.workdir);
    mkdir(dir_x, 0755);
    mkdir(dir_y, 0755);
    mkdir(rdir, 0755);
    mkdir(docs, 0755);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/dirdoc%d.md", docs, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "# Dir document %d\n\nThe dirneedle%d clause covers baggage abroad.\n", i, i);
        fclose(f);
    }
    assert_int_equal(ts_redis_start(&redis3, rdir), 0);
    const char *const args[] = {
        "--kb", docs, "--embeddings", "openai:toy-embed", "--embeddings-base-url", embed_url, NULL};
    assert_int_equal(ts_parleyd_start(&x, dir_x, &redis3, NULL, args), 0);
    assert_int_equal(ts_parleyd_start(&y, dir_y, &redis3, NULL, args), 0);
    long long deadline = now_ms() + 10000;
    while (now_ms() < deadline &&
           (metric(x.url, "parley_kb_dense_documents{state=\"ready\"}") != 3 ||
            metric(y.url, "parley_kb_dense_documents{state=\"ready\"}") != 3))
        ;
    assert_int_equal(metric(x.url, "parley_kb_dense_documents{state=\"ready\"}"), 3);
    assert_int_equal(metric(y.url, "parley_kb_dense_documents{state=\"ready\"}"), 3);
    char needle[32];
    for (int i = 0; i < 3; i++) {
        snprintf(needle, sizeof(needle), "dirneedle%d clause", i);
        assert_int_equal(embedded_inputs(needle), 1);
    }
    assert_int_equal(metric(x.url, "parley_kb_dense_chunks_embedded_total") +
                         metric(y.url, "parley_kb_dense_chunks_embedded_total"),
                     3);
    assert_int_equal(metric(x.url, "parley_kb_dense_vectors_loaded_total") +
                         metric(y.url, "parley_kb_dense_vectors_loaded_total"),
                     3);
    int rx = ts_parleyd_stop(&x), ry = ts_parleyd_stop(&y);
    assert_int_equal(rx, 0);
    assert_int_equal(ry, 0);
    ts_redis_stop(&redis3);
}

/* Titan on Bedrock: SigV4 with the server's AWS credentials, one passage per call; its own Redis
 * (one embeddings model per deployment). */
static void test_titan_signed_requests(void **state)
{
    (void)state;
    struct ts_redis redis2;
    struct ts_parleyd t;
    char dir[700], rdir[700], endpoint[64];
    snprintf(dir, sizeof(dir), "%s/titan", st.workdir);
    snprintf(rdir, sizeof(rdir), "%s/redis2", st.workdir);
    mkdir(dir, 0755);
    mkdir(rdir, 0755);
    assert_int_equal(ts_redis_start(&redis2, rdir), 0);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", st.upstream.port);
    const char *const args[] = {"--kb-sync-ms",
                                "100",
                                "--embeddings",
                                "bedrock:amazon.titan-embed-text-v2:0",
                                "--embeddings-dimensions",
                                "256",
                                "--embeddings-base-url",
                                endpoint,
                                "--aws-region",
                                "us-east-1",
                                NULL};
    static const char *const env[] = {
        "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    assert_int_equal(ts_parleyd_start_env(&t, dir, &redis2, NULL, args, env), 0);
    struct ts_http_reply r;
    assert_int_equal(call(t.url, "POST", "/v1/kb/documents", DOC_JSON, &r), 201);
    ts_http_reply_free(&r);
    assert_true(wait_hybrid(t.url, "my%20windshield%20broke%20yesterday", DOC_NAME));
    /* The vectors are searched as soon as they are in memory; their write to Redis follows. */
    char *v = NULL;
    for (long long end = now_ms() + 10000; now_ms() < end; poll(NULL, 0, 20)) {
        pl_free(v);
        v = ts_redis_query(&redis2, "HGET parley:{kb}:vec:%s model", DOC_NAME);
        if (v && v[0] && strcmp(v, "(nil)") != 0) /* nil reads back as "(nil)" */
            break;
    }
    assert_string_equal(v, "bedrock:amazon.titan-embed-text-v2:0");
    pl_free(v);
    v = ts_redis_query(&redis2, "HGET parley:{kb}:vec:%s dims", DOC_NAME);
    assert_string_equal(v, "256");
    pl_free(v);
    /* Every Titan request was accepted (signature checked by the double). */
    FILE *f = fopen(st.upstream.log, "r");
    char *line = NULL;
    size_t cap = 0;
    long titan = 0, refused = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, "titan-embed-text-v2"))
            continue;
        titan++;
        refused += strstr(line, "\"behaviour\":\"embeddings\"") == NULL;
    }
    free(line);
    fclose(f);
    assert_true(titan >= 3); /* two passages, one question at least */
    assert_int_equal(refused, 0);
    assert_int_equal(ts_parleyd_stop(&t), 0);
    ts_redis_stop(&redis2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_once_and_found_by_meaning),
        cmocka_unit_test(test_failing_or_slow_embeddings_fall_back_to_bm25),
        cmocka_unit_test(test_deleted_document_vectors_go),
        cmocka_unit_test(test_kb_dir_embedded_once_at_start),
        cmocka_unit_test(test_titan_signed_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
