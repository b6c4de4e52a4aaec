/* Unit tests for bot/agent_proto: the exact bytes of the agent encoders (ready, unwatched, a
 * caller frame turned into a session event) and every rule of the agent frame parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/agent_proto.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"

#define HEAD "HEAD" /* stands for the headroom agent.c writes first */
#define SID  "0123456789abcdef0123456789abcdef"

static struct pl_buf out_buf;
static const struct chat_limits lim = {.max_frame_bytes = 200, .max_text_chars = 10};

static int setup(void **state)
{
    (void)state;
    pl_buf_init(&out_buf, 1 << 20);
    assert_int_equal(pl_buf_append_str(&out_buf, HEAD), PL_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pl_buf_cleanup(&out_buf);
    return 0;
}

static void expect(const char *want)
{
    assert_int_equal(out_buf.len, strlen(HEAD) + strlen(want));
    assert_memory_equal(out_buf.data, HEAD, strlen(HEAD));
    assert_string_equal(out_buf.data + strlen(HEAD), want);
    pl_buf_reset(&out_buf);
    pl_buf_append_str(&out_buf, HEAD);
}

static void test_ready(void **state)
{
    (void)state;
    agent_out_ready(&out_buf, "ana", "agent", 50);
    expect("{\"type\":\"ready\",\"agent\":\"ana\",\"role\":\"agent\",\"max_watches\":50}");
    agent_out_ready(&out_buf, "a\"\xc3\xa9", "admin", 1);
    expect("{\"type\":\"ready\",\"agent\":\"a\\\"\xc3\xa9\",\"role\":\"admin\",\"max_watches\":1}");
    /* not UTF-8: replaced, never a broken frame */
    agent_out_ready(&out_buf, "\xff", "agent", 1);
    expect("{\"type\":\"ready\",\"agent\":\"\xef\xbf\xbd\",\"role\":\"agent\",\"max_watches\":1}");
}

static void test_unwatched(void **state)
{
    (void)state;
    agent_event_message(&out_buf, "caller", 4, "a \"b\"\n\xff", 7);
    expect("{\"type\":\"message\",\"role\":\"caller\",\"turn\":4,\"text\":\"\xef\xbf\xbd\"}");
    agent_event_message(&out_buf, "caller", 5, "h\xc3\xa9", 3);
    expect("{\"type\":\"message\",\"role\":\"caller\",\"turn\":5,\"text\":\"h\xc3\xa9\"}");
    agent_out_unwatched(&out_buf, SID);
    expect("{\"type\":\"unwatched\",\"session_id\":\"" SID "\"}");
}

static void test_agent_events(void **state)
{
    (void)state;
    agent_event_agent_message(&out_buf, "ann", 3, "On it.", 6);
    expect("{\"type\":\"message\",\"role\":\"agent\",\"turn\":3,\"text\":\"On "
           "it.\",\"agent\":\"ann\"}");
    agent_event_audit(&out_buf, "ann", "takeover", 3, 1700000000123LL);
    expect("{\"type\":\"audit\",\"agent\":\"ann\",\"action\":\"takeover\",\"turn\":3,"
           "\"ts\":1700000000123}");
    agent_out_session_state(&out_buf, SID, "agent", "ann");
    expect("{\"type\":\"session_update\",\"session_id\":\"" SID
           "\",\"state\":\"agent\",\"agent\":\"ann\"}");
    agent_out_session_state(&out_buf, SID, "bot", NULL);
    expect("{\"type\":\"session_update\",\"session_id\":\"" SID "\",\"state\":\"bot\"}");
}

static void test_for_session(void **state)
{
    (void)state;
    struct pl_buf ev;
    pl_buf_init(&ev, 1 << 16);
    chat_out_delta(&ev, 3, 7, "Hi \"x\"", 6);
    agent_out_for_session(&out_buf, SID, ev.data, ev.len);
    expect("{\"session_id\":\"" SID
           "\",\"type\":\"delta\",\"turn\":3,\"seq\":7,\"text\":\"Hi \\\"x\\\"\"}");
    pl_buf_reset(&ev);
    chat_out_history(&ev, NULL, 0);
    agent_out_for_session(&out_buf, SID, ev.data, ev.len);
    expect("{\"session_id\":\"" SID "\",\"type\":\"history\",\"messages\":[]}");
    agent_out_for_session(&out_buf, SID, "{ \t}", 4);
    expect("{\"session_id\":\"" SID "\" \t}");
    agent_out_for_session(&out_buf, SID, "{}", 2);
    expect("{\"session_id\":\"" SID "\"}");
    /* not an object, or a bad session id: nothing written */
    agent_out_for_session(&out_buf, SID, "[]", 2);
    agent_out_for_session(&out_buf, "nope", "{\"a\":1}", 7);
    agent_out_for_session(&out_buf, SID, "{", 1);
    expect("");
    /* past the buffer's maximum: left exactly as it was */
    struct pl_buf small;
    pl_buf_init(&small, 40);
    pl_buf_append_str(&small, "X");
    agent_out_for_session(&small, SID, "{\"type\":\"turn_start\",\"turn\":1}", 30);
    assert_int_equal(small.len, 1);
    assert_string_equal(small.data, "X");
    pl_buf_cleanup(&small);
    pl_buf_cleanup(&ev);
}

static void test_sessions(void **state)
{
    (void)state;
    struct sess_list_row rows[4];
    memset(rows, 0, sizeof(rows));
    static const char *const st[] = {"bot", "waiting_agent", "agent", "waiting_agent"};
    static const long long upd[] = {10, 30, 20, 40};
    for (int i = 0; i < 4; i++) {
        snprintf(rows[i].session_id, sizeof(rows[i].session_id), "%031d%d", 0, i);
        snprintf(rows[i].channel, sizeof(rows[i].channel), "web");
        snprintf(rows[i].state, sizeof(rows[i].state), "%s", st[i]);
        rows[i].updated_ms = upd[i];
        rows[i].waiting_since_ms = upd[i];
    }
    snprintf(rows[1].reason, sizeof(rows[1].reason), "asked for a human");
    snprintf(rows[1].caller_id, sizeof(rows[1].caller_id), "c-1");
    snprintf(rows[1].caller_name, sizeof(rows[1].caller_name), "Ada \"A\"");
    snprintf(rows[0].last_text, sizeof(rows[0].last_text), "hi");
    snprintf(rows[0].reason, sizeof(rows[0].reason), "not shown: not waiting");
    /* waiting first, oldest first; then newest first */
    sess_list_sort(rows, 4);
    assert_string_equal(rows[0].session_id, "00000000000000000000000000000001");
    assert_string_equal(rows[1].session_id, "00000000000000000000000000000003");
    assert_string_equal(rows[2].session_id, "00000000000000000000000000000002");
    assert_string_equal(rows[3].session_id, "00000000000000000000000000000000");
    agent_out_sessions(&out_buf, rows, 2);
    expect("{\"type\":\"sessions\",\"sessions\":[{\"session_id\":"
           "\"00000000000000000000000000000001\",\"channel\":\"web\",\"state\":"
           "\"waiting_agent\",\"caller\":{\"id\":\"c-1\",\"name\":\"Ada \\\"A\\\"\"},"
           "\"updated\":30,\"last_text\":\"\",\"reason\":\"asked for a human\","
           "\"waiting_since\":30},"
           "{\"session_id\":\"00000000000000000000000000000003\",\"channel\":\"web\","
           "\"state\":\"waiting_agent\",\"caller\":{\"id\":null,\"name\":null},"
           "\"updated\":40,\"last_text\":\"\",\"waiting_since\":40}]}");
    agent_out_sessions(&out_buf, rows + 3, 1);
    expect("{\"type\":\"sessions\",\"sessions\":[{\"session_id\":"
           "\"00000000000000000000000000000000\",\"channel\":\"web\",\"state\":\"bot\","
           "\"caller\":{\"id\":null,\"name\":null},\"updated\":10,\"last_text\":\"hi\"}]}");
    agent_out_sessions(&out_buf, NULL, 0);
    expect("{\"type\":\"sessions\",\"sessions\":[]}");
    /* a live update: the same row, "type" first */
    agent_out_session_row(&out_buf, &rows[0]);
    expect("{\"type\":\"session_update\",\"session_id\":\"00000000000000000000000000000001\","
           "\"channel\":\"web\",\"state\":\"waiting_agent\",\"caller\":{\"id\":\"c-1\","
           "\"name\":\"Ada \\\"A\\\"\"},\"updated\":30,\"last_text\":\"\",\"reason\":"
           "\"asked for a human\",\"waiting_since\":30}");
    agent_out_session_row(&out_buf, &rows[3]);
    expect("{\"type\":\"session_update\",\"session_id\":\"00000000000000000000000000000000\","
           "\"channel\":\"web\",\"state\":\"bot\",\"caller\":{\"id\":null,\"name\":null},"
           "\"updated\":10,\"last_text\":\"hi\"}");
}

/* Parse `frame`; expect PL_EINVAL with `code` and a message containing `part`. */
static void expect_refused(const char *frame, enum api_error code, const char *part)
{
    struct agent_in in;
    struct chat_error err;
    assert_int_equal(agent_in_parse(frame, strlen(frame), &lim, &in, &err), PL_EINVAL);
    assert_int_equal(err.code, code);
    if (!strstr(err.message, part))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
    assert_null(in.token);
    assert_null(in.text);
    agent_in_cleanup(&in);
}

static void test_parse_ok(void **state)
{
    (void)state;
    struct agent_in in;
    struct chat_error err;
    const char *f = "{\"type\":\"hello\",\"token\":\"a.b.c\",\"extra\":1}";
    assert_int_equal(agent_in_parse(f, strlen(f), &lim, &in, &err), PL_OK);
    assert_int_equal(in.type, AGENT_IN_HELLO);
    assert_string_equal(in.token, "a.b.c");
    agent_in_cleanup(&in);
    assert_null(in.token);

    f = "{\"type\":\"list\"}";
    assert_int_equal(agent_in_parse(f, strlen(f), &lim, &in, &err), PL_OK);
    assert_int_equal(in.type, AGENT_IN_LIST);
    agent_in_cleanup(&in);

    static const struct {
        const char *name;
        enum agent_in_type type;
    } with_sid[] = {{"watch", AGENT_IN_WATCH},
                    {"unwatch", AGENT_IN_UNWATCH},
                    {"takeover", AGENT_IN_TAKEOVER},
                    {"release", AGENT_IN_RELEASE}};
    for (size_t i = 0; i < sizeof(with_sid) / sizeof(with_sid[0]); i++) {
        char frame[120];
        snprintf(frame, sizeof(frame), "{\"type\":\"%s\",\"session_id\":\"%s\"}", with_sid[i].name,
                 SID);
        assert_int_equal(agent_in_parse(frame, strlen(frame), &lim, &in, &err), PL_OK);
        assert_int_equal(in.type, with_sid[i].type);
        assert_string_equal(in.session_id, SID);
        agent_in_cleanup(&in);
    }

    f = "{\"type\":\"say\",\"session_id\":\"" SID "\",\"text\":\"h\xc3\xa9llo\"}";
    assert_int_equal(agent_in_parse(f, strlen(f), &lim, &in, &err), PL_OK);
    assert_int_equal(in.type, AGENT_IN_SAY);
    assert_string_equal(in.text, "h\xc3\xa9llo");
    assert_int_equal(in.text_len, 6);
    agent_in_cleanup(&in);
}

static void test_parse_refused(void **state)
{
    (void)state;
    expect_refused("[1]", API_ERR_BAD_REQUEST, "JSON object");
    expect_refused("{\"type\":", API_ERR_BAD_REQUEST, "not valid JSON");
    expect_refused("{\"type\":\"\xff\"}", API_ERR_BAD_REQUEST, "UTF-8");
    expect_refused("{}", API_ERR_BAD_REQUEST, "needs a \"type\"");
    expect_refused("{\"type\":\"message\"}", API_ERR_BAD_REQUEST, "unknown type \"message\"");
    expect_refused("{\"type\":\"hello\"}", API_ERR_BAD_REQUEST, "\"token\" is required");
    expect_refused("{\"type\":\"hello\",\"token\":\"\"}", API_ERR_BAD_REQUEST, "token");
    expect_refused("{\"type\":\"hello\",\"token\":5}", API_ERR_BAD_REQUEST, "token");
    expect_refused("{\"type\":\"watch\"}", API_ERR_BAD_REQUEST, "watch: \"session_id\"");
    expect_refused("{\"type\":\"watch\",\"session_id\":\"0123456789ABCDEF0123456789abcdef\"}",
                   API_ERR_BAD_REQUEST, "lower-case hex");
    expect_refused("{\"type\":\"unwatch\",\"session_id\":\"0123\"}", API_ERR_BAD_REQUEST,
                   "unwatch:");
    expect_refused("{\"type\":\"say\",\"session_id\":\"" SID "\"}", API_ERR_BAD_REQUEST,
                   "\"text\" is required");
    expect_refused("{\"type\":\"say\",\"session_id\":\"" SID "\",\"text\":\" \\n\"}",
                   API_ERR_BAD_REQUEST, "empty");
    expect_refused("{\"type\":\"say\",\"session_id\":\"" SID "\",\"text\":\"a\\u0000b\"}",
                   API_ERR_BAD_REQUEST, "NUL");
    expect_refused("{\"type\":\"say\",\"session_id\":\"" SID "\",\"text\":\"12345678901\"}",
                   API_ERR_TOO_LARGE, "11 characters and the limit is 10");
    expect_refused("{\"type\":\"watch\",\"session_id\":\"" SID "\",\"session_id\":\"" SID "\"}",
                   API_ERR_BAD_REQUEST, "not valid JSON");
    char big[260];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    expect_refused(big, API_ERR_TOO_LARGE, "259 bytes and the limit is 200");
    /* a long unknown type is quoted cut on a character boundary */
    expect_refused("{\"type\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                   "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
                   API_ERR_BAD_REQUEST, "unknown type \"\xc3\xa9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_for_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
