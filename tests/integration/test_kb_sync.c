/* Knowledge-base documents in Redis, served by two parleyd instances on one Redis: a document
 * POSTed on A is found by B's GET /v1/kb/search within its sync interval, and once DELETEd on A
 * it is gone from B's results (each polled with a deadline); the roles and refusals of the
 * endpoints; a percent-encoded question; the raw-body form with ?name=; `parley kb ingest` of a
 * folder (progress, the files it refused, exit status) and `parley kb search --url`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;
static struct ts_parleyd other;
static char other_dir[600];
static const char *const parleyd_args[] = {"--kb-sync-ms", "100", NULL};

#define DOC_JSON                                                                                   \
    "{\"name\":\"quokka-cover.md\",\"text\":\"# Quokka cover\\n\\nA zanzibarquokka bite is "       \
    "covered up to GBP 300 under the pet extension.\\n\"}"

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "kb_sync", NULL, parleyd_args))
        return -1;
    snprintf(other_dir, sizeof(other_dir), "%s/b", st.workdir);
    mkdir(other_dir, 0755);
    return ts_parleyd_start(&other, other_dir, &st.redis, NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&other);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long call(const char *base, const char *method, const char *path, const char *role,
                 const char *body, struct ts_http_reply *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    char *token =
        role ? ts_token(role, "tests",
                        !strcmp(role, "caller") ? "0123456789abcdef0123456789abcdef" : NULL, 600)
             : NULL;
    assert_int_equal(ts_http(method, url, token, body, r), 0);
    pl_free(token);
    return r->status;
}

/* Does `base`'s search for `q` (already encoded) rank document `doc` first? */
static bool search_finds(const char *base, const char *q, const char *doc)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/kb/search?q=%s&k=3", q);
    struct ts_http_reply r;
    assert_int_equal(call(base, "GET", path, "agent", NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    json_t *first = json_array_get(json_object_get(j, "hits"), 0);
    bool found = first && !strcmp(json_string_value(json_object_get(first, "doc")), doc);
    json_decref(j);
    ts_http_reply_free(&r);
    return found;
}

/* Poll until `base`'s search finding `doc` is `want`, for at most 5 s. */
static bool wait_search(const char *base, const char *q, const char *doc, bool want)
{
    long long deadline = now_ms() + 5000;
    while (now_ms() < deadline)
        if (search_finds(base, q, doc) == want)
            return true;
    return false;
}

static void test_post_on_a_found_on_b_then_deleted(void **state)
{
    (void)state;
    struct ts_http_reply r;
    assert_int_equal(call(st.parleyd.url, "POST", "/v1/kb/documents", "admin", DOC_JSON, &r), 201);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "quokka-cover.md");
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Quokka cover");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "md");
    json_decref(j);
    ts_http_reply_free(&r);
    /* A searches it at once; B within its sync interval. "%20" and "+" are spaces. */
    assert_true(search_finds(st.parleyd.url, "zanzibarquokka%20bite", "quokka-cover.md"));
    assert_true(
        wait_search(other.url, "is+a+zanzibarquokka%20bite+covered%3F", "quokka-cover.md", true));
    /* Stored again: replaced (200), still one document in the list. */
    assert_int_equal(call(st.parleyd.url, "POST", "/v1/kb/documents", "admin", DOC_JSON, &r), 200);
    ts_http_reply_free(&r);
    assert_int_equal(call(other.url, "GET", "/v1/kb/documents", "agent", NULL, &r), 200);
    j = json_loads(r.body, 0, NULL);
    json_t *docs = json_object_get(j, "documents");
    assert_int_equal(json_array_size(docs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 0), "name")),
                        "quokka-cover.md");
    json_decref(j);
    ts_http_reply_free(&r);

    assert_int_equal(
        call(st.parleyd.url, "DELETE", "/v1/kb/documents/quokka-cover.md", "admin", NULL, &r), 200);
    ts_http_reply_free(&r);
    assert_false(search_finds(st.parleyd.url, "zanzibarquokka", "quokka-cover.md"));
    assert_true(wait_search(other.url, "zanzibarquokka", "quokka-cover.md", false));
    assert_int_equal(
        call(st.parleyd.url, "DELETE", "/v1/kb/documents/quokka-cover.md", "admin", NULL, &r), 404);
    ts_http_reply_free(&r);
}

/* A stored document replaces the --kb DIR file of its name on an instance; deleted, the file is
 * served again (it used to stay out of the index until a restart). */
