/* `parley kb sync s3://docs/kb/` against the S3 double (tests/fakes/fake_s3.c, a bucket in
 * eu-west-2 served from a directory, two keys a page) and a real parleyd on a real Redis: the
 * first sync adds every document (listed over three pages) and skips what is not one; a second
 * sync with nothing changed only lists (the double's request log has no GET); a changed object
 * and a deleted one give exactly one GET, one update and one delete, and the deleted document
 * leaves search; a document stored by hand survives every sync; a wrong region is corrected
 * once; temporary credentials come from the container endpoint; AccessDenied, NoSuchBucket and
 * a wrong secret end with status 1 and say what to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/fixtures.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static struct ts_stack st;
static struct ts_proc s3;
static int s3_port, target_port; /* the double, and the one sync_cmd points at */
static char bucket_dir[700], s3_log[700];
static const char *const parleyd_args[] = {"--kb-sync-ms", "100", NULL};

static void write_file(const char *rel, const char *text)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof(path), "%s/%s", bucket_dir, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + strlen(bucket_dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "kb_s3_sync", NULL, parleyd_args))
        return -1;
    snprintf(bucket_dir, sizeof(bucket_dir), "%s/bucket", st.workdir);
    snprintf(s3_log, sizeof(s3_log), "%s/fake_s3.requests", st.workdir);
    mkdir(bucket_dir, 0755);
    s3_port = ts_free_port();
    char port[16], bin[600], log_path[700];
    snprintf(port, sizeof(port), "%d", s3_port);
    snprintf(bin, sizeof(bin), "%s", ts_bin("tests/fakes/fake_s3"));
    snprintf(log_path, sizeof(log_path), "%s/fake_s3.log", st.workdir);
    const char *const argv[] = {bin,         "--port",        port,          "--dir",
                                bucket_dir,  "--bucket",      "docs",        "--region",
                                "eu-west-2", "--page-size",   "2",           "--log",
                                s3_log,      "--deny-bucket", "secret-docs", NULL};
    if (ts_proc_spawn(&s3, "fake_s3", (char *const *)argv, NULL, log_path) != 0)
        return -1;
    target_port = s3_port;
    return ts_wait_port(&s3, s3_port, 10000);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_proc_stop(&s3, 5000);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = pl_calloc(1, 65536);
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

/* `parley kb sync ARGS` with the test keys in the environment and no other AWS source. */
static char *sync_cmd(const char *region, const char *secret, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "env -u AWS_PROFILE -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN HOME=%s "
             "AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=AKIDEXAMPLE "
             "AWS_SECRET_ACCESS_KEY='%s' AWS_REGION=%s %s/parley kb sync %s --endpoint "
             "http://127.0.0.1:%d --url %s --jwt-secret %s 2>&1; echo exit=$?",
             st.workdir, secret, region, getenv("PARLEY_BIN_DIR"), args, target_port,
             st.parleyd.url, TS_JWT_SECRET);
    char *out = run(cmd);
    printf("---- %s\n%s", args, out);
    return out;
}

