/* Turns answered on other instances, told through the turn engine (turn_tell_remote,
 * bot/turn/turn_remote.c), with the engine's link seams (tests/unit/turn/seams/): each delta
 * once and in order through a tell-again, a gap held back and asked for once, a resumed
 * listener given only what it had not, one turn_end for a turn also acknowledged here whichever
 * comes first, the stored answer read back when deltas or the turn_end were missed, and the
 * desk's publisher (only_here) told nothing of them. Every test asserts the exact events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/turn/seams/seams.h"

#define SID "0123456789abcdef0123456789abcdef"

static struct turn_engine *engine;
static int store_storage;

/* ---- a listener that writes down what it is told ---- */

struct recorder {
    struct turn_listener l;
    struct pl_buf log;
};

static struct recorder *rec_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct recorder, l);
}

static void on_message(struct turn_listener *l, long turn, const char *text, size_t len)
{
    pl_buf_printf(&rec_of(l)->log, "message %ld '%.*s'|", turn, (int)len, text);
}

static void on_start(struct turn_listener *l, long turn)
{
    pl_buf_printf(&rec_of(l)->log, "start %ld|", turn);
}

static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    pl_buf_printf(&rec_of(l)->log, "delta %ld %ld '%.*s'|", turn, seq, (int)len, text);
}

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    pl_buf_printf(&rec_of(l)->log, "error %ld %s|", turn, api_error_code(err->code));
}

static void on_end(struct turn_listener *l, const struct turn_end *e)
{
    pl_buf_printf(&rec_of(l)->log, "end %ld in=%ld %s %s '%s'|", e->turn, e->answered_in,
                  e->stop_reason, e->streamed ? "streamed" : "whole", e->text);
}

static const struct turn_listener_ops recorder_ops = {.message = on_message,
                                                      .turn_start = on_start,
                                                      .delta = on_delta,
                                                      .error = on_error,
                                                      .turn_end = on_end};
static const struct turn_listener_ops only_here_ops = {.only_here = true,
                                                       .message = on_message,
                                                       .turn_start = on_start,
                                                       .delta = on_delta,
                                                       .error = on_error,
                                                       .turn_end = on_end};

static void rec_init(struct recorder *r, const struct turn_listener_ops *ops)
{
    memset(r, 0, sizeof(*r));
    r->l.ops = ops;
    pl_buf_init(&r->log, 1 << 20);
}

static const char *rec_take(struct recorder *r)
{
    static char out[4096];
    snprintf(out, sizeof(out), "%s", r->log.data ? r->log.data : "");
    pl_buf_reset(&r->log);
    return out;
}

static void rec_done(struct recorder *r)
{
    turn_unlisten(&r->l);
    pl_buf_cleanup(&r->log);
}

/* ---- what another instance publishes ---- */

static bool start(long turn)
{
    const struct turn_remote_event ev = {.kind = TURN_REMOTE_START, .turn = turn};
    return turn_tell_remote(engine, SID, &ev);
}

static bool delta(long turn, long seq, const char *text)
{
    const struct turn_remote_event ev = {
        .kind = TURN_REMOTE_DELTA, .turn = turn, .seq = seq, .text = text, .len = strlen(text)};
    return turn_tell_remote(engine, SID, &ev);
}

/* A streamed turn_end that had `deltas` deltas. */
static void end(long turn, long deltas)
{
    const struct turn_end e = {
        .turn = turn, .answered_in = turn, .stop_reason = "end_turn", .text = "", .streamed = true};
    const struct turn_remote_event ev = {
        .kind = TURN_REMOTE_END, .turn = turn, .seq = deltas, .end = &e};
    turn_tell_remote(engine, SID, &ev);
}

static const struct sess_entry stored_answer = {.role = "assistant",
                                                .turn = 1,
                                                .text = "abc",
                                                .stop_reason = "end_turn",
                                                .model = "m",
                                                .citations = "",
                                                .error = ""};

/* This instance's read of turn 1 finds it answered. */
static void answered_in_store(void)
{
    struct fake_call *b = fake_store_pending(CALL_BEGIN);
    assert_non_null(b);
    assert_int_equal(b->turn, 1);
    fake_store_answer_begin(b, fake_ctx_answered(&stored_answer, 1));
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    (void)ud;
    assert_int_equal(ack->err, API_ERR_NONE);
}

