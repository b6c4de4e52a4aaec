/* Unit tests of the prompt template language (prompts/template.h): exact rendered bytes, every
 * parse error with its line, and the built-in system prompt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "prompts/template.h"

/* Parse `tpl` (must succeed) and return the new rendering. */
static char *render(const char *tpl, const struct prompt_var *vars, size_t n)
{
    struct prompt_template *t = NULL;
    char err[200] = "";
    int rc = prompt_template_parse(tpl, strlen(tpl), &t, err, sizeof(err));
    if (rc != PL_OK)
        fail_msg("parse of \"%s\" failed: %s", tpl, err);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(prompt_template_render(t, vars, n, &b), PL_OK);
    prompt_template_free(t);
    return pl_buf_take(&b);
}

#define assert_render(tpl, vars, want)                                                             \
    do {                                                                                           \
        char *got_ = render((tpl), (vars), PL_ARRAY_LEN(vars));                                    \
        assert_string_equal(got_, (want));                                                         \
        pl_free(got_);                                                                             \
    } while (0)

static const struct prompt_var basic[] = {
    {"name", "Ann"}, {"empty", ""}, {"absent", NULL}, {"s", "yes"}, {"t", "1"},
};

static void test_variables(void **state)
{
    (void)state;
    assert_render("Hello {{name}}!", basic, "Hello Ann!");
    assert_render("{{name}}{{name}}", basic, "AnnAnn");
    assert_render("[{{ name }}] [{{\tname\t}}]", basic, "[Ann] [Ann]");
    assert_render("a{{empty}}b{{absent}}c{{unknown}}d", basic, "abcd");
    assert_render("", basic, "");
    assert_render("no tags at all } { }} here", basic, "no tags at all } { }} here");
    assert_render("{{name}}\n", basic, "Ann\n"); /* variables are never standalone */
    char *got = render("x{{name}}y", NULL, 0);
    assert_string_equal(got, "xy");
    pl_free(got);
}

static void test_values_are_literal(void **state)
{
    (void)state;
    const struct prompt_var vars[] = {
        {"v", "{{x}} {{#x}}in{{/x}} <b>&amp;</b> \"q\""},
        {"x", "BAD"},
    };
    assert_render("[{{v}}]", vars, "[{{x}} {{#x}}in{{/x}} <b>&amp;</b> \"q\"]");
    const struct prompt_var dup[] = {{"a", "first"}, {"a", "second"}, {NULL, "skip"}};
    assert_render("{{a}}", dup, "first");
    const char multibyte[] = "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
    const struct prompt_var mb[] = {{"n", multibyte}};
    assert_render("<{{n}}>", mb, "<Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80>");
}

static void test_sections(void **state)
{
    (void)state;
    assert_render("<{{#s}}on {{name}}{{/s}}>", basic, "<on Ann>");
    assert_render("<{{#empty}}on{{/empty}}>", basic, "<>");
    assert_render("<{{#absent}}on{{/absent}}>", basic, "<>");
    assert_render("<{{#nope}}on{{/nope}}>", basic, "<>");
    assert_render("<{{^s}}off{{/s}}>", basic, "<>");
    assert_render("<{{^empty}}off{{/empty}}>", basic, "<off>");
    assert_render("<{{^absent}}off{{/absent}}>", basic, "<off>");
    assert_render("<{{# s }}a{{/ s }}>", basic, "<a>");
    assert_render("{{#s}}1{{/s}}{{#s}}2{{/s}}{{^s}}3{{/s}}", basic, "12");
}

static void test_nesting(void **state)
{
    (void)state;
    const char *tpl = "{{#s}}A{{#t}}B{{^absent}}C{{/absent}}{{/t}}{{^t}}D{{/t}}{{/s}}"
                      "{{^s}}E{{#t}}F{{/t}}{{/s}}.";
    assert_render(tpl, basic, "ABC.");
    const struct prompt_var no_t[] = {{"s", "1"}};
    assert_render(tpl, no_t, "AD.");
    const struct prompt_var no_s[] = {{"t", "1"}};
    assert_render(tpl, no_s, "EF.");
    /* the same name nested in itself */
    assert_render("{{#s}}x{{#s}}y{{/s}}z{{/s}}", basic, "xyz");
    assert_render("{{^absent}}x{{^absent}}y{{/absent}}{{/absent}}", basic, "xy");
}

