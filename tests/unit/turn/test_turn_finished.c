/* The turn engine's turn_finished hook (bot/turn/), through the link seams: told once a turn's
 * answer or failure is stored here, with the question the knowledge base was searched with and
 * how many passages it gave (-1 with no knowledge base); never before the store succeeded. */
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
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_index.h"
#include "sessions/session_store.h"
#include "tests/unit/turn/seams/seams.h"

#define SID "0123456789abcdef0123456789abcdef"

static struct turn_engine *engine;
static struct kb_index *kb;
static int store_storage;
static struct pl_buf told; /* "SID turn=N q=Q passages=P error=E text=T|" per call */

static void on_finished(void *ud, const char *sid, const struct turn_finished *f)
{
    assert_ptr_equal(ud, &told);
    pl_buf_printf(&told, "%s turn=%ld q=%.*s passages=%d error=%s text=%s|", sid, f->end->turn,
                  (int)f->question_len, f->question, f->passages,
                  f->end->error ? api_error_code(f->end->error) : "-", f->end->text);
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    (void)ud;
    assert_int_equal(ack->err, API_ERR_NONE);
}

static void start(bool with_kb)
{
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_init(&told, 1 << 12);
    kb = NULL;
    if (with_kb) {
        kb = kb_index_new(NULL);
        const char *text = "# Glass\n\nGlass cover repairs a cracked windscreen.\n";
        struct kb_doc d;
        assert_int_equal(kb_chunk_document("glass.md", text, strlen(text), KB_KIND_MD, NULL, &d),
                         PL_OK);
        assert_int_equal(kb_index_add(kb, &d), PL_OK);
        kb_doc_cleanup(&d);
    }
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
        .kb = kb,
        .kb_passages = 4,
        .turn_finished = on_finished,
        .turn_finished_ud = &told,
    };
    engine = turn_engine_create(&opts);
}

static int setup_kb(void **state)
{
    (void)state;
    start(true);
    return 0;
}

static int setup_no_kb(void **state)
{
    (void)state;
    start(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    assert_int_equal(fake_uv_open_handles(), 0);
    turn_engine_free(engine);
    kb_index_free(kb);
    assert_int_equal(fake_ctx_live(), 0);
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_cleanup(&told);
    return 0;
}

static const char *told_take(void)
{
    static char out[512];
    snprintf(out, sizeof(out), "%s", told.data ? told.data : "");
    pl_buf_reset(&told);
    return out;
}

/* Submit `q` as turn 1 (the context's history holding it) and let the model begin. */
static struct fake_llm_call *ask(const char *q)
{
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, q, strlen(q), on_ack, NULL),
                     API_ERR_NONE);
    struct sess_entry e = {.role = "caller", .turn = 1, .text = q};
    struct sess_turn_context *ctx = fake_ctx_locked_with(&e, 1, 1, 0);
    fake_store_answer_append(fake_store_pending(CALL_APPEND), PL_OK, 1, false, ctx);
    fake_uv_pass();
    return fake_llm_current();
}

static void test_told_once_stored_with_passages(void **state)
{
    (void)state;
    struct fake_llm_call *c = ask("is a cracked windscreen covered?");
    fake_llm_text(c, "It is.");
    fake_llm_end(c, LLM_STOP_END_TURN, 3, 1);
    assert_string_equal(told_take(), ""); /* not before the answer is stored */
    fake_store_answer_done(fake_store_pending(CALL_END), PL_ETIMEDOUT);
    assert_string_equal(told_take(), ""); /* nor when the store failed */
    fake_uv_advance(1000);                /* retried, and stored this time */
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(told_take(), SID " turn=1 q=is a cracked windscreen covered? passages=1 "
                                         "error=- text=It is.|");
}

static void test_no_passage_and_a_failure(void **state)
{
    (void)state;
    struct fake_llm_call *c = ask("zzz qqq");
    fake_llm_fail(c, PL_EUPSTREAM, LLM_STOP_UPSTREAM_ERROR, API_ERR_UPSTREAM_UNAVAILABLE,
                  "circuit breaker open for every provider");
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(told_take(),
                        SID " turn=1 q=zzz qqq passages=0 error=upstream_unavailable text=|");
}

static void test_no_knowledge_base(void **state)
{
    (void)state;
    struct fake_llm_call *c = ask("is a cracked windscreen covered?");
    fake_llm_text(c, "I don't know.");
    fake_llm_end(c, LLM_STOP_END_TURN, 3, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(told_take(), SID " turn=1 q=is a cracked windscreen covered? passages=-1 "
                                         "error=- text=I don't know.|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_told_once_stored_with_passages, setup_kb, teardown),
        cmocka_unit_test_setup_teardown(test_no_passage_and_a_failure, setup_kb, teardown),
        cmocka_unit_test_setup_teardown(test_no_knowledge_base, setup_no_kb, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
