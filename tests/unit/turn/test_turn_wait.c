/* bot/turn_wait.c (submit, then wait up to a budget) against the turn engine and its link seams
 * (tests/unit/turn/seams/): the answer within the wait, "pending" when the budget runs out (the
 * turn goes on and is not told twice), the engine's refusal, a waiter cancelled before its
 * acknowledgement, a wait of 0. Every handle is closed at the end of each test. */
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

/* The module under test, compiled with the seams in place of libuv's timers. */
#include "bot/turn_wait.c"

#define SID "0123456789abcdef0123456789abcdef"

static struct turn_engine *engine;
static int store_storage;
static struct pl_buf told;

static void on_result(void *ud, const struct turn_wait_result *r)
{
    (void)ud;
    if (r->err)
        pl_buf_printf(&told, "refused %s %u|", api_error_code(r->err), r->retry_after_ms);
    else if (!r->end)
        pl_buf_printf(&told, "pending %ld|", r->turn);
    else
        pl_buf_printf(&told, "ended %ld '%s'|", r->turn, r->end->text);
}

static const char *take(void)
{
    static char out[512];
    snprintf(out, sizeof(out), "%.*s", (int)told.len, told.data ? told.data : "");
    pl_buf_reset(&told);
    return out;
}

static struct turn_wait *start(const char *text, uint32_t wait_ms)
{
    const struct turn_wait_request req = {
        .sid = SID, .text = text, .len = strlen(text), .wait_ms = wait_ms};
    struct turn_wait *w = NULL;
    assert_int_equal(turn_wait_submit(engine, &fake_loop, &req, on_result, NULL, &w), API_ERR_NONE);
    assert_non_null(w);
    assert_string_equal(take(), ""); /* never before it returns */
    return w;
}

/* Acknowledge the pending append as turn `turn` and let the turn start. */
static void ack(long turn)
{
    struct fake_call *c = fake_store_pending(CALL_APPEND);
    assert_non_null(c);
    fake_store_answer_append(c, PL_OK, turn, false, fake_ctx_locked(turn));
    fake_uv_pass();
}

static void answer(const char *text)
{
    fake_llm_text(fake_llm_current(), text);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
}

static int setup(void **state)
{
    (void)state;
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_init(&told, 1 << 16);
    const struct turn_engine_opts opts = {
        .loop = &fake_loop,
        .store = (struct sess_store *)&store_storage,
        .llm = fake_provider,
        .prompts = fake_prompts,
        .instance_id = "parleyd-test",
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
    assert_int_equal(fake_uv_open_handles(), 0); /* the waits' timers closed too */
    turn_engine_free(engine);
    assert_int_equal(fake_ctx_live(), 0);
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_cleanup(&told);
    return 0;
}

static void test_answer_within_the_wait(void **state)
{
    (void)state;
    start("q1", 3000);
    ack(1);
    fake_uv_advance(2999);
    assert_string_equal(take(), "");
    answer("Hello");
    assert_string_equal(take(), "ended 1 'Hello'|");
    fake_uv_advance(10000); /* the deadline was stopped */
    assert_string_equal(take(), "");
}

static void test_budget_runs_out_then_the_turn_goes_on(void **state)
{
    (void)state;
    start("q1", 3000);
    ack(1);
    fake_uv_advance(3000);
    assert_string_equal(take(), "pending 1|");
    answer("Late"); /* stored; nobody is told again */
    assert_string_equal(take(), "");
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.turns_completed, 1);
}

static void test_refusal_is_told(void **state)
{
    (void)state;
    start("q1", 3000);
    fake_store_refuse_append(fake_store_pending(CALL_APPEND), 1500);
    assert_string_equal(take(), "refused rate_limited 1500|");
}

static void test_cancelled_before_its_ack(void **state)
{
    (void)state;
    struct turn_wait *w = start("q1", 3000);
    turn_wait_cancel(w);
    ack(1); /* the message is stored and answered all the same */
    answer("Hello");
    fake_uv_advance(5000);
    assert_string_equal(take(), "");
    assert_int_equal(fake_store_count(CALL_END), 1);
}

static void test_cancelled_while_waiting(void **state)
{
    (void)state;
    struct turn_wait *w = start("q1", 3000);
    ack(1);
    turn_wait_cancel(w);
    answer("Hello");
    fake_uv_advance(5000);
    assert_string_equal(take(), "");
}

static void test_wait_of_zero_is_pending_at_the_ack(void **state)
{
    (void)state;
    start("q1", 0);
    ack(1);
    assert_string_equal(take(), "pending 1|");
    answer("Hello");
    assert_string_equal(take(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_within_the_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_runs_out_then_the_turn_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_told, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_before_its_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_of_zero_is_pending_at_the_ack, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