static void test_comments(void **state)
{
    (void)state;
    assert_render("x{{! a comment }}y", basic, "xy");
    assert_render("x{{!}}y", basic, "xy");
    assert_render("x{{! spans\ntwo lines }}y", basic, "xy");
    /* a comment ends at the first closing braces, as in mustache */
    assert_render("x{{! a {{name}} b }}y", basic, "x b }}y");
    assert_render("{{!c}}\nline\n", basic, "line\n");
}

static void test_standalone_lines(void **state)
{
    (void)state;
    const char *tpl = "a\n{{#s}}\nin {{name}}\n{{/s}}\n  {{^s}}  \nout\n\t{{/s}}\nb\n";
    assert_render(tpl, basic, "a\nin Ann\nb\n");
    const struct prompt_var none[] = {{"name", "Ann"}};
    assert_render(tpl, none, "a\nout\nb\n");
    assert_render("a\r\n{{#s}}\r\nx\r\n{{/s}}\r\nb", basic, "a\r\nx\r\nb");
    assert_render("a\n{{#s}}\nx\n{{/s}}", basic, "a\nx\n"); /* last line without newline */
    assert_render("{{#s}}\nx\n{{/s}}\n", basic, "x\n");     /* first line */
    /* not standalone: other text or another tag on the line */
    assert_render("a {{#s}}\nx{{/s}} b\n", basic, "a \nx b\n");
    assert_render("{{#s}}{{#t}}\nx\n{{/t}}{{/s}}\n", basic, "\nx\n\n");
    assert_render("{{#s}}x\n{{/s}}y\n", basic, "x\ny\n");
}

/* Many tags on one line parse in time linear in the template: the standalone-line check used to
 * scan back to the start of the line for every tag, so a 600 KB line of comments took minutes
 * (found by tests/fuzz/fuzz_template.c on a long input). */
static void test_long_line_of_tags_parses_quickly(void **state)
{
    (void)state;
    static const char tag[] = "{{!c}}";
    size_t n = 100000, len = n * (sizeof(tag) - 1);
    struct pl_buf tpl;
    pl_buf_init(&tpl, len + 64);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pl_buf_append(&tpl, tag, sizeof(tag) - 1), PL_OK);
    assert_int_equal(pl_buf_append_str(&tpl, "{{#s}}x{{/s}}\n"), PL_OK);
    clock_t start = clock();
    struct prompt_template *t = NULL;
    assert_int_equal(prompt_template_parse(tpl.data, tpl.len, &t, NULL, 0), PL_OK);
    double cpu_s = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (cpu_s > 2.0)
        fail_msg("parsing took %.1f s of CPU", cpu_s);
    struct pl_buf out;
    pl_buf_init(&out, 64);
    const struct prompt_var s_on[] = {{"s", "1"}};
    assert_int_equal(prompt_template_render(t, s_on, 1, &out), PL_OK);
    assert_string_equal(out.data, "x\n");
    pl_buf_cleanup(&out);
    prompt_template_free(t);
    pl_buf_cleanup(&tpl);
}

