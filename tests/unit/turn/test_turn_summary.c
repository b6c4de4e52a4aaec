/* The turn engine's part in conversation summaries (bot/turn/), through the link seams: the
 * session's stored summary reaches the prompt builder, and summary_due is told once the answer
 * is stored (never before, never when the store failed or the prompt left nothing out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/turn/seams/seams.h"

#define SID "0123456789abcdef0123456789abcdef"

static struct turn_engine *engine;
static int store_storage;
static struct pl_buf due; /* "SID:N|" per summary_due call */

static void on_due(void *ud, const char *sid, long through)
{
    assert_ptr_equal(ud, &due);
    pl_buf_printf(&due, "%s:%ld|", sid, through);
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    (void)ud;
    assert_int_equal(ack->err, API_ERR_NONE);
}

static int setup(void **state)
{
    (void)state;
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_init(&due, 1 << 12);
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
        .summary_due = on_due,
        .summary_ud = &due,
    };
    engine = turn_engine_create(&opts);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    assert_int_equal(fake_uv_open_handles(), 0);
    turn_engine_free(engine);
    assert_int_equal(fake_ctx_live(), 0);
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_cleanup(&due);
    return 0;
}

static const char *due_take(void)
{
    static char out[256];
    snprintf(out, sizeof(out), "%s", due.data ? due.data : "");
    pl_buf_reset(&due);
    return out;
}

/* Ask turn `turn` with a context holding `summary` through `through` (NULL: none); answer it. */
static void answer_turn(long turn, const char *summary, long through)
{
    const char *q = "question";
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, q, strlen(q), on_ack, NULL),
                     API_ERR_NONE);
    struct sess_turn_context *ctx = fake_ctx_locked(turn);
    ctx->summary = summary ? pl_strdup(summary) : NULL;
    ctx->rec.summary_through = through;
    fake_store_answer_append(fake_store_pending(CALL_APPEND), PL_OK, turn, false, ctx);
    fake_uv_pass();
    fake_llm_text(fake_llm_current(), "ok");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 3, 1);
}

static void test_summary_reaches_the_prompt(void **state)
{
    (void)state;
    answer_turn(3, "Ada asked about glass.", 2);
    assert_string_equal(fake_prompt_summary(), "2:Ada asked about glass.");
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(due_take(), ""); /* the prompt left nothing out */
}

static void test_due_is_told_once_stored(void **state)
{
    (void)state;
    fake_prompt_summary_due(4);
    answer_turn(6, NULL, 0);
    assert_string_equal(fake_prompt_summary(), "");
    assert_string_equal(due_take(), ""); /* not before the answer is stored */
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(due_take(), SID ":4|");
}

static void test_due_is_not_told_when_the_store_failed(void **state)
{
    (void)state;
    fake_prompt_summary_due(4);
    answer_turn(6, NULL, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_ETIMEDOUT);
    assert_string_equal(due_take(), "");
    fake_uv_advance(1000); /* retried, and stored this time */
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(due_take(), SID ":4|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary_reaches_the_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_is_told_once_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_is_not_told_when_the_store_failed, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
