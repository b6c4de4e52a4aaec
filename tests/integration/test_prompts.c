/* Channel templates and their SIGHUP reload against a real redis-server, the Anthropic double and
 * parleyd started with --prompts DIR: a voice session's system prompt (the double's request log)
 * is the voice template, a web session's the web one; after a template changes and parleyd gets
 * SIGHUP, the next turn has the new text while a turn streaming across the reload ends whole;
 * an invalid template on SIGHUP is logged with its file and line and the old one kept. */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"
#include "tests/support/log_lines.h"

static struct ts_stack st;
static char dir[64];
static const char *const upstream_args[] = {"--pace-ms", "1", NULL};
static const char *parleyd_args[] = {"--prompts", dir, NULL};

static void write_template(const char *name, const char *text)
{
    char path[128], tmp[136];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0); /* whole, as an editor or a deploy would */
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/parley-it-prompts-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    write_template("web", "WEB-V1 on {{channel}}.\n");
    write_template("voice", "VOICE-V1 on {{channel}}.\n");
    return ts_stack_start(&st, "prompts", upstream_args, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/web.txt", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/voice.txt", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/summary.txt", dir);
    unlink(path);
    rmdir(dir);
    return ts_stack_stop(&st);
}

/* The system prompt of the request whose last message contains `marker` (new string). */
static char *system_prompt_for(const char *marker)
{
    char *s = ts_upstream_system_prompt(&st.upstream, marker);
    if (!s)
        fail_msg("no request with %s in the double's log", marker);
    return s;
}

/* A caller token of a new session on `channel` (POST /v1/sessions with an admin token). */
static char *session_on(const char *channel)
{
    char url[256], body[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", st.parleyd.url);
    snprintf(body, sizeof(body), "{\"channel\":\"%s\"}", channel);
    char *admin = ts_token("admin", "site", NULL, 600);
    struct ts_http_reply r;
    assert_int_equal(ts_http("POST", url, admin, body, &r), 0);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    char *token = pl_strdup(json_string_value(json_object_get(j, "token")));
    json_decref(j);
    ts_http_reply_free(&r);
    pl_free(admin);
    return token;
}

static void ask_ok(struct ts_caller *c, const char *id, const char *text)
{
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(c, id, text, 10000, &t), 0);
    assert_string_equal(t.stop_reason, "end_turn");
    ts_turn_free(&t);
}

static void open_on(struct ts_caller *c, const char *channel)
{
    char *token = session_on(channel);
    assert_int_equal(ts_caller_open(c, st.parleyd.ws_url, token, 0, 0), 0);
    pl_free(token);
}

static void test_channel_picks_template(void **state)
{
    (void)state;
    struct ts_caller voice, web, lex;
    open_on(&voice, "voice");
    open_on(&web, "web");
    open_on(&lex, "lex");
    ask_ok(&voice, "v1", "channel-voice-1: when is my renewal?");
    ask_ok(&web, "w1", "channel-web-1: when is my renewal?");
    ask_ok(&lex, "l1", "channel-lex-1: when is my renewal?");
    char *s = system_prompt_for("channel-voice-1");
    assert_string_equal(s, "VOICE-V1 on voice.\n");
    pl_free(s);
    s = system_prompt_for("channel-web-1");
    assert_string_equal(s, "WEB-V1 on web.\n");
    pl_free(s);
    s = system_prompt_for("channel-lex-1");
    assert_string_equal(s, "VOICE-V1 on lex.\n");
    pl_free(s);
    ts_caller_close(&voice);
    ts_caller_close(&web);
    ts_caller_close(&lex);
}

static void test_sighup_reloads_without_cutting_a_turn(void **state)
{
    (void)state;
    struct ts_caller c;
    open_on(&c, "voice");
    /* 60 words, 40 ms apart: about 2.4 s of streaming, across the reload */
    assert_int_equal(ts_caller_message(&c, "slow", "reload-slow-1 [[tokens:60]][[pace:40]]"), 0);
    json_t *first = ts_caller_expect(&c, "delta", 10000);
    assert_non_null(first);
    assert_int_equal(json_integer_value(json_object_get(first, "seq")), 0);
    json_decref(first);

    write_template("voice", "VOICE-V2 speaking on {{channel}}.\n");
    char want[160];
    snprintf(want, sizeof(want), "prompts reloaded from %s: web, voice", dir);
    assert_int_equal(kill(st.parleyd.proc.pid, SIGHUP), 0);
    assert_true(ts_log_wait(&st.parleyd.proc, want, 10000));

    /* the turn goes on after the reload and ends whole */
    long deltas_after = 0, last_seq = 0;
    json_t *end = NULL;
    while (!end) {
        json_t *f = ts_caller_recv(&c, 10000);
        assert_non_null(f);
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!strcmp(type, "delta")) {
            long seq = (long)json_integer_value(json_object_get(f, "seq"));
            assert_int_equal(seq, last_seq + 1);
            last_seq = seq;
            deltas_after++;
            json_decref(f);
        } else if (!strcmp(type, "turn_end")) {
            end = f;
        } else {
            json_decref(f);
        }
    }
    assert_true(deltas_after > 0);
    assert_int_equal(last_seq, 59);
    assert_string_equal(json_string_value(json_object_get(end, "stop_reason")), "end_turn");
    json_decref(end);
    char *s = system_prompt_for("reload-slow-1");
    assert_string_equal(s, "VOICE-V1 on voice.\n"); /* built when the turn started */
    pl_free(s);

    ask_ok(&c, "after", "reload-after-1: and now?");
    s = system_prompt_for("reload-after-1");
    assert_string_equal(s, "VOICE-V2 speaking on voice.\n");
    pl_free(s);
    ts_caller_close(&c);
}