static void expect_error(const char *tpl, const char *want)
{
    struct prompt_template *t = (struct prompt_template *)&t; /* must be reset to NULL */
    char err[200] = "";
    int rc = prompt_template_parse(tpl, strlen(tpl), &t, err, sizeof(err));
    if (rc != PL_EINVAL)
        fail_msg("\"%s\" parsed (rc %d)", tpl, rc);
    assert_null(t);
    assert_string_equal(err, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("a\nb {{name\n", "line 2: unclosed {{");
    expect_error("{{", "line 1: unclosed {{");
    expect_error("x\n\n{{name}", "line 3: unclosed {{");
    expect_error("{{! a\nb }}\n{{x}}{{", "line 3: unclosed {{");
    expect_error("\n\n{{{x}}}", "line 3: unknown tag syntax {{{x}}");
    expect_error("{{&x}}", "line 1: unknown tag syntax {{&x}}");
    expect_error("a\n{{>partial}}", "line 2: unknown tag syntax {{>partial}}");
    expect_error("{{=<% %>=}}", "line 1: unknown tag syntax {{=<% %>=}}");
    expect_error("{{}}", "line 1: unknown tag syntax {{}}");
    expect_error("{{  }}", "line 1: unknown tag syntax {{  }}");
    expect_error("\n{{#}}", "line 2: unknown tag syntax {{#}}");
    expect_error("{{/ }}", "line 1: unknown tag syntax {{/ }}");
    expect_error("{{Name}}", "line 1: invalid name \"Name\" (want [a-z0-9_]+)");
    expect_error("\n{{a-b}}", "line 2: invalid name \"a-b\" (want [a-z0-9_]+)");
    expect_error("{{#a b}}{{/a b}}", "line 1: invalid name \"a b\" (want [a-z0-9_]+)");
    expect_error("{{^\xc3\xa9}}", "line 1: invalid name \"\xc3\xa9\" (want [a-z0-9_]+)");
    expect_error("x\n{{/a}}", "line 2: unbalanced section: {{/a}} closes nothing");
    expect_error("{{#a}}{{/a}}{{/a}}", "line 1: unbalanced section: {{/a}} closes nothing");
    expect_error("{{#a}}\n{{^b}}\n{{/a}}",
                 "line 3: unbalanced section: {{/a}} closes {{^b}} of line 2");
    expect_error("\n{{^a}}\nx", "line 2: unbalanced section: {{^a}} is never closed");
    expect_error("{{#a}}\n{{#b}}\n{{/b}}\n", "line 1: unbalanced section: {{#a}} is never closed");

    /* a NULL error buffer is fine */
    struct prompt_template *t = NULL;
    assert_int_equal(prompt_template_parse("{{", 2, &t, NULL, 0), PL_EINVAL);
    assert_null(t);
    /* a short error buffer is truncated, NUL-terminated */
    char small[8];
    assert_int_equal(prompt_template_parse("{{", 2, &t, small, sizeof(small)), PL_EINVAL);
    assert_string_equal(small, "line 1:");
}

static void test_parse_uses_len(void **state)
{
    (void)state;
    /* only `len` bytes count: the tag after them is not seen; embedded NULs are kept */
    struct prompt_template *t = NULL;
    assert_int_equal(prompt_template_parse("ab\0c{{x", 4, &t, NULL, 0), PL_OK);
    struct pl_buf b;
    pl_buf_init(&b, 100);
    assert_int_equal(prompt_template_render(t, NULL, 0, &b), PL_OK);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "ab\0c", 4);
    pl_buf_cleanup(&b);
    prompt_template_free(t);
    prompt_template_free(NULL);
}

static void test_render_too_big(void **state)
{
    (void)state;
    struct prompt_template *t = NULL;
    const char *tpl = "hello {{name}}, welcome";
    assert_int_equal(prompt_template_parse(tpl, strlen(tpl), &t, NULL, 0), PL_OK);
    struct pl_buf b;
    pl_buf_init(&b, 12);
    pl_buf_append_str(&b, "ab");
    assert_int_equal(prompt_template_render(t, basic, PL_ARRAY_LEN(basic), &b), PL_ETOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    /* exactly fitting works */
    pl_buf_reset(&b);
    b.max = strlen("hello Ann, welcome");
    assert_int_equal(prompt_template_render(t, basic, PL_ARRAY_LEN(basic), &b), PL_OK);
    assert_string_equal(b.data, "hello Ann, welcome");
    pl_buf_cleanup(&b);
    prompt_template_free(t);
}

static char *render_loaded(const struct prompt_template *t, const struct prompt_var *vars, size_t n)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(prompt_template_render(t, vars, n, &b), PL_OK);
    return pl_buf_take(&b);
}

