/* --web DIR: the pages a site puts there replace the built-in ones, byte for byte, and the others
 * stay built in; a folder that is not one, or a page that is not a readable regular file of 1
 * byte to 4 MiB, stops parleyd at start with a message naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

static struct ts_stack st;
static char web_dir[600];
static const char *parleyd_args[] = {"--web", web_dir, NULL};

static const char site_widget[] = "/* the insurer's own widget */\nconsole.log('hello');\n";
static const char site_agent_html[] = "<!doctype html><title>Acme desk</title>\n";

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(web_dir, sizeof(web_dir), "%s/web-pages-%d", P_tmpdir, (int)getpid());
    mkdir(web_dir, 0755);
    write_file(web_dir, "widget.js", site_widget);
    write_file(web_dir, "agent.html", site_agent_html);
    write_file(web_dir, "notes.txt", "not a page: never served");
    return ts_stack_start(&st, "web_pages", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"widget.js", "agent.html", "notes.txt"};
    char path[700];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", web_dir, names[i]);
        remove(path);
    }
    rmdir(web_dir);
    return ts_stack_stop(&st) == 0 ? 0 : -1;
}

static char *read_source(const char *rel)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", PARLEY_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void expect_page(const char *path, const char *body, const char *type)
{
    char url[200];
    snprintf(url, sizeof(url), "%s%s", st.parleyd.url, path);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, strlen(body));
    assert_memory_equal(r.body, body, r.len);
    assert_string_equal(r.content_type, type);
    ts_http_reply_free(&r);
}

static void test_site_pages_replace_built_in_ones(void **state)
{
    (void)state;
    expect_page("/widget.js", site_widget, "text/javascript; charset=utf-8");
    expect_page("/agent", site_agent_html, "text/html; charset=utf-8");
    /* the others are the built-in ones, unchanged */
    char *agent_js = read_source("bot/web/agent.js");
    expect_page("/agent.js", agent_js, "text/javascript; charset=utf-8");
    free(agent_js);
    char *index = read_source("bot/web/index.html");
    expect_page("/", index, "text/html; charset=utf-8");
    free(index);
    /* other files of the folder are not served */
    char url[200];
    snprintf(url, sizeof(url), "%s/notes.txt", st.parleyd.url);
    struct ts_http_reply r;
    assert_int_equal(ts_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    ts_http_reply_free(&r);
}

/* Run parleyd with `args` (it must stop at start); its exit status and what it said. */
static char *run_parleyd(const char *args, int *status)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "'%s' --listen 127.0.0.1:0 %s 2>&1", ts_bin("parleyd"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 8192);
    size_t n = fread(out, 1, 8191, p);
    out[n] = '\0';
    *status = WEXITSTATUS(pclose(p));
    return out;
}

/* parleyd with `args` stops at start, saying `want`. */
static void expect_refused(const char *args, const char *want)
{
    int status;
    char *out = run_parleyd(args, &status);
    assert_int_not_equal(status, 0);
    if (!strstr(out, want))
        fail_msg("parleyd %s said \"%s\", not \"%s\"", args, out, want);
    free(out);
}

static void test_bad_folders_stop_the_start(void **state)
{
    (void)state;
    char dir[700], args[1000], want[900];
    snprintf(dir, sizeof(dir), "%s-bad", web_dir);
    mkdir(dir, 0755);
    /* not a folder */
    expect_refused("--web /nonexistent/parley-web",
                   "--web /nonexistent/parley-web: No such file or directory");
    snprintf(args, sizeof(args), "--web '%s/widget.js'", web_dir);
    snprintf(want, sizeof(want), "--web %s/widget.js: not a folder", web_dir);
    expect_refused(args, want);
    /* an empty page */
    write_file(dir, "index.html", "");
    snprintf(args, sizeof(args), "--web '%s'", dir);
    snprintf(want, sizeof(want), "--web: %s/index.html is 0 bytes; a page is 1 byte to 4 MiB", dir);
    expect_refused(args, want);
    /* a page that is a folder */
    char sub[800];
    snprintf(sub, sizeof(sub), "%s/index.html", dir);
    remove(sub);
    mkdir(sub, 0755);
    snprintf(want, sizeof(want), "--web: %s/index.html is not a regular file", dir);
    expect_refused(args, want);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site_pages_replace_built_in_ones),
        cmocka_unit_test(test_bad_folders_stop_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