/* A message acknowledged here as turn 1 while another instance holds the session's lock. */
static void acknowledged_here_held_elsewhere(void)
{
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, "q1", 2, on_ack, NULL), API_ERR_NONE);
    fake_store_answer_append(fake_store_pending(CALL_APPEND), PL_OK, 1, false, fake_ctx_held());
    fake_uv_advance(200);
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_held());
    fake_uv_advance(200); /* tries again: a begin waits for Redis */
}

static int setup(void **state)
{
    (void)state;
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    const struct turn_engine_opts opts = {
        .loop = &fake_loop,
        .store = (struct sess_store *)&store_storage,
        .llm = fake_provider,
        .prompts = fake_prompts,
        .instance_id = "parleyd-b",
        .turn_lock_ms = 15000,
        .turn_timeout_ms = 120000,
        .history_entries = 50,
        .max_queued = 8,
    };
    engine = turn_engine_create(&opts);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.sessions_live, 0);
    assert_int_equal(fake_uv_open_handles(), 0);
    turn_engine_free(engine);
    assert_int_equal(fake_ctx_live(), 0);
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    return 0;
}

static void test_told_once_in_order_through_a_tell_again(void **state)
{
    (void)state;
    struct recorder r, pub;
    rec_init(&r, &recorder_ops);
    rec_init(&pub, &only_here_ops);
    turn_listen(engine, SID, &r.l, NULL);
    turn_listen(engine, SID, &pub.l, NULL);
    const struct turn_remote_event m = {
        .kind = TURN_REMOTE_MESSAGE, .turn = 1, .text = "q1", .len = 2};
    assert_false(turn_tell_remote(engine, SID, &m));
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    assert_false(delta(1, 1, "b"));
    /* someone joined elsewhere: the turn is told again from its start */
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    assert_false(delta(1, 1, "b"));
    assert_false(delta(1, 2, "c"));
    end(1, 3);
    end(1, 3);
    assert_string_equal(rec_take(&r), "message 1 'q1'|start 1|delta 1 0 'a'|delta 1 1 'b'|"
                                      "delta 1 2 'c'|end 1 in=1 end_turn streamed 'abc'|");
    assert_string_equal(rec_take(&pub), ""); /* the publisher never publishes it again */
    /* events of an older turn are stale */
    assert_false(start(0));
    assert_string_equal(rec_take(&r), "");
    rec_done(&pub);
    rec_done(&r);
}

static void test_a_gap_is_held_back_and_asked_for_once(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, &recorder_ops);
    turn_listen(engine, SID, &r.l, NULL);
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    assert_true(delta(1, 2, "c"));  /* 1 was missed: ask for the turn again */
    assert_false(delta(1, 3, "d")); /* asked already */
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'a'|");
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    assert_false(delta(1, 1, "b"));
    assert_false(delta(1, 2, "c"));
    assert_false(delta(1, 3, "d"));
    end(1, 4);
    assert_string_equal(rec_take(&r), "delta 1 1 'b'|delta 1 2 'c'|delta 1 3 'd'|"
                                      "end 1 in=1 end_turn streamed 'abcd'|");
    /* a delta with no turn_start seen asks too */
    assert_true(delta(2, 5, "x"));
    assert_string_equal(rec_take(&r), "");
    rec_done(&r);
}

static void test_resumed_listener_gets_only_what_it_had_not(void **state)
{
    (void)state;
    struct recorder resumed, late;
    rec_init(&resumed, &recorder_ops);
    rec_init(&late, &recorder_ops);
    /* it had turn 1 up to seq 1 from another instance; this one has not seen the turn yet */
    const struct turn_replay from = {.turn = 1, .after_seq = 1};
    turn_listen(engine, SID, &resumed.l, &from);
    assert_string_equal(rec_take(&resumed), "");
    assert_true(delta(1, 3, "d")); /* mid-turn, before the tell-again */
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    assert_false(delta(1, 1, "b"));
    assert_false(delta(1, 2, "c"));
    assert_string_equal(rec_take(&resumed), "delta 1 2 'c'|");
    /* one joining now gets the turn so far from this instance's copy, then the tail */
    turn_listen(engine, SID, &late.l, NULL);
    assert_string_equal(rec_take(&late), "start 1|delta 1 0 'a'|delta 1 1 'b'|delta 1 2 'c'|");
    assert_false(delta(1, 3, "d"));
    end(1, 4);
    assert_string_equal(rec_take(&resumed), "delta 1 3 'd'|end 1 in=1 end_turn streamed 'abcd'|");
    assert_string_equal(rec_take(&late), "delta 1 3 'd'|end 1 in=1 end_turn streamed 'abcd'|");
    rec_done(&late);
    rec_done(&resumed);
}