static void test_invalid_template_keeps_the_old_one(void **state)
{
    (void)state;
    write_template("voice", "VOICE-V3\n\nHello {{nickname}}.\n");
    assert_int_equal(kill(st.parleyd.proc.pid, SIGHUP), 0);
    char want[200];
    snprintf(want, sizeof(want), "%s/voice.txt: line 3: unknown placeholder \"nickname\"", dir);
    assert_true(ts_log_wait(&st.parleyd.proc, want, 10000));
    assert_int_equal(ts_log_count(&st.parleyd.proc, "prompts not reloaded from"), 1);

    struct ts_caller c;
    open_on(&c, "voice");
    ask_ok(&c, "bad", "invalid-kept-1: still there?");
    char *s = system_prompt_for("invalid-kept-1");
    assert_string_equal(s, "VOICE-V2 speaking on voice.\n");
    pl_free(s);

    /* a section left open is a parse error, also named by file and line */
    write_template("voice", "VOICE-V4 {{#channel}}\n");
    assert_int_equal(kill(st.parleyd.proc.pid, SIGHUP), 0);
    snprintf(want, sizeof(want), "%s/voice.txt: line 1: ", dir);
    assert_true(ts_log_wait(&st.parleyd.proc, want, 10000));
    ask_ok(&c, "bad2", "invalid-kept-2: still there?");
    s = system_prompt_for("invalid-kept-2");
    assert_string_equal(s, "VOICE-V2 speaking on voice.\n");
    pl_free(s);
    ts_caller_close(&c);
}

/* The summary request's template is read with the others: an invalid one keeps every current
 * template, a valid one is swapped in with them. */
static void test_summary_template_reloads_with_them(void **state)
{
    (void)state;
    int refused = ts_log_count(&st.parleyd.proc, "prompts not reloaded from");
    write_template("voice", "VOICE-V5 on {{channel}}.\n"); /* valid again: the summary is wrong */
    write_template("summary", "SUMMARY-V2 of {{nickname}}\n");
    assert_int_equal(kill(st.parleyd.proc.pid, SIGHUP), 0);
    char want[200];
    snprintf(want, sizeof(want), "%s/summary.txt: line 1: ", dir);
    assert_true(ts_log_wait(&st.parleyd.proc, want, 10000));
    assert_int_equal(ts_log_count(&st.parleyd.proc, "prompts not reloaded from"), refused + 1);
    /* All or nothing: the voice template, valid on its own, was not taken either. */
    struct ts_caller c;
    open_on(&c, "voice");
    ask_ok(&c, "v2", "summary-refused-1: still?");
    char *sys = system_prompt_for("summary-refused-1");
    assert_string_equal(sys, "VOICE-V2 speaking on voice.\n");
    pl_free(sys);
    ts_caller_close(&c);

    write_template("summary", "SUMMARY-V2 up to turn {{through}}:\n{{transcript}}\n");
    snprintf(want, sizeof(want), "prompts reloaded from %s: web, voice, summary", dir);
    int reloaded = ts_log_count(&st.parleyd.proc, want);
    assert_int_equal(kill(st.parleyd.proc.pid, SIGHUP), 0);
    for (int i = 0; i < 200 && ts_log_count(&st.parleyd.proc, want) == reloaded; i++)
        poll(NULL, 0, 50); /* until the line is there, 10 s at most */
    assert_int_equal(ts_log_count(&st.parleyd.proc, want), reloaded + 1);
    /* Swapped together: the voice template of the same reload is in use. */
    open_on(&c, "voice");
    ask_ok(&c, "v5", "summary-reload-1: and now?");
    sys = system_prompt_for("summary-reload-1");
    assert_string_equal(sys, "VOICE-V5 on voice.\n");
    pl_free(sys);
    ts_caller_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_picks_template),
        cmocka_unit_test(test_sighup_reloads_without_cutting_a_turn),
        cmocka_unit_test(test_invalid_template_keeps_the_old_one),
        cmocka_unit_test(test_summary_template_reloads_with_them),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
