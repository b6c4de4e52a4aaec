/* The channel templates (prompts/prompt_templates.h): which channel gets which template, what
 * the built-in voice template may not contain, how a folder is loaded (fallbacks, errors naming
 * the file and line), and how the builder uses and swaps a set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "prompts/prompt.h"
#include "prompts/prompt_templates.h"

static char dir[64];

static void write_template(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void remove_template(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/parley-test-tpls-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_template("web");
    remove_template("voice");
    remove_template("system");
    rmdir(dir);
    return 0;
}

static const struct prompt_var full_vars[] = {
    {"assistant_name", "Parley"},
    {"company_name", "Acme Insurance"},
    {"caller_name", "Jane Doe"},
    {"policy_number", "POL-123456"},
    {"channel", "lex"},
    {"today", "2026-11-25"},
    {"documents_note", PROMPT_DOCUMENTS_NOTE},
};

static char *render(const struct prompt_template *t)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(prompt_template_render(t, full_vars, PL_ARRAY_LEN(full_vars), &b), PL_OK);
    return pl_buf_take(&b);
}

static void test_channel_map(void **state)
{
    (void)state;
    assert_int_equal(prompt_channel_template("web"), PROMPT_TEMPLATE_WEB);
    assert_int_equal(prompt_channel_template("chat"), PROMPT_TEMPLATE_WEB);
    assert_int_equal(prompt_channel_template("voice"), PROMPT_TEMPLATE_VOICE);
    assert_int_equal(prompt_channel_template("lex"), PROMPT_TEMPLATE_VOICE);
    assert_int_equal(prompt_channel_template("connect"), PROMPT_TEMPLATE_VOICE);
    assert_int_equal(prompt_channel_template("phone"), PROMPT_TEMPLATE_VOICE);
    assert_int_equal(prompt_channel_template("Voice"), PROMPT_TEMPLATE_VOICE);
    assert_int_equal(prompt_channel_template("sms"), PROMPT_TEMPLATE_WEB);
    assert_int_equal(prompt_channel_template("voices"), PROMPT_TEMPLATE_WEB);
    assert_int_equal(prompt_channel_template(""), PROMPT_TEMPLATE_WEB);
    assert_int_equal(prompt_channel_template(NULL), PROMPT_TEMPLATE_WEB);
    assert_string_equal(prompt_template_kind_name(PROMPT_TEMPLATE_WEB), "web");
    assert_string_equal(prompt_template_kind_name(PROMPT_TEMPLATE_VOICE), "voice");
}

/* Speech engines read Markdown aloud: the voice prompt shows the model none to copy. */
static void test_builtin_voice_has_no_markdown(void **state)
{
    (void)state;
    struct prompt_templates *set = NULL;
    char notes[256] = "x", err[256] = "";
    assert_int_equal(prompt_templates_load(NULL, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_OK);
    assert_string_equal(notes, "");
    char *s = render(prompt_templates_get(set, PROMPT_TEMPLATE_VOICE));
    assert_memory_equal(s, "You are Parley, the voice assistant of Acme Insurance's", 55);
    const char *banned[] = {"*", "#", "`", "[", "](", "_", "\n- ", "\n1.", "http", "{{", "\n\n\n"};
    for (size_t i = 0; i < PL_ARRAY_LEN(banned); i++)
        if (strstr(s, banned[i]))
            fail_msg("voice prompt contains \"%s\"", banned[i]);
    assert_non_null(strstr(s, "\nThe caller is Jane Doe.\nTheir policy number is POL-123456.\n"
                              "Channel: lex.\nToday's date: 2026-11-25.\n\n" PROMPT_DOCUMENTS_NOTE
                              "\n"));
    assert_non_null(strstr(s, "Do not use\nMarkdown"));
    assert_non_null(strstr(s, "say\nplainly that you do not know"));
    pl_free(s);

    /* the web one allows Markdown and carries the same rules */
    s = render(prompt_templates_get(set, PROMPT_TEMPLATE_WEB));
    assert_memory_equal(s, "You are Parley, the virtual assistant of Acme Insurance's", 57);
    assert_non_null(strstr(s, "simple Markdown"));
    assert_non_null(
        strstr(s, "- Channel: lex.\n- Today's date: 2026-11-25.\n\nWhen a sentence of your answer "
                  "uses a document whose id starts with kb:, end it with that id in\nsquare "
                  "brackets, such as [kb:motor-glass-cover.md#2].\n" PROMPT_DOCUMENTS_NOTE "\n"));
    assert_null(strstr(s, "{{"));
    pl_free(s);
    prompt_templates_free(set);
}

static void test_folder_fallbacks_and_errors(void **state)
{
    (void)state;
    struct prompt_templates *set = NULL;
    char notes[512], err[512], want[256];

    /* no templates of its own: both built-in, both noted */
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_OK);
    snprintf(want, sizeof(want),
             "%s/web.txt not found, using the built-in web template; %s/voice.txt not found, "
             "using the built-in voice template",
             dir, dir);
    assert_string_equal(notes, want);
    prompt_templates_free(set);

    /* web.txt wins over system.txt; voice.txt is used */
    write_template("system", "old {{channel}}");
    write_template("web", "web {{channel}}");
    write_template("voice", "voice {{today}}");
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_OK);
    assert_string_equal(notes, "");
    char *s = render(prompt_templates_get(set, PROMPT_TEMPLATE_WEB));
    assert_string_equal(s, "web lex");
    pl_free(s);
    s = render(prompt_templates_get(set, PROMPT_TEMPLATE_VOICE));
    assert_string_equal(s, "voice 2026-11-25");
    pl_free(s);
    prompt_templates_free(set);

    /* system.txt serves as web.txt */
    remove_template("web");
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_OK);
    s = render(prompt_templates_get(set, PROMPT_TEMPLATE_WEB));
    assert_string_equal(s, "old lex");
    pl_free(s);
    prompt_templates_free(set);

    /* an unknown placeholder, with its file and line */
    write_template("voice", "line one\n\nhello {{ nickname }}\n");
    set = (struct prompt_templates *)&set;
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_EINVAL);
    assert_null(set);
    snprintf(want, sizeof(want), "%s/voice.txt: line 3: unknown placeholder \"nickname\"", dir);
    assert_string_equal(err, want);
    write_template("voice", "{{#policy_numbr}}x{{/policy_numbr}}");
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_EINVAL);
    snprintf(want, sizeof(want), "%s/voice.txt: line 1: unknown placeholder \"policy_numbr\"", dir);
    assert_string_equal(err, want);

    /* a parse error, with its file and line */
    write_template("voice", "a\nb {{#today}}\n");
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_EINVAL);
    snprintf(want, sizeof(want), "%s/voice.txt: line 2: ", dir);
    assert_memory_equal(err, want, strlen(want));
    remove_template("voice");

    /* a folder that is not there */
    assert_int_equal(
        prompt_templates_load("/nonexistent/parley", &set, notes, sizeof(notes), err, sizeof(err)),
        PL_ENOTFOUND);
    assert_string_equal(err, "/nonexistent/parley: No such file or directory");
    remove_template("system");
}