static void test_folder_copy_returns_when_the_stored_one_goes(void **state)
{
    (void)state;
    char dir[700], kb[760], path[800];
    snprintf(dir, sizeof(dir), "%s/c", st.workdir);
    mkdir(dir, 0755);
    snprintf(kb, sizeof(kb), "%s/kb", dir);
    mkdir(kb, 0755);
    snprintf(path, sizeof(path), "%s/wombat-cover.md", kb);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# Wombat cover\n\nA localwombat scratch is covered up to GBP 50.\n", f);
    fclose(f);
    const char *const args[] = {"--kb-sync-ms", "100", "--kb", kb, NULL};
    struct ts_parleyd c;
    assert_int_equal(ts_parleyd_start(&c, dir, &st.redis, NULL, args), 0);
    assert_true(search_finds(c.url, "localwombat", "wombat-cover.md"));

    struct ts_http_reply r;
    assert_int_equal(call(st.parleyd.url, "POST", "/v1/kb/documents", "admin",
                          "{\"name\":\"wombat-cover.md\",\"text\":\"# Wombat cover\\n\\nA "
                          "storedwombat scratch is covered up to GBP 80.\\n\"}",
                          &r),
                     201);
    ts_http_reply_free(&r);
    assert_true(wait_search(c.url, "storedwombat", "wombat-cover.md", true));
    assert_false(search_finds(c.url, "localwombat", "wombat-cover.md"));

    assert_int_equal(
        call(st.parleyd.url, "DELETE", "/v1/kb/documents/wombat-cover.md", "admin", NULL, &r), 200);
    ts_http_reply_free(&r);
    assert_true(wait_search(c.url, "localwombat", "wombat-cover.md", true));
    assert_false(search_finds(c.url, "storedwombat", "wombat-cover.md"));
    assert_true(ts_log_contains(&c.proc, "wombat-cover.md: the stored copy is gone; the one in"));
    /* The instance that deleted it has no folder: nothing comes back there. */
    assert_false(search_finds(st.parleyd.url, "localwombat", "wombat-cover.md"));
    assert_int_equal(ts_parleyd_stop(&c), 0);
}

/* A stop while the sync polls: its timer is stopped before the store goes (a pass that came
 * after read a NULL store and crashed the exit). Polled every millisecond so that a pass falls
 * in the drain; ts_parleyd_stop is 0 only for a clean exit. */
static void test_stop_while_syncing_is_clean(void **state)
{
    (void)state;
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/d", st.workdir);
    mkdir(dir, 0755);
    const char *const args[] = {"--kb-sync-ms", "1", NULL};
    for (int i = 0; i < 3; i++) {
        struct ts_parleyd d;
        assert_int_equal(ts_parleyd_start(&d, dir, &st.redis, NULL, args), 0);
        assert_int_equal(ts_parleyd_stop(&d), 0);
    }
}

static void test_raw_body_with_name(void **state)
{
    (void)state;
    struct ts_http_reply r;
    assert_int_equal(call(other.url, "POST", "/v1/kb/documents?name=wombat-faq.txt", "admin",
                          "Wombatgrapple claims are paid within ten days.", &r),
                     201);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "txt");
    assert_string_equal(json_string_value(json_object_get(j, "title")), "wombat-faq");
    json_decref(j);
    ts_http_reply_free(&r);
    assert_true(wait_search(st.parleyd.url, "wombatgrapple", "wombat-faq.txt", true));
    assert_int_equal(
        call(other.url, "DELETE", "/v1/kb/documents/wombat-faq.txt", "admin", NULL, &r), 200);
    ts_http_reply_free(&r);
    assert_true(wait_search(st.parleyd.url, "wombatgrapple", "wombat-faq.txt", false));
}

