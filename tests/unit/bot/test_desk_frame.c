/* Unit tests for bot/desk_frame: every kind of frame of a session's live channel read to the
 * exact event the turn engine is told, and what is not a frame of ours read as nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bot/desk_frame.h"

static void parse(const char *text, struct desk_frame *f)
{
    desk_frame_parse(text, strlen(text), f);
}

static void test_turn_start_and_delta(void **state)
{
    (void)state;
    struct desk_frame f;
    parse("{\"type\":\"turn_start\",\"turn\":3}", &f);
    assert_int_equal(f.kind, DESK_FRAME_TURN);
    assert_int_equal(f.turn.kind, TURN_REMOTE_START);
    assert_int_equal(f.turn.turn, 3);
    desk_frame_cleanup(&f);
    parse("{\"type\":\"delta\",\"turn\":3,\"seq\":7,\"text\":\"cov\\u00e9red\"}", &f);
    assert_int_equal(f.kind, DESK_FRAME_TURN);
    assert_int_equal(f.turn.kind, TURN_REMOTE_DELTA);
    assert_int_equal(f.turn.turn, 3);
    assert_int_equal(f.turn.seq, 7);
    assert_int_equal(f.turn.len, 8);
    assert_memory_equal(f.turn.text, "cov\xc3\xa9red", 8);
    desk_frame_cleanup(&f);
}

static void test_turn_end_streamed_and_whole(void **state)
{
    (void)state;
    struct desk_frame f;
    parse("{\"type\":\"turn_end\",\"turn\":3,\"stop_reason\":\"max_tokens\",\"usage\":{"
          "\"input_tokens\":12,\"output_tokens\":40,\"cache_read_input_tokens\":5,"
          "\"cache_creation_input_tokens\":6},\"cost_usd_micros\":321,\"citations\":[{\"source\":"
          "\"kb:faq.md\",\"title\":\"FAQ\"}],\"deltas\":40}",
          &f);
    assert_int_equal(f.kind, DESK_FRAME_TURN);
    assert_int_equal(f.turn.kind, TURN_REMOTE_END);
    assert_int_equal(f.turn.seq, 40); /* the deltas it had */
    const struct turn_end *e = f.turn.end;
    assert_int_equal(e->turn, 3);
    assert_int_equal(e->answered_in, 3);
    assert_string_equal(e->stop_reason, "max_tokens");
    assert_int_equal(e->input_tokens, 12);
    assert_int_equal(e->output_tokens, 40);
    assert_int_equal(e->cache_read_input_tokens, 5);
    assert_int_equal(e->cache_creation_input_tokens, 6);
    assert_int_equal(e->cost_micros, 321);
    assert_true(e->streamed);
    assert_int_equal(e->text_len, 0);
    assert_int_equal(e->n_citations, 1);
    assert_string_equal(e->citations[0].source, "kb:faq.md");
    assert_string_equal(e->citations[0].title, "FAQ");
    desk_frame_cleanup(&f);
    parse("{\"type\":\"turn_end\",\"turn\":2,\"answered_in\":3,\"stop_reason\":\"end_turn\","
          "\"citations\":[],\"text\":\"both answered\"}",
          &f);
    e = f.turn.end;
    assert_int_equal(f.turn.seq, -1); /* not known */
    assert_int_equal(e->answered_in, 3);
    assert_false(e->streamed);
    assert_string_equal(e->text, "both answered");
    assert_int_equal(e->text_len, 13);
    assert_int_equal(e->n_citations, 0);
    assert_null(e->citations);
    desk_frame_cleanup(&f);
}

static void test_error_and_message(void **state)
{
    (void)state;
    struct desk_frame f;
    parse("{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow "
          "down\",\"retryable\":true,"
          "\"retry_after_ms\":1500,\"turn\":4}",
          &f);
    assert_int_equal(f.kind, DESK_FRAME_TURN);
    assert_int_equal(f.turn.kind, TURN_REMOTE_ERROR);
    assert_int_equal(f.turn.turn, 4);
    assert_int_equal(f.turn.error->code, API_ERR_RATE_LIMITED); /* the table's first of the code */
    assert_string_equal(f.turn.error->message, "slow down");
    assert_int_equal(f.turn.error->retry_after_ms, 1500);
    desk_frame_cleanup(&f);
    parse("{\"type\":\"message\",\"role\":\"caller\",\"turn\":5,\"text\":\"hail?\"}", &f);
    assert_int_equal(f.turn.kind, TURN_REMOTE_MESSAGE);
    assert_int_equal(f.turn.turn, 5);
    assert_int_equal(f.turn.len, 5);
    assert_memory_equal(f.turn.text, "hail?", 5);
    desk_frame_cleanup(&f);
}

static void test_agent_actions(void **state)
{
    (void)state;
    struct desk_frame f;
    parse("{\"type\":\"agent\",\"kind\":\"say\",\"agent\":\"dee\",\"turn\":5,\"ts\":1764000000000,"
          "\"text\":\"Dee here\"}",
          &f);
    assert_int_equal(f.kind, DESK_FRAME_AGENT);
    assert_int_equal(f.agent.kind, TURN_AGENT_SAY);
    assert_string_equal(f.agent.agent, "dee");
    assert_int_equal(f.agent.turn, 5);
    assert_int_equal(f.agent.ts_ms, 1764000000000LL);
    assert_int_equal(f.agent.len, 8);
    assert_string_equal(f.agent.text, "Dee here");
    desk_frame_cleanup(&f);
    parse("{\"type\":\"agent\",\"kind\":\"takeover\",\"agent\":\"dee\",\"turn\":5,\"ts\":1}", &f);
    assert_int_equal(f.kind, DESK_FRAME_AGENT);
    assert_int_equal(f.agent.kind, TURN_AGENT_TAKEOVER);
    assert_null(f.agent.text);
    desk_frame_cleanup(&f);
}

static void test_not_a_frame_of_ours(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[1,2",
        "[1,2]",
        "{\"turn\":3}",
        "{\"type\":\"ready\"}",
        "{\"type\":\"delta\",\"turn\":3,\"text\":\"no seq\"}",
        "{\"type\":\"delta\",\"turn\":3,\"seq\":-1,\"text\":\"x\"}",
        "{\"type\":\"delta\",\"turn\":3,\"seq\":0,\"text\":1}",
        "{\"type\":\"message\",\"turn\":3}",
        "{\"type\":\"error\",\"message\":\"no code\"}",
        "{\"type\":\"turn_end\",\"turn\":3}",
        "{\"type\":\"agent\",\"kind\":\"say\",\"agent\":\"dee\"}",
        "{\"type\":\"agent\",\"kind\":\"dance\",\"agent\":\"dee\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct desk_frame f;
        parse(bad[i], &f);
        if (f.kind != DESK_FRAME_NONE)
            fail_msg("read as a frame: %s", bad[i]);
        desk_frame_cleanup(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turn_start_and_delta),
        cmocka_unit_test(test_turn_end_streamed_and_whole),
        cmocka_unit_test(test_error_and_message),
        cmocka_unit_test(test_agent_actions),
        cmocka_unit_test(test_not_a_frame_of_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