static void test_builtin_web(void **state)
{
    (void)state;
    struct prompt_template *t = NULL;
    char err[300] = "";
    assert_int_equal(prompt_template_load(NULL, "web", &t, err, sizeof(err)), PL_OK);
    assert_non_null(t);

    const struct prompt_var full[] = {
        {"assistant_name", "Parley"}, {"company_name", "Acme Insurance"},
        {"caller_name", "Jane Doe"},  {"policy_number", "POL-123456"},
        {"channel", "web"},           {"today", "2026-11-25"},
    };
    char *s = render_loaded(t, full, PL_ARRAY_LEN(full));
    assert_memory_equal(
        s, "You are Parley, the virtual assistant of Acme Insurance's contact",
        strlen("You are Parley, the virtual assistant of Acme Insurance's contact"));
    assert_non_null(strstr(s, "\nConversation:\n- The caller is Jane Doe.\n"
                              "- Their policy number is POL-123456.\n"
                              "- Channel: web.\n- Today's date: 2026-11-25.\n"));
    assert_non_null(strstr(s, "\n- Never invent policy facts, figures, dates, prices or coverage "
                              "decisions."));
    assert_non_null(strstr(s, "\n- Answer in the caller's language.\n"));
    assert_non_null(strstr(s, "human agent"));
    assert_null(strstr(s, "{{"));
    assert_null(strstr(s, "No policy number"));
    assert_null(strstr(s, "Placeholders")); /* the comment is dropped */
    assert_null(strstr(s, "\n\n\n"));
    /* ends with the date line, exactly */
    size_t n = strlen(s);
    const char *tail = "- Today's date: 2026-11-25.\n";
    assert_true(n > strlen(tail));
    assert_string_equal(s + n - strlen(tail), tail);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n';
    assert_true(lines <= 40);
    pl_free(s);

    const struct prompt_var anon[] = {
        {"assistant_name", "Parley"}, {"company_name", "Acme Insurance"},
        {"caller_name", ""},          {"policy_number", NULL},
        {"channel", "voice"},         {"today", "2026-01-02"},
    };
    s = render_loaded(t, anon, PL_ARRAY_LEN(anon));
    assert_non_null(strstr(s, "\nConversation:\n- No policy number is known for this "
                              "conversation; do not guess one.\n- Channel: voice.\n"
                              "- Today's date: 2026-01-02.\n"));
    assert_null(strstr(s, "The caller is"));
    assert_null(strstr(s, "Their policy number"));
    assert_null(strstr(s, "\n\n\n"));
    pl_free(s);

    /* the built-in copy is the file in the source tree, byte for byte */
    struct prompt_template *f = NULL;
    assert_int_equal(
        prompt_template_load(PARLEY_SOURCE_DIR "/prompts/templates", "web", &f, err, sizeof(err)),
        PL_OK);
    char *a = render_loaded(t, full, PL_ARRAY_LEN(full));
    char *b = render_loaded(f, full, PL_ARRAY_LEN(full));
    assert_string_equal(a, b);
    pl_free(a);
    pl_free(b);
    prompt_template_free(f);
    prompt_template_free(t);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct prompt_template *t = NULL;
    char err[300] = "";
    assert_int_equal(prompt_template_load(NULL, "nosuch", &t, err, sizeof(err)), PL_ENOTFOUND);
    assert_null(t);
    assert_string_equal(err, "built-in template nosuch.txt: not found");
    assert_int_equal(prompt_template_load(NULL, "../system", &t, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, "template name \"../system\" is not [a-z0-9_]+");
    assert_int_equal(prompt_template_load("/tmp", "", &t, err, sizeof(err)), PL_EINVAL);

    char dir[] = "/tmp/parley_tpl_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];

    assert_int_equal(prompt_template_load(dir, "system", &t, err, sizeof(err)), PL_ENOTFOUND);
    assert_null(t);
    snprintf(path, sizeof(path), "%s/system.txt: No such file or directory", dir);
    assert_string_equal(err, path);

    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("line one\n{{#a}}\nline three\n", fp);
    fclose(fp);
    assert_int_equal(prompt_template_load(dir, "bad", &t, err, sizeof(err)), PL_EINVAL);
    assert_null(t);
    char want[400];
    snprintf(want, sizeof(want), "%s: line 2: unbalanced section: {{#a}} is never closed", path);
    assert_string_equal(err, want);
    unlink(path);

    snprintf(path, sizeof(path), "%s/good.txt", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("Hi {{name}}.\n", fp);
    fclose(fp);
    assert_int_equal(prompt_template_load(dir, "good", &t, err, sizeof(err)), PL_OK);
    char *s = render_loaded(t, basic, PL_ARRAY_LEN(basic));
    assert_string_equal(s, "Hi Ann.\n");
    pl_free(s);
    prompt_template_free(t);
    unlink(path);

    /* too large */
    snprintf(path, sizeof(path), "%s/big.txt", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 1100; i++)
        for (int j = 0; j < 1024; j++)
            fputc('x', fp);
    fclose(fp);
    assert_int_equal(prompt_template_load(dir, "big", &t, err, sizeof(err)), PL_EINVAL);
    assert_null(t);
    snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
    assert_string_equal(err, want);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_values_are_literal),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_standalone_lines),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_uses_len),
        cmocka_unit_test(test_render_too_big),
        cmocka_unit_test(test_builtin_web),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_long_line_of_tags_parses_quickly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