static void test_refusals(void **state)
{
    (void)state;
    struct ts_http_reply r;
    const char *base = st.parleyd.url;
    /* Roles: agents read, only admins write; callers and strangers nothing. */
    assert_int_equal(call(base, "POST", "/v1/kb/documents", "agent", DOC_JSON, &r), 403);
    ts_http_reply_free(&r);
    assert_int_equal(call(base, "GET", "/v1/kb/search?q=glass", "caller", NULL, &r), 403);
    ts_http_reply_free(&r);
    assert_int_equal(call(base, "GET", "/v1/kb/documents", NULL, NULL, &r), 401);
    ts_http_reply_free(&r);
    assert_int_equal(call(base, "DELETE", "/v1/kb/documents/x.md", "agent", NULL, &r), 403);
    ts_http_reply_free(&r);
    /* Names, kinds, bodies, questions. */
    static const char *const bad_posts[] = {"{\"name\":\"../etc.md\",\"text\":\"x\"}",
                                            "{\"name\":\".hidden.md\",\"text\":\"x\"}",
                                            "{\"name\":\"a b.md\",\"text\":\"x\"}",
                                            "{\"name\":\"noext\",\"text\":\"x\"}",
                                            "{\"name\":\"a.md\",\"text\":\"x\",\"kind\":\"pdf\"}",
                                            "{\"name\":\"a.md\"}",
                                            "[1]",
                                            "{\"name\":\"a\\u0000b.md\",\"text\":\"x\"}"};
    for (size_t i = 0; i < sizeof(bad_posts) / sizeof(bad_posts[0]); i++) {
        assert_int_equal(call(base, "POST", "/v1/kb/documents", "admin", bad_posts[i], &r), 400);
        ts_http_reply_free(&r);
    }
    assert_int_equal(call(base, "POST", "/v1/kb/documents?name=bad.md", "admin", "\xff\xfe", &r),
                     400);
    ts_http_reply_free(&r);
    assert_int_equal(call(base, "DELETE", "/v1/kb/documents/.x.md", "admin", NULL, &r), 400);
    ts_http_reply_free(&r);
    static const char *const bad_q[] = {
        "/v1/kb/search",         "/v1/kb/search?q=",          "/v1/kb/search?q=%zz",
        "/v1/kb/search?q=a%00b", "/v1/kb/search?q=glass&k=0", "/v1/kb/search?q=glass&k=51"};
    for (size_t i = 0; i < sizeof(bad_q) / sizeof(bad_q[0]); i++) {
        assert_int_equal(call(base, "GET", bad_q[i], "agent", NULL, &r), 400);
        ts_http_reply_free(&r);
    }
    assert_int_equal(call(base, "PUT", "/v1/kb/documents", "admin", DOC_JSON, &r), 405);
    ts_http_reply_free(&r);
    /* Nothing refused was stored. */
    assert_int_equal(call(base, "GET", "/v1/kb/documents", "admin", NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "documents")), 0);
    json_decref(j);
    ts_http_reply_free(&r);
}

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

static void test_cli_ingest_and_search(void **state)
{
    (void)state;
    char dir[700], path[800], cmd[4096];
    snprintf(dir, sizeof(dir), "%s/docs", st.workdir);
    mkdir(dir, 0755);
    for (int i = 0; i < 11; i++) {
        snprintf(path, sizeof(path), "%s/doc%02d.md", dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "# Document %d\n\nThe numbat%d clause covers item %d.\n", i, i, i);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/latin1.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("caf\xe9", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/skipped.pdf", dir); /* not a document: not listed */
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "%s/parley kb ingest %s %s/missing.md --url %s --jwt-secret %s 2>&1; echo exit=$?",
             getenv("PARLEY_BIN_DIR"), dir, st.workdir, st.parleyd.url, TS_JWT_SECRET);
    char *out = run(cmd);
    char want[4096];
    snprintf(want, sizeof(want),
             "parley kb ingest: 10 of 13 files sent\n"
             "%s/latin1.txt: failed: 400 bad_request: a document is UTF-8 text\n"
             "%s/missing.md: failed: cannot be read\n"
             "parley kb ingest: 13 of 13 files sent\n"
             "11 of 13 documents stored (11 new, 0 replaced), 2 failed\n"
             "exit=1\n",
             dir, st.workdir);
    assert_string_equal(out, want);
    pl_free(out);

    /* B follows; its search over HTTP through the CLI. */
    assert_true(wait_search(other.url, "numbat7", "doc07.md", true));
    snprintf(cmd, sizeof(cmd),
             "%s/parley kb search 'numbat7 clause' --k 1 --url %s --jwt-secret %s 2>&1; "
             "echo exit=$?",
             getenv("PARLEY_BIN_DIR"), other.url, TS_JWT_SECRET);
    out = run(cmd);
    assert_non_null(strstr(out, "doc07.md  Document 7\n   The numbat7 clause covers item 7.\n"));
    assert_non_null(strstr(out, "1. "));
    assert_non_null(strstr(out, "exit=0\n"));
    pl_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_on_a_found_on_b_then_deleted),
        cmocka_unit_test(test_folder_copy_returns_when_the_stored_one_goes),
        cmocka_unit_test(test_stop_while_syncing_is_clean),
        cmocka_unit_test(test_raw_body_with_name),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_ingest_and_search),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