/* Acknowledged here, answered elsewhere: the answering instance's turn_end is the one, whether
 * this instance's read of the answer comes before it or after; the publisher here gets this
 * instance's own. */
static void test_turn_acknowledged_here_ends_once(void **state)
{
    (void)state;
    struct recorder r, pub;
    rec_init(&r, &recorder_ops);
    rec_init(&pub, &only_here_ops);
    turn_listen(engine, SID, &r.l, NULL);
    turn_listen(engine, SID, &pub.l, NULL);
    acknowledged_here_held_elsewhere();
    assert_false(start(1));
    assert_false(delta(1, 0, "ab"));
    answered_in_store(); /* read here first */
    assert_string_equal(rec_take(&r), "message 1 'q1'|start 1|delta 1 0 'ab'|");
    assert_false(delta(1, 1, "c"));
    end(1, 2);
    assert_string_equal(rec_take(&r), "delta 1 1 'c'|end 1 in=1 end_turn streamed 'abc'|");
    assert_string_equal(rec_take(&pub), "message 1 'q1'|end 1 in=1 end_turn whole 'abc'|");
    rec_done(&pub);
    rec_done(&r);
}

static void test_turn_acknowledged_here_ended_elsewhere_first(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, &recorder_ops);
    turn_listen(engine, SID, &r.l, NULL);
    acknowledged_here_held_elsewhere();
    assert_false(start(1));
    assert_false(delta(1, 0, "abc"));
    end(1, 1);
    answered_in_store();
    assert_string_equal(
        rec_take(&r), "message 1 'q1'|start 1|delta 1 0 'abc'|end 1 in=1 end_turn streamed 'abc'|");
    rec_done(&r);
}

/* The turn ends with fewer deltas told here than it had: the whole text comes from the store. */
static void test_deltas_short_at_the_end_read_back(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, &recorder_ops);
    turn_listen(engine, SID, &r.l, NULL);
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    end(1, 3); /* 1 and 2 were in a publish missed here */
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'a'|");
    answered_in_store();
    assert_string_equal(rec_take(&r), "end 1 in=1 end_turn whole 'abc'|");
    end(1, 3);
    assert_false(delta(1, 1, "b"));
    assert_string_equal(rec_take(&r), "");
    rec_done(&r);
}

/* Nothing heard of a turn between two checks (its turn_end missed): read back. */
static void test_quiet_turn_read_back(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, &recorder_ops);
    turn_listen(engine, SID, &r.l, NULL);
    assert_false(start(1));
    assert_false(delta(1, 0, "a"));
    turn_remote_check(engine, SID); /* heard since the last: nothing */
    assert_null(fake_store_pending(CALL_BEGIN));
    turn_remote_check(engine, SID);
    answered_in_store();
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'a'|end 1 in=1 end_turn whole 'abc'|");
    end(1, 3); /* late: told already */
    assert_string_equal(rec_take(&r), "");
    rec_done(&r);
}

/* A turn answered here drops another instance's events of it. */
static void test_turn_answered_here_is_not_told_from_elsewhere(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, &recorder_ops);
    turn_listen(engine, SID, &r.l, NULL);
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, "q1", 2, on_ack, NULL), API_ERR_NONE);
    fake_store_answer_append(fake_store_pending(CALL_APPEND), PL_OK, 1, false, fake_ctx_locked(1));
    fake_uv_pass();
    struct fake_llm_call *c = fake_llm_current();
    assert_non_null(c);
    fake_llm_text(c, "x");
    assert_false(start(1));
    assert_false(delta(1, 0, "y"));
    fake_llm_end(c, LLM_STOP_END_TURN, 1, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r),
                        "message 1 'q1'|start 1|delta 1 0 'x'|end 1 in=1 end_turn streamed 'x'|");
    end(1, 1);
    assert_string_equal(rec_take(&r), "");
    rec_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_told_once_in_order_through_a_tell_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_gap_is_held_back_and_asked_for_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resumed_listener_gets_only_what_it_had_not, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_turn_acknowledged_here_ends_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_acknowledged_here_ended_elsewhere_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deltas_short_at_the_end_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_turn_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_answered_here_is_not_told_from_elsewhere, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