/* The double's log lines from line `from` on, and how many there are in all. */
static char *log_since(size_t from, size_t *total)
{
    FILE *f = fopen(s3_log, "r");
    assert_non_null(f);
    char *out = pl_calloc(1, 1 << 20), line[8192];
    size_t n = 0, used = 0;
    while (fgets(line, sizeof(line), f)) {
        if (n++ >= from) {
            size_t l = strlen(line);
            if (used + l < (1 << 20)) {
                memcpy(out + used, line, l);
                used += l;
            }
        }
    }
    fclose(f);
    *total = n;
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static long api(const char *method, const char *path, const char *body, struct ts_http_reply *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", st.parleyd.url, path);
    char *token = ts_token("admin", "tests", NULL, 600);
    assert_int_equal(ts_http(method, url, token, body, r), 0);
    pl_free(token);
    return r->status;
}

/* The first hit's document for `q` (encoded), or "" (new string). */
static char *first_hit(const char *q)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/kb/search?q=%s&k=1", q);
    struct ts_http_reply r;
    assert_int_equal(api("GET", path, NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *hit = json_array_get(json_object_get(j, "hits"), 0);
    char *doc = pl_strdup(hit ? json_string_value(json_object_get(hit, "doc")) : "");
    json_decref(j);
    ts_http_reply_free(&r);
    return doc;
}

/* The server's documents: "name source etag" lines, sorted by name (new string). */
static char *documents(void)
{
    struct ts_http_reply r;
    assert_int_equal(api("GET", "/v1/kb/documents", NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *docs = json_object_get(j, "documents");
    char *out = pl_calloc(1, 16384);
    size_t used = 0;
    for (size_t i = 0; i < json_array_size(docs); i++) {
        json_t *d = json_array_get(docs, i);
        const char *etag = json_string_value(json_object_get(d, "etag"));
        used += (size_t)snprintf(out + used, 16384 - used, "%s %s %zu\n",
                                 json_string_value(json_object_get(d, "name")),
                                 json_is_string(json_object_get(d, "source"))
                                     ? json_string_value(json_object_get(d, "source"))
                                     : "-",
                                 etag ? strlen(etag) : 0);
    }
    json_decref(j);
    ts_http_reply_free(&r);
    return out;
}

static void test_sync(void **state)
{
    (void)state;
    write_file("kb/motor-glass.md", "# Windscreen cover\n\nA cracked zorblattic windscreen is "
                                    "repaired without any excess.\n");
    write_file("kb/home/flood.md",
               "# Flood\n\nFlood damage from a burst quaffleduct is covered.\n");
    write_file("kb/travel faq.txt", "Lost luggage is paid up to GBP 1500 per vindrel trip.\n");
    write_file("kb/page.html", "<h1>Claims</h1><p>Call the snorkwhistle line to claim.</p>");
    write_file("kb/photo.jpg", "\xff\xd8 not a document");
    write_file("other/outside.md", "# Outside\n\nNot under the prefix.\n");
    struct ts_http_reply r;
    assert_int_equal(api("POST", "/v1/kb/documents",
                         "{\"name\":\"hand-notes.md\",\"text\":\"# Notes\\n\\nThe "
                         "grumbleberry rule.\\n\"}",
                         &r),
                     201);
    ts_http_reply_free(&r);

    /* An origin is a source with its etag, one line each. */
    static const char *const bad[] = {
        "{\"name\":\"x.md\",\"text\":\"x\",\"etag\":\"\\\"e\\\"\"}",
        "{\"name\":\"x.md\",\"text\":\"x\",\"source\":\"s3://b/x\\nmd\",\"etag\":\"e\"}",
        "{\"name\":\"x.md\",\"text\":\"x\",\"source\":\"s3://b/x.md\",\"etag\":7}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(api("POST", "/v1/kb/documents", bad[i], &r), 400);
        ts_http_reply_free(&r);
    }
    assert_int_equal(api("POST",
                         "/v1/kb/documents?name=y.md&source=s3%3A%2F%2Fb%2Fy.md&etag=%22e%22",
                         "# Y", &r),
                     201);
    assert_non_null(strstr(r.body, "\"source\":\"s3://b/y.md\",\"etag\":\"\\\"e\\\"\""));
    ts_http_reply_free(&r);
    assert_int_equal(api("DELETE", "/v1/kb/documents/y.md", NULL, &r), 200);
    ts_http_reply_free(&r);

    /* 1. Everything is new: added, over three pages of two keys. */
    char *out = sync_cmd("eu-west-2", SECRET, "s3://docs/kb/");
    assert_non_null(strstr(out, "s3://docs/kb/: 5 objects listed in 3 pages\n"));
    assert_non_null(strstr(out, "add home-flood.md  (kb/home/flood.md)\n"));
    assert_non_null(strstr(out, "add motor-glass.md  (kb/motor-glass.md)\n"));
    assert_non_null(strstr(out, "add page.html  (kb/page.html)\n"));
    assert_non_null(strstr(out, "add travel_faq.txt  (kb/travel faq.txt)\n"));
    assert_non_null(strstr(out, "skipped  kb/photo.jpg: not a .md, .txt or .html object\n"));
    assert_non_null(
        strstr(out, "4 added, 0 updated, 0 unchanged, 0 deleted, 1 skipped, 0 failed\nexit=0\n"));
    pl_free(out);
    size_t lines;
    char *log = log_since(0, &lines);
    assert_int_equal(count(log, "\"op\":\"list\""), 3);
    assert_int_equal(count(log, "continuation-token="), 2);
    assert_int_equal(count(log, "\"op\":\"get\""), 4);
    pl_free(log);
    char *docs = documents();
    assert_string_equal(docs, "hand-notes.md - 0\n"
                              "home-flood.md s3://docs/kb/home/flood.md 34\n"
                              "motor-glass.md s3://docs/kb/motor-glass.md 34\n"
                              "page.html s3://docs/kb/page.html 34\n"
                              "travel_faq.txt s3://docs/kb/travel faq.txt 34\n");
    pl_free(docs);
    char *hit = first_hit("zorblattic%20windscreen");
    assert_string_equal(hit, "motor-glass.md");
    pl_free(hit);

    /* 2. Nothing changed: only the listing, no GET. */
    out = sync_cmd("eu-west-2", SECRET, "s3://docs/kb/");
    assert_non_null(
        strstr(out, "0 added, 0 updated, 4 unchanged, 0 deleted, 1 skipped, 0 failed\nexit=0\n"));
    pl_free(out);
    size_t before = lines;
    log = log_since(before, &lines);
    assert_int_equal(count(log, "\"op\":\"list\""), 3);
    assert_int_equal(count(log, "\n"), 3);
    pl_free(log);

    /* 3. One object changed, one deleted: one GET, one update, one delete. */
    write_file("kb/motor-glass.md", "# Windscreen cover\n\nA chipped quibbleflux windscreen is "
                                    "repaired without any excess.\n");
    char path[1024];
    snprintf(path, sizeof(path), "%s/kb/home/flood.md", bucket_dir);
    assert_int_equal(unlink(path), 0);
    out = sync_cmd("eu-west-2", SECRET, "s3://docs/kb/");
    assert_non_null(strstr(out, "update motor-glass.md  (kb/motor-glass.md)\n"));
    assert_non_null(strstr(out, "delete home-flood.md  (its object is gone)\n"));
    assert_non_null(
        strstr(out, "0 added, 1 updated, 2 unchanged, 1 deleted, 1 skipped, 0 failed\nexit=0\n"));
    pl_free(out);
    before = lines;
    log = log_since(before, &lines);
    assert_int_equal(count(log, "\"op\":\"get\""), 1);
    assert_non_null(strstr(log, "\"key\":\"kb/motor-glass.md\",\"op\":\"get\""));
    pl_free(log);
    hit = first_hit("quibbleflux");
    assert_string_equal(hit, "motor-glass.md");
    pl_free(hit);
    hit = first_hit("quaffleduct");
    assert_string_equal(hit, "");
    pl_free(hit);
    hit = first_hit("grumbleberry");
    assert_string_equal(hit, "hand-notes.md"); /* stored by hand: never touched */
    pl_free(hit);

    /* A dry run says what it would do and does nothing. */
    write_file("kb/new.md", "# New\n\nA new page.\n");
    out = sync_cmd("eu-west-2", SECRET, "s3://docs/kb --dry-run");
    assert_non_null(strstr(out, "would add kb-new.md  (kb/new.md)\n"));
    assert_non_null(strstr(out, "dry run: 1 added, 0 updated, 3 unchanged, 0 deleted, 1 skipped, "
                                "0 failed\nexit=0\n"));
    pl_free(out);
    docs = documents();
    assert_null(strstr(docs, "new.md"));
    pl_free(docs);
}

static void test_wrong_region_retried(void **state)
{
    (void)state;
    size_t lines;
    pl_free(log_since(0, &lines));
    char *out = sync_cmd("us-west-2", SECRET, "s3://docs/kb/");
    assert_non_null(
        strstr(out, "s3://docs is in eu-west-2, not us-west-2: retrying there (pass --region "
                    "eu-west-2 to skip this)\n"));
    assert_non_null(strstr(out, "exit=0\n"));
    pl_free(out);
    char *log = log_since(lines, &lines);
    assert_non_null(strstr(log, "\"status\":301,\"code\":\"PermanentRedirect\""));
    pl_free(log);

    /* S3's other answer: 400 AuthorizationHeaderMalformed naming the <Region>, no header. */
    struct ts_proc other;
    int port = ts_free_port();
    char port_s[16], bin[600], log_path[700];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(bin, sizeof(bin), "%s", ts_bin("tests/fakes/fake_s3"));
    snprintf(log_path, sizeof(log_path), "%s/fake_s3_400.log", st.workdir);
    const char *const argv[] = {bin,        "--port",   port_s,      "--dir",
                                bucket_dir, "--region", "eu-west-2", "--wrong-region-status",
                                "400",      NULL};
    assert_int_equal(ts_proc_spawn(&other, "fake_s3_400", (char *const *)argv, NULL, log_path), 0);
    assert_int_equal(ts_wait_port(&other, port, 10000), 0);
    target_port = port;
    out = sync_cmd("ap-south-1", SECRET, "s3://docs/kb/ --dry-run");
    target_port = s3_port;
    assert_int_equal(ts_proc_stop(&other, 5000), 0);
    assert_non_null(strstr(out, "s3://docs is in eu-west-2, not ap-south-1: retrying there"));
    assert_non_null(strstr(out, "exit=0\n"));
    pl_free(out);
}

/* Temporary credentials from the ECS/EKS container endpoint (fetched by the credentials chain on
 * the command's own loop), their session token sent and signed. */
static void test_container_credentials(void **state)
{
    (void)state;
    struct ts_proc meta, other;
    int meta_port = ts_free_port(), port = ts_free_port();
    char meta_s[16], port_s[16], bin[600], mbin[600], log1[700], log2[700];
    snprintf(meta_s, sizeof(meta_s), "%d", meta_port);
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(mbin, sizeof(mbin), "%s", ts_bin("tests/fakes/fake_aws_metadata_server"));
    snprintf(bin, sizeof(bin), "%s", ts_bin("tests/fakes/fake_s3"));
    snprintf(log1, sizeof(log1), "%s/metadata.log", st.workdir);
    snprintf(log2, sizeof(log2), "%s/fake_s3_token.log", st.workdir);
    const char *const margv[] = {
        mbin, "--port", meta_s, "--keys", "AKIDEXAMPLE", SECRET, "FwoGZXIvYXdzEXAMPLETOKEN", NULL};
    const char *const argv[] = {bin,
                                "--port",
                                port_s,
                                "--dir",
                                bucket_dir,
                                "--region",
                                "eu-west-2",
                                "--aws-session-token",
                                "FwoGZXIvYXdzEXAMPLETOKEN",
                                NULL};
    assert_int_equal(ts_proc_spawn(&meta, "metadata", (char *const *)margv, NULL, log1), 0);
    assert_int_equal(ts_proc_spawn(&other, "fake_s3_token", (char *const *)argv, NULL, log2), 0);
    assert_int_equal(ts_wait_port(&meta, meta_port, 10000), 0);
    assert_int_equal(ts_wait_port(&other, port, 10000), 0);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u "
             "AWS_SESSION_TOKEN HOME=%s AWS_EC2_METADATA_DISABLED=true "
             "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:%d/container/creds "
             "%s/parley kb sync s3://docs/kb/ --region eu-west-2 --dry-run --endpoint "
             "http://127.0.0.1:%d --url %s --jwt-secret %s 2>&1; echo exit=$?",
             st.workdir, meta_port, getenv("PARLEY_BIN_DIR"), port, st.parleyd.url, TS_JWT_SECRET);
    char *out = run(cmd);
    printf("---- container\n%s", out);
    assert_int_equal(ts_proc_stop(&other, 5000), 0);
    ts_proc_stop(&meta, 5000);
    assert_non_null(strstr(out, "AWS credentials from the container endpoint\n"));
    assert_non_null(strstr(out, "s3://docs/kb/: "));
    assert_null(strstr(out, "FwoGZXIvYXdzEXAMPLETOKEN"));
    assert_non_null(strstr(out, "exit=0\n"));
    pl_free(out);
}

static void test_errors_say_what_to_do(void **state)
{
    (void)state;
    char *out = sync_cmd("eu-west-2", SECRET, "s3://secret-docs/kb/");
    assert_non_null(strstr(out, "parley kb sync: listing s3://secret-docs/kb/ failed: HTTP 403 "
                                "AccessDenied: Access Denied; these credentials may not read "
                                "it: allow s3:ListBucket on the bucket"));
    assert_non_null(strstr(out, "exit=1\n"));
    pl_free(out);
    out = sync_cmd("eu-west-2", SECRET, "s3://no-such-bucket/");
    assert_non_null(strstr(out, "HTTP 404 NoSuchBucket: The specified bucket does not exist; no "
                                "bucket has that name"));
    assert_non_null(strstr(out, "exit=1\n"));
    pl_free(out);
    out = sync_cmd("eu-west-2", "not-the-secret", "s3://docs/kb/");
    assert_non_null(strstr(out, "HTTP 403 SignatureDoesNotMatch"));
    assert_non_null(strstr(out, "check AWS_SECRET_ACCESS_KEY or the profile"));
    assert_null(strstr(out, "not-the-secret")); /* never printed */
    assert_non_null(strstr(out, "exit=1\n"));
    pl_free(out);
    /* An object the server refuses: named with the server's reason, status 1, the rest done. */
    write_file("kb/latin1.txt", "caf\xe9");
    out = sync_cmd("eu-west-2", SECRET, "s3://docs/kb/");
    assert_non_null(strstr(out, "failed   kb/latin1.txt: the server answered 400 bad_request: a "
                                "document is UTF-8 text\n"));
    assert_non_null(strstr(out, " 1 failed\nexit=1\n"));
    pl_free(out);
    char path[1024];
    snprintf(path, sizeof(path), "%s/kb/latin1.txt", bucket_dir);
    assert_int_equal(unlink(path), 0);
    out = sync_cmd("eu-west-2", SECRET, "docs/kb");
    assert_non_null(strstr(out, "expects s3://BUCKET[/PREFIX]"));
    assert_non_null(strstr(out, "exit=2\n"));
    pl_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_wrong_region_retried),
        cmocka_unit_test(test_container_credentials),
        cmocka_unit_test(test_errors_say_what_to_do),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
