/* The turn engine with dense retrieval on (bot/turn/turn_kb.c), through the link seams of
 * tests/unit/turn/seams: the caller's question is embedded before the policy read and the prompt
 * (the model is not asked meanwhile), a failed or late embedding still answers (BM25 alone), and
 * a cancellation or a stop while the embedding is out ends the turn when it comes back, without
 * asking the model; with no vectors to search the turn does not wait at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/err.h"
#include "knowledge/kb_chunk.h"
#include "knowledge/kb_index.h"
#include "knowledge/kb_vectors.h"
#include "tests/unit/turn/seams/seams.h"

#define SID "0123456789abcdef0123456789abcdef"

static struct turn_engine *engine;
static int store_storage;
static struct kb_index *ix;
static struct kb_vectors *vecs;

/* ---- the embedder: one question at a time, answered by the test ---- */

static struct {
    int calls;
    bool pending;
    char text[64];
    void (*done)(void *ud, const float *vec);
    void *ud;
} fe;

static void *fe_embed(void *self, const char *text, size_t len,
                      void (*done)(void *ud, const float *vec), void *ud)
{
    (void)self;
    fe.calls++;
    if (!vecs)
        return NULL; /* as kb_dense_query: nothing to search with vectors, no call */
    snprintf(fe.text, sizeof(fe.text), "%.*s", (int)len, text);
    fe.done = done;
    fe.ud = ud;
    fe.pending = true;
    return &fe;
}

static void fe_cancel(void *handle)
{
    (void)handle;
    fe.pending = false;
}

static const struct kb_vectors *fe_vectors(void *self)
{
    (void)self;
    return vecs;
}

static const struct turn_kb_dense dense = {NULL, fe_embed, fe_cancel, fe_vectors};

static void embedding_arrives(const float *vec)
{
    assert_true(fe.pending);
    fe.pending = false;
    fe.done(fe.ud, vec);
}

static void on_ack(void *ud, const struct turn_ack *ack)
{
    (void)ud;
    assert_int_equal(ack->err, API_ERR_NONE);
}

/* Submit `text`, acknowledged as turn 1 and begun in the same round trip. */
static void ask(const char *text)
{
    assert_int_equal(turn_submit(engine, SID, "192.0.2.7", NULL, text, strlen(text), on_ack, NULL),
                     API_ERR_NONE);
    struct fake_call *c = fake_store_pending(CALL_APPEND);
    assert_non_null(c);
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_locked(1));
    fake_uv_pass();
}

static int setup(void **state)
{
    (void)state;
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    memset(&fe, 0, sizeof(fe));
    ix = kb_index_new(NULL);
    struct kb_doc d;
    const char *text = "# Glass\n\nA windscreen repair has no excess.\n";
    assert_int_equal(kb_chunk_document("glass.md", text, strlen(text), KB_KIND_MD, NULL, &d),
                     PL_OK);
    assert_int_equal(kb_index_add(ix, &d), PL_OK);
    kb_doc_cleanup(&d);
    vecs = kb_vectors_new(2);
    const float v[] = {1, 0};
    assert_int_equal(kb_vectors_add(vecs, "glass.md", v, 1), PL_OK);
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
        .kb = ix,
        .kb_passages = 4,
        .kb_dense = &dense,
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
    kb_vectors_free(vecs);
    kb_index_free(ix);
    return 0;
}

static void test_question_embedded_before_the_prompt(void **state)
{
    (void)state;
    ask("q1");
    assert_int_equal(fe.calls, 1);
    assert_string_equal(fe.text, "q1");
    assert_int_equal(fake_llm_started(), 0); /* waits for the vector */
    const float qvec[] = {1, 0};
    embedding_arrives(qvec);
    assert_int_equal(fake_llm_started(), 1);
    assert_string_equal(fake_llm_current()->last_question, "q1");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->stop_reason, "end_turn");
    fake_store_answer_done(end, PL_OK);
}

static void test_failed_embedding_still_answers(void **state)
{
    (void)state;
    ask("q1");
    embedding_arrives(NULL); /* failed, or past --embeddings-timeout-ms */
    assert_int_equal(fake_llm_started(), 1);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
}

static void test_cancel_while_embedding(void **state)
{
    (void)state;
    ask("q1");
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER));
    const float qvec[] = {1, 0};
    embedding_arrives(qvec);
    assert_int_equal(fake_llm_started(), 0);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_non_null(end);
    assert_string_equal(end->stop_reason, "cancelled");
    fake_store_answer_done(end, PL_OK);
}

static void test_stop_while_embedding(void **state)
{
    (void)state;
    ask("q1");
    turn_engine_stop(engine);
    embedding_arrives(NULL); /* what kb_dense_stop tells the questions in flight */
    assert_int_equal(fake_llm_started(), 0);
}

static void test_no_vectors_no_wait(void **state)
{
    (void)state;
    kb_vectors_free(vecs);
    vecs = NULL;
    ask("q1");
    assert_int_equal(fe.calls, 1);
    assert_false(fe.pending);
    assert_int_equal(fake_llm_started(), 1); /* at once: BM25 alone */
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_question_embedded_before_the_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_embedding_still_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_embedding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_embedding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_vectors_no_wait, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