static const struct prompt_history_item question[] = {{PROMPT_ROLE_CALLER, 1, "q", 1, false}};

static char *system_of(const struct prompt_builder *b, const char *channel, const char *record)
{
    const struct prompt_caller caller = {
        .channel = channel, .policy_number = record ? "POL-1" : NULL, .policy_record = record};
    struct prompt p;
    assert_int_equal(prompt_build(b, &caller, question, 1, 1, &p), PL_OK);
    char *s = pl_strdup(p.system);
    prompt_cleanup(&p);
    return s;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void test_builder_picks_and_swaps(void **state)
{
    (void)state;
    write_template("web", "W {{channel}}");
    write_template("voice",
                   "V {{channel}}\n{{#documents_note}}\n{{documents_note}}\n{{/documents_note}}\n");
    const struct prompt_builder_opts o = {
        .templates_dir = dir, .context_tokens = 100000, .max_output_tokens = 100};
    struct prompt_builder *b = NULL;
    char err[256] = "", notes[256];
    assert_int_equal(prompt_builder_create(&o, &b, err, sizeof(err)), PL_OK);

    char *s = system_of(b, "voice", NULL);
    assert_string_equal(s, "V voice\n");
    pl_free(s);
    s = system_of(b, "chat", NULL);
    assert_string_equal(s, "W chat");
    pl_free(s);
    s = system_of(b, NULL, NULL);
    assert_string_equal(s, "W ");
    pl_free(s);

    /* the note once: from the template's tag, or added before the documents without one */
    s = system_of(b, "connect", "{\"a\":1}");
    assert_string_equal(s, "V connect\n" PROMPT_DOCUMENTS_NOTE
                           "\n<document id=\"policy:POL-1\" title=\"Your policy POL-1\">\n"
                           "{\"a\":1}\n</document>");
    pl_free(s);
    s = system_of(b, "web", "{\"a\":1}");
    assert_string_equal(s, "W web\n\n" PROMPT_DOCUMENTS_NOTE
                           "\n<document id=\"policy:POL-1\" title=\"Your policy POL-1\">\n"
                           "{\"a\":1}\n</document>");
    pl_free(s);

    /* a new set serves the next build */
    write_template("voice", "V2 {{today}}");
    struct prompt_templates *set = NULL;
    assert_int_equal(prompt_templates_load(dir, &set, notes, sizeof(notes), err, sizeof(err)),
                     PL_OK);
    prompt_builder_set_templates(b, set);
    s = system_of(b, "lex", NULL);
    assert_memory_equal(s, "V2 20", 5);
    pl_free(s);
    prompt_builder_free(b);

    /* the built-in ones say the note once with a document */
    const struct prompt_builder_opts builtin = {.context_tokens = 100000, .max_output_tokens = 100};
    assert_int_equal(prompt_builder_create(&builtin, &b, err, sizeof(err)), PL_OK);
    const char *channels[] = {"web", "voice"};
    for (size_t i = 0; i < 2; i++) {
        s = system_of(b, channels[i], "{}");
        assert_int_equal(count(s, PROMPT_DOCUMENTS_NOTE), 1);
        assert_int_equal(count(s, "<document "), 1);
        assert_non_null(strstr(s, PROMPT_DOCUMENTS_NOTE "\n<document id=\"policy:POL-1\""));
        pl_free(s);
        s = system_of(b, channels[i], NULL);
        assert_int_equal(count(s, PROMPT_DOCUMENTS_NOTE), 0);
        assert_int_equal(count(s, "do not know"), 1);
        pl_free(s);
    }
    prompt_builder_free(b);
    remove_template("web");
    remove_template("voice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_map),
        cmocka_unit_test(test_builtin_voice_has_no_markdown),
        cmocka_unit_test(test_folder_fallbacks_and_errors),
        cmocka_unit_test(test_builder_picks_and_swaps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
