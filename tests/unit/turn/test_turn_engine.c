/* The turn engine on its own (bot/turn/), through link seams for the clock and timers, the
 * session store, the provider and the prompt builder (tests/unit/turn/seams/): queue order,
 * cancel, provider failures before and after the first token, turns covered by another answer,
 * lock contention, lease renewal, store retries, listeners attaching mid-turn, polls, and
 * shutdown with turns in flight. Every test asserts the exact events a listener was told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/turn/seams/seams.h"

#define SID  "0123456789abcdef0123456789abcdef"
#define SID2 "fedcba9876543210fedcba9876543210"

static struct turn_engine *engine;
static struct turn_engine_opts opts;
static int store_storage;

/* ---- a listener that writes down what it is told ---- */

struct recorder {
    struct turn_listener l;
    struct pl_buf log;
    bool detach_on_end;
    char last_message[320];       /* of the last error */
    uint32_t last_retry_after_ms; /* of the last error */
};

static struct recorder *rec_of(struct turn_listener *l)
{
    return PL_CONTAINER_OF(l, struct recorder, l);
}

static void on_start(struct turn_listener *l, long turn)
{
    pl_buf_printf(&rec_of(l)->log, "start %ld|", turn);
}

static void on_held(struct turn_listener *l, long turn)
{
    pl_buf_printf(&rec_of(l)->log, "held %ld|", turn);
}

static void on_delta(struct turn_listener *l, long turn, long seq, const char *text, size_t len)
{
    pl_buf_printf(&rec_of(l)->log, "delta %ld %ld '%.*s'|", turn, seq, (int)len, text);
}

static void on_error(struct turn_listener *l, long turn, const struct turn_error *err)
{
    snprintf(rec_of(l)->last_message, sizeof(rec_of(l)->last_message), "%s", err->message);
    pl_buf_printf(&rec_of(l)->log, "error %ld %s|", turn, api_error_code(err->code));
    rec_of(l)->last_retry_after_ms = err->retry_after_ms;
}

static void on_end(struct turn_listener *l, const struct turn_end *e)
{
    struct recorder *r = rec_of(l);
    pl_buf_printf(&r->log, "end %ld in=%ld %s %ld/%ld '%s'", e->turn, e->answered_in,
                  e->stop_reason, e->input_tokens, e->output_tokens, e->text);
    for (size_t i = 0; i < e->n_citations; i++)
        pl_buf_printf(&r->log, " cite=%s:%s", e->citations[i].source, e->citations[i].title);
    if (e->error)
        pl_buf_printf(&r->log, " error=%s", api_error_code(e->error));
    pl_buf_append_str(&r->log, "|");
    if (r->detach_on_end)
        turn_unlisten(l);
}

static const struct turn_listener_ops recorder_ops = {.turn_start = on_start,
                                                      .delta = on_delta,
                                                      .error = on_error,
                                                      .turn_end = on_end,
                                                      .held = on_held};

static void rec_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    r->l.ops = &recorder_ops;
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

/* ---- acks ---- */

static struct pl_buf acks;

static void on_ack(void *ud, const struct turn_ack *ack)
{
    (void)ud;
    pl_buf_printf(&acks, "ack %s %ld%s|", ack->err ? api_error_code(ack->err) : "ok", ack->turn,
                  ack->duplicate ? " dup" : "");
    if (ack->retry_after_ms)
        pl_buf_printf(&acks, "retry after %u|", (unsigned)ack->retry_after_ms);
}

static const char *acks_take(void)
{
    static char out[1024];
    snprintf(out, sizeof(out), "%s", acks.data ? acks.data : "");
    pl_buf_reset(&acks);
    return out;
}

/* Submit `text` and return the append call waiting for Redis. */
static struct fake_call *submit(const char *sid, const char *id, const char *text)
{
    assert_int_equal(turn_submit(engine, sid, "192.0.2.7", id, text, strlen(text), on_ack, NULL),
                     API_ERR_NONE);
    struct fake_call *c = NULL;
    for (struct fake_call *p = fake_store_pending(CALL_APPEND); p; p = p->next)
        if (p->kind == CALL_APPEND)
            c = p; /* the newest */
    assert_non_null(c);
    assert_string_equal(c->text, text);
    return c;
}

/* Submit and acknowledge as turn `turn`, begun in the same round trip (the usual case). */
static void ask(const char *sid, const char *text, long turn)
{
    struct fake_call *c = submit(sid, NULL, text);
    assert_true(c->with_begin);
    fake_store_answer_append(c, PL_OK, turn, false, fake_ctx_locked(turn));
    fake_uv_pass(); /* the begun turn starts from the check handle */
}

static int setup(void **state)
{
    (void)state;
    fake_uv_reset();
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_init(&acks, 1 << 16);
    opts = (struct turn_engine_opts){
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
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.sessions_live, 0);
    assert_int_equal(fake_uv_open_handles(), 0); /* every timer and check closed */
    turn_engine_free(engine);
    assert_int_equal(fake_ctx_live(), 0); /* every Redis context freed */
    fake_store_reset();
    fake_llm_reset();
    fake_prompt_reset();
    pl_buf_cleanup(&acks);
    return 0;
}

/* ---- a turn ---- */

static void test_turn_streams_and_ends_once_stored(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, "m1", "q1");
    assert_true(c->with_begin);
    assert_string_equal(c->client_id, "m1");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_locked(1));
    assert_string_equal(acks_take(), "ack ok 1|");
    assert_int_equal(fake_llm_started(), 0); /* waits for the loop pass's other acks */
    fake_uv_pass();
    assert_int_equal(fake_llm_started(), 1);
    assert_string_equal(fake_prompt_history(), "caller:1:q1");
    assert_string_equal(fake_llm_current()->last_question, "q1");
    fake_llm_text(fake_llm_current(), "Hel");
    fake_llm_text(fake_llm_current(), "lo");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 10, 2);
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'Hel'|delta 1 1 'lo'|");
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_non_null(end);
    assert_int_equal(end->turn, 1);
    assert_string_equal(end->text, "Hello");
    assert_string_equal(end->stop_reason, "end_turn");
    assert_string_equal(end->error, "");
    assert_null(end->citations);
    assert_int_equal(end->input_tokens, 10);
    assert_int_equal(end->output_tokens, 2);
    fake_store_answer_done(end, PL_OK); /* turn_end only once the answer is stored */
    assert_string_equal(rec_take(&r), "end 1 in=1 end_turn 10/2 'Hello'|");
    assert_int_equal(fake_store_count(CALL_BEGIN), 0); /* begun with its append */
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.turns_started, 1);
    assert_int_equal(st.turns_completed, 1);
    assert_int_equal(st.deltas, 2);
    rec_done(&r);
}

static void test_queued_turns_are_answered_in_order(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    assert_string_equal(acks_take(), "ack ok 1|");
    struct fake_call *c2 = submit(SID, NULL, "q2");
    assert_false(c2->with_begin); /* something is being answered: no begin with the append */
    struct fake_call *c3 = submit(SID, NULL, "q3");
    fake_store_answer_append(c2, PL_OK, 2, false, NULL);
    fake_store_answer_append(c3, PL_OK, 3, false, NULL);
    assert_string_equal(acks_take(), "ack ok 2|ack ok 3|");
    assert_int_equal(fake_store_count(CALL_BEGIN), 0);
    for (long turn = 1; turn <= 3; turn++) {
        if (turn > 1) {
            struct fake_call *b = fake_store_pending(CALL_BEGIN);
            assert_non_null(b);
            assert_int_equal(b->turn, turn);
            fake_store_answer_begin(b, fake_ctx_locked(3));
            char want[64];
            snprintf(want, sizeof(want), "caller:1:q1|caller:2:q2%s",
                     turn == 3 ? "|caller:3:q3" : "");
            assert_string_equal(fake_prompt_history(), want);
        }
        char text[8];
        snprintf(text, sizeof(text), "a%ld", turn);
        fake_llm_text(fake_llm_current(), text);
        fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 1);
        fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    }
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'a1'|end 1 in=1 end_turn 1/1 'a1'|"
                                      "start 2|delta 2 0 'a2'|end 2 in=2 end_turn 1/1 'a2'|"
                                      "start 3|delta 3 0 'a3'|end 3 in=3 end_turn 1/1 'a3'|");
    rec_done(&r);
}

/* What the prompt builder is given: the transcript in conversation order, answers that failed
 * marked as such (the builder leaves their questions out, tests/unit/prompts). */
static void test_prompt_history_marks_failed_answers(void **state)
{
    (void)state;
    const struct sess_entry e[] = {
        {.role = "caller", .turn = 1, .text = "hello", .error = ""},
        {.role = "assistant", .turn = 1, .text = "hi", .error = ""},
        {.role = "caller", .turn = 2, .text = "refused one", .error = ""},
        {.role = "caller", .turn = 4, .text = "queued meanwhile", .error = ""},
        {.role = "assistant", .turn = 2, .text = "", .error = "upstream_error"},
        {.role = "caller", .turn = 3, .text = "never started", .error = ""},
        {.role = "agent", .turn = 3, .text = "an agent here", .error = ""},
        {.role = "caller", .turn = 5, .text = "the question", .error = ""},
    };
    turn_recover(engine, SID, 4, 5);
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN),
                            fake_ctx_locked_with(e, PL_ARRAY_LEN(e), 5, 2));
    assert_string_equal(fake_prompt_history(),
                        "caller:1:hello|assistant:1:hi|caller:2:refused one|assistant:2:(failed)|"
                        "caller:3:never started|agent:3:an agent here|caller:4:queued "
                        "meanwhile|caller:5:the question");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
}

static void test_too_many_waiting_is_busy(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++)
        submit(SID, NULL, "q");
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, "q9", 2, on_ack, NULL), API_ERR_BUSY);
    assert_int_equal(fake_store_count(CALL_APPEND), 8);
    /* Another session is not affected. */
    assert_int_equal(turn_submit(engine, SID2, NULL, NULL, "x", 1, on_ack, NULL), API_ERR_NONE);
    struct fake_call *c;
    while ((c = fake_store_pending(CALL_APPEND)))
        fake_store_answer_append(c, PL_ENOTFOUND, 0, false, NULL);
    assert_string_equal(acks_take(), "ack not_found 0|ack not_found 0|ack not_found 0|"
                                     "ack not_found 0|ack not_found 0|ack not_found 0|"
                                     "ack not_found 0|ack not_found 0|ack not_found 0|");
}

static void test_storage_down_at_submit(void **state)
{
    (void)state;
    fake_store_fail_next(CALL_APPEND, PL_EIO);
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, "q", 1, on_ack, NULL),
                     API_ERR_STORAGE_UNAVAILABLE);
    assert_string_equal(acks_take(), "");
}

static void test_refused_messages_are_not_queued(void **state)
{
    (void)state;
    struct fake_call *c = submit(SID, "m1", "q");
    assert_string_equal(c->address, "192.0.2.7");
    assert_int_equal(c->cost, 1);
    fake_store_refuse_append(c, 2500);
    assert_string_equal(acks_take(), "ack rate_limited 0|retry after 2500|");
    /* Nothing is waiting: the next message begins its turn with its append. */
    c = submit(SID, "m2", "q");
    assert_true(c->with_begin);
    fake_store_answer_append(c, PL_ETOOBIG, 0, false, NULL);
    assert_string_equal(acks_take(), "ack session_full 0|");
    assert_int_equal(fake_store_count(CALL_BEGIN), 0);
}

/* ---- cancel ---- */

static void test_cancel_keeps_what_was_said(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "Part");
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER));
    assert_null(fake_llm_current());
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->text, "Part");
    assert_string_equal(end->stop_reason, "cancelled");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'Part'|end 1 in=1 cancelled 0/0 'Part'|");
    assert_false(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER)); /* nothing left to cancel */
    rec_done(&r);
}

static void test_takeover_cancel_is_stored_as_takeover_and_not_charged(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "Let me");
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_TAKEOVER));
    assert_null(fake_llm_current());
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->text, "Let me");
    assert_string_equal(end->stop_reason, "takeover");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r),
                        "start 1|delta 1 0 'Let me'|end 1 in=1 takeover 0/0 'Let me'|");
    struct fake_call *c = submit(SID, "m2", "q2");
    assert_int_equal(c->cost, 1); /* the takeover is not charged to the caller */
    fake_store_answer_append(c, PL_OK, 2, false, fake_ctx_locked(2));
    fake_uv_pass();
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    rec_done(&r);
}

static void test_a_message_to_a_held_session_goes_to_the_agent(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, "m1", "are you a person?");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_with_agent());
    fake_uv_pass();
    assert_string_equal(acks_take(), "ack ok 1|");
    assert_int_equal(fake_llm_started(), 0);
    assert_null(fake_store_pending(CALL_BEGIN));
    assert_null(fake_store_pending(CALL_END));
    assert_string_equal(rec_take(&r), "held 1|"); /* no turn of the bot: no start, no end */
    /* Released: the next message is the bot's again. */
    ask(SID, "thanks", 2);
    assert_int_equal(fake_llm_started(), 1);
    fake_llm_text(fake_llm_current(), "Glad");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r), "start 2|delta 2 0 'Glad'|end 2 in=2 end_turn 1/1 'Glad'|");
    rec_done(&r);
}

static void test_cancel_while_waiting_for_the_lock(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "q1");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_held());
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER));
    fake_uv_advance(200); /* the lock retry */
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_locked(1));
    assert_int_equal(fake_llm_started(), 0);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->stop_reason, "cancelled");
    assert_string_equal(end->text, "");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "end 1 in=1 cancelled 0/0 ''|");
    rec_done(&r);
}

static void test_cancels_are_charged_with_the_next_message(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER));
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_false(
        turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER)); /* stops nothing: counts for nothing */
    /* The cancel rides on the next message; refused, it rides on the one after. */
    struct fake_call *c = submit(SID, "m2", "q2");
    assert_int_equal(c->cost, 2);
    fake_store_refuse_append(c, 3000);
    c = submit(SID, "m2", "q2");
    assert_int_equal(c->cost, 2);
    fake_store_answer_append(c, PL_OK, 2, false, fake_ctx_locked(2));
    fake_uv_pass();
    c = submit(SID, "m3", "q3");
    assert_int_equal(c->cost, 1);
    fake_store_answer_append(c, PL_OK, 3, false, NULL);
    assert_string_equal(acks_take(),
                        "ack ok 1|ack rate_limited 0|retry after 3000|ack ok 2|ack ok 3|");
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER)); /* turn 2: turn 3 then begins */
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_locked(3));
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    rec_done(&r);
}

/* ---- provider failures ---- */

static void test_failure_before_the_first_token(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_fail(fake_llm_current(), PL_EUPSTREAM, LLM_STOP_UPSTREAM_ERROR,
                  API_ERR_UPSTREAM_UNAVAILABLE, "Anthropic API 529 overloaded_error");
    assert_string_equal(rec_take(&r), "start 1|error 1 upstream_unavailable|");
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->text, "");
    assert_string_equal(end->stop_reason, "upstream_error");
    assert_string_equal(end->error, "upstream_unavailable");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r),
                        "end 1 in=1 upstream_error 0/0 '' error=upstream_unavailable|");
    rec_done(&r);
}

static void test_failure_after_the_first_token(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "w1 ");
    fake_llm_text(fake_llm_current(), "w2 ");
    fake_llm_fail(fake_llm_current(), PL_EIO, LLM_STOP_UPSTREAM_CUT, API_ERR_UPSTREAM_UNAVAILABLE,
                  "stream ended early");
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->text, "w1 w2 ");
    assert_string_equal(end->stop_reason, "upstream_cut");
    assert_string_equal(end->error, ""); /* text was said: no error, a stop reason */
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'w1 '|delta 1 1 'w2 '|"
                                      "end 1 in=1 upstream_cut 0/0 'w1 w2 '|");
    rec_done(&r);
}

static void test_provider_finishing_inside_its_start(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_llm_finish_inside_next(PL_EINVAL);
    ask(SID, "q1", 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r), "start 1|error 1 internal|"
                                      "end 1 in=1 upstream_error 0/0 '' error=internal|");
    rec_done(&r);
}

static void test_provider_refusing_the_request(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_llm_refuse_next();
    ask(SID, "q1", 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r), "start 1|error 1 internal|"
                                      "end 1 in=1 upstream_error 0/0 '' error=internal|");
    rec_done(&r);
}

static void test_prompt_failure_releases_the_lock(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_prompt_fail_next(PL_ENOTFOUND);
    ask(SID, "q1", 1);
    assert_string_equal(rec_take(&r), "error 1 internal|end 1 in=1 upstream_error 0/0 '' "
                                      "error=internal|");
    assert_int_equal(fake_store_count(CALL_RELEASE), 1);
    assert_int_equal(fake_store_count(CALL_END), 0); /* nothing stored: unanswered */
    fake_store_answer_done(fake_store_pending(CALL_RELEASE), PL_OK);
    rec_done(&r);
}

static void test_deadline_ends_the_answer_with_timeout(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "slow");
    fake_uv_advance(119999);
    assert_non_null(fake_llm_current());
    fake_uv_advance(1);
    assert_null(fake_llm_current());
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->stop_reason, "timeout");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'slow'|end 1 in=1 timeout 0/0 'slow'|");
    /* leases were renewed meanwhile, each once a third old */
    rec_done(&r);
}

/* ---- covered turns and lock contention ---- */

static void test_turn_covered_by_another_answer(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "from B 0");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_held());
    fake_uv_advance(200);
    struct fake_call *b = fake_store_pending(CALL_BEGIN);
    assert_int_equal(b->turn, 1);
    fake_store_answer_begin(b, fake_ctx_held());
    fake_uv_advance(200);
    const struct sess_entry answer = {.role = "assistant",
                                      .turn = 2,
                                      .text = "both answered",
                                      .stop_reason = "end_turn",
                                      .input_tokens = 5,
                                      .output_tokens = 7,
                                      .model = "m",
                                      .citations = "[{\"source\":\"faq.md\",\"title\":\"FAQ\"}]",
                                      .error = ""};
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_answered(&answer, 2));
    assert_string_equal(rec_take(&r), "end 1 in=2 end_turn 5/7 'both answered' cite=faq.md:FAQ|");
    assert_int_equal(fake_llm_started(), 0);
    assert_int_equal(fake_store_count(CALL_END), 0);
    assert_int_equal(fake_store_count(CALL_RELEASE), 0); /* no lock was taken */
    rec_done(&r);
}

static void test_lock_held_elsewhere_past_the_deadline(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    turn_engine_free(engine);
    opts.turn_timeout_ms = 1000;
    engine = turn_engine_create(&opts);
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "q1");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_held());
    /* Tried every 200 ms; the fifth try at 2000 would wait past the 1000 ms deadline. */
    for (int i = 0; i < 5; i++) {
        assert_string_equal(rec_take(&r), "");
        fake_uv_advance(200);
        fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_held());
    }
    assert_string_equal(rec_take(&r), "error 1 busy|end 1 in=1 upstream_error 0/0 '' error=busy|");
    assert_int_equal(fake_store_count(CALL_BEGIN), 5);
    assert_null(fake_store_pending(CALL_BEGIN));
    rec_done(&r);
}

static void test_storage_errors_while_beginning_are_retried(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "q1");
    fake_store_answer_append(c, PL_OK, 1, false, NULL); /* acknowledged, begin separately */
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_status(PL_ETIMEDOUT));
    fake_uv_advance(74); /* the first retry waits 75 to 100 ms */
    assert_int_equal(fake_store_count(CALL_BEGIN), 1);
    fake_store_fail_next(CALL_BEGIN, PL_EIO); /* Redis down: refused at once */
    fake_uv_advance(26);
    assert_int_equal(fake_store_count(CALL_BEGIN), 2);
    /* The second waits 150 to 200 ms from the first retry (at 75 to 100 ms): 225 to 300. */
    fake_uv_advance(124);
    assert_int_equal(fake_store_count(CALL_BEGIN), 2);
    fake_uv_advance(76);
    assert_int_equal(fake_store_count(CALL_BEGIN), 3);
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_locked(1));
    assert_int_equal(fake_llm_started(), 1);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r), "start 1|end 1 in=1 end_turn 1/0 ''|");
    rec_done(&r);
}

static void test_session_gone(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    turn_recover(engine, SID, 0, 1);
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_status(PL_ENOTFOUND));
    assert_string_equal(rec_take(&r),
                        "error 1 not_found|end 1 in=1 upstream_error 0/0 '' error=not_found|");
    rec_done(&r);
}

/* ---- storing ---- */

static void test_store_is_retried_and_turn_end_told_once(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "kept");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 3, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_ETIMEDOUT);
    /* turn_end goes out after the first attempt; the answer is still being stored */
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'kept'|end 1 in=1 end_turn 3/1 'kept'|");
    fake_uv_advance(149);
    assert_null(fake_store_pending(CALL_END));
    fake_uv_advance(51);
    struct fake_call *again = fake_store_pending(CALL_END);
    assert_non_null(again);
    assert_string_equal(again->text, "kept");
    fake_store_answer_done(again, PL_OK);
    assert_string_equal(rec_take(&r), "");
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.stores_retried, 1);
    assert_int_equal(st.turns_completed, 1);
    rec_done(&r);
}

static void test_citations_reach_turn_end_and_the_transcript(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_prompt_cite("motor.md", "Motor \"policy\"");
    ask(SID, "q1", 1);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->citations,
                        "[{\"source\":\"motor.md\",\"title\":\"Motor \\\"policy\\\"\"}]");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "start 1|end 1 in=1 end_turn 1/0 '' "
                                      "cite=motor.md:Motor \"policy\"|");
    rec_done(&r);
}

/* ---- leases ---- */

static void test_lease_is_renewed_once_a_third_old(void **state)
{
    (void)state;
    fake_uv_advance(3000); /* the lease timer ticks at 6000, 11000, 16000 (every 5000) */
    ask(SID, "q1", 1);     /* the lock is taken at 4000 */
    fake_uv_advance(2000); /* 6000: 2000 ms old, not renewed */
    assert_int_equal(fake_store_count(CALL_RENEW), 0);
    fake_uv_advance(5000); /* 11000: 7000 ms old */
    assert_int_equal(fake_store_count(CALL_RENEW), 1);
    fake_uv_advance(4999); /* 15999: renewed at 11000, 4999 old at the 16000 tick: not yet */
    assert_int_equal(fake_store_count(CALL_RENEW), 1);
    fake_uv_advance(1); /* 16000: 5000 ms since the renewal */
    assert_int_equal(fake_store_count(CALL_RENEW), 2);
    while (fake_store_pending(CALL_RENEW))
        fake_store_answer_done(fake_store_pending(CALL_RENEW), PL_OK);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    fake_uv_advance(20000); /* an ended turn's lock is not renewed */
    assert_int_equal(fake_store_count(CALL_RENEW), 2);
}

/* ---- listeners ---- */

static void test_listener_attaching_mid_turn(void **state)
{
    (void)state;
    struct recorder a, b, c;
    rec_init(&a);
    rec_init(&b);
    rec_init(&c);
    turn_listen(engine, SID, &a.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "one ");
    fake_llm_text(fake_llm_current(), "two ");
    turn_listen(engine, SID, &b.l, NULL); /* the turn so far, from its start */
    assert_string_equal(rec_take(&b), "start 1|delta 1 0 'one '|delta 1 1 'two '|");
    const struct turn_replay from = {.turn = 1, .after_seq = 0};
    turn_listen(engine, SID, &c.l, &from); /* a reconnect that saw seq 0 */
    assert_string_equal(rec_take(&c), "delta 1 1 'two '|");
    fake_llm_text(fake_llm_current(), "three");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 3);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    const char *tail = "delta 1 2 'three'|end 1 in=1 end_turn 1/3 'one two three'|";
    assert_string_equal(rec_take(&b), tail);
    assert_string_equal(rec_take(&c), tail);
    char whole[512];
    snprintf(whole, sizeof(whole), "start 1|delta 1 0 'one '|delta 1 1 'two '|%s", tail);
    assert_string_equal(rec_take(&a), whole);
    /* After the end: a reconnect that saw seq 1 gets the rest and the end; without a resume
     * point, nothing (the history has it). */
    struct recorder d, f;
    rec_init(&d);
    rec_init(&f);
    const struct turn_replay late = {.turn = 1, .after_seq = 1};
    turn_listen(engine, SID, &d.l, &late);
    assert_string_equal(rec_take(&d), tail);
    turn_listen(engine, SID, &f.l, NULL);
    assert_string_equal(rec_take(&f), "");
    rec_done(&a);
    rec_done(&b);
    rec_done(&c);
    rec_done(&d);
    rec_done(&f);
}

static void test_listener_detaching_itself_while_told(void **state)
{
    (void)state;
    struct recorder a, b;
    rec_init(&a);
    rec_init(&b);
    a.detach_on_end = true;
    turn_listen(engine, SID, &a.l, NULL);
    turn_listen(engine, SID, &b.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&a), "start 1|end 1 in=1 end_turn 1/0 ''|");
    assert_string_equal(rec_take(&b), "start 1|end 1 in=1 end_turn 1/0 ''|");
    ask(SID, "q2", 2);
    assert_string_equal(rec_take(&a), ""); /* detached */
    assert_string_equal(rec_take(&b), "start 2|");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    pl_buf_cleanup(&a.log);
    rec_done(&b);
}

static void test_duplicate_ends_again_from_the_stored_answer(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, "m1", "resent");
    fake_store_answer_append(c, PL_OK, 3, true, NULL);
    assert_string_equal(acks_take(), "ack ok 3 dup|");
    const struct sess_entry answer = {.role = "assistant",
                                      .turn = 3,
                                      .text = "A3",
                                      .stop_reason = "max_tokens",
                                      .citations = "",
                                      .error = ""};
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_answered(&answer, 3));
    assert_string_equal(rec_take(&r), "end 3 in=3 max_tokens 0/0 'A3'|");
    rec_done(&r);
}

/* ---- polls ---- */

static struct pl_buf polls;

static void on_poll(void *ud, enum api_error err, const struct turn_snapshot *snap,
                    uint32_t retry_after_ms)
{
    (void)ud;
    if (err) {
        pl_buf_printf(&polls, "%s|", api_error_code(err));
        if (retry_after_ms)
            pl_buf_printf(&polls, "retry %u|", (unsigned)retry_after_ms);
        return;
    }
    static const char *const names[] = {"unknown", "pending", "ended"};
    pl_buf_printf(&polls, "%s %ld '%.*s'", names[snap->status], snap->turn, (int)snap->text_len,
                  snap->text);
    if (snap->end)
        pl_buf_printf(&polls, " in=%ld %s", snap->end->answered_in, snap->end->stop_reason);
    pl_buf_append_str(&polls, "|");
}

static void test_polls_from_memory_and_from_redis(void **state)
{
    (void)state;
    pl_buf_init(&polls, 4096);
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "so far");
    assert_int_equal(turn_poll(engine, SID, 1, on_poll, NULL), API_ERR_NONE);
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_int_equal(turn_poll(engine, SID, 1, on_poll, NULL), API_ERR_NONE);
    assert_string_equal(polls.data, "pending 1 'so far'|ended 1 'so far' in=1 end_turn|");
    pl_buf_reset(&polls);

    /* Not live here: from the transcript. */
    const struct sess_record rec = {.turns = 3, .answered = 2};
    const struct sess_entry answer = {.role = "assistant",
                                      .turn = 2,
                                      .text = "A2",
                                      .text_len = 2,
                                      .stop_reason = "end_turn",
                                      .citations = "",
                                      .error = ""};
    for (long turn = 1; turn <= 4; turn++) {
        assert_int_equal(turn_poll(engine, SID2, turn, on_poll, NULL), API_ERR_NONE);
        fake_store_answer_answer(fake_store_pending(CALL_ANSWER), PL_OK, &rec,
                                 turn <= 2 ? &answer : NULL);
    }
    assert_string_equal(polls.data, "ended 1 'A2' in=2 end_turn|ended 2 'A2' in=2 end_turn|"
                                    "pending 3 ''|unknown 4 ''|");
    pl_buf_reset(&polls);
    assert_int_equal(turn_poll(engine, SID2, 1, on_poll, NULL), API_ERR_NONE);
    fake_store_answer_answer(fake_store_pending(CALL_ANSWER), PL_ENOTFOUND, NULL, NULL);
    assert_int_equal(turn_poll(engine, SID2, 1, on_poll, NULL), API_ERR_NONE);
    fake_store_refuse_answer(fake_store_pending(CALL_ANSWER), 2500);
    fake_store_fail_next(CALL_ANSWER, PL_EIO);
    assert_int_equal(turn_poll(engine, SID2, 1, on_poll, NULL), API_ERR_STORAGE_UNAVAILABLE);
    assert_string_equal(polls.data, "not_found|rate_limited|retry 2500|");
    pl_buf_cleanup(&polls);
    rec_done(&r);
}

/* ---- recovery and shutdown ---- */

static void test_recover_queues_the_unanswered(void **state)
{
    (void)state;
    turn_recover(engine, SID, 1, 3);
    struct fake_call *b = fake_store_pending(CALL_BEGIN);
    assert_int_equal(b->turn, 2);
    turn_recover(engine, SID, 1, 3); /* queued already: not twice */
    fake_store_answer_begin(b, fake_ctx_locked(3));
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    b = fake_store_pending(CALL_BEGIN);
    assert_int_equal(b->turn, 3);
    fake_store_answer_begin(b, fake_ctx_locked(3));
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 1, 0);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_int_equal(fake_store_count(CALL_BEGIN), 2);
    assert_int_equal(fake_llm_started(), 2);
}

static void test_shutdown_with_turns_in_flight(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    ask(SID, "q1", 1);
    fake_llm_text(fake_llm_current(), "half");
    struct fake_call *c2 = submit(SID, NULL, "q2");
    fake_store_answer_append(c2, PL_OK, 2, false, NULL);
    /* Another session waits for its lock with a Redis call in flight. */
    struct recorder r2;
    rec_init(&r2);
    turn_listen(engine, SID2, &r2.l, NULL);
    turn_recover(engine, SID2, 0, 1);
    assert_int_equal(turn_engine_busy(engine), 2);

    turn_engine_drain(engine); /* queued turns end; running ones go on */
    assert_string_equal(rec_take(&r),
                        "start 1|delta 1 0 'half'|error 2 upstream_unavailable|"
                        "end 2 in=2 upstream_error 0/0 '' error=upstream_unavailable|");
    assert_int_equal(turn_submit(engine, SID, NULL, NULL, "q3", 2, on_ack, NULL),
                     API_ERR_SHUTTING_DOWN);
    fake_llm_text(fake_llm_current(), "way");
    turn_engine_cancel_all(engine); /* the drain deadline passed */
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->text, "halfway");
    assert_string_equal(end->stop_reason, "cancelled");
    turn_engine_stop(engine);
    fake_store_answer_done(end, PL_ECANCELED); /* the store went meanwhile */
    assert_string_equal(rec_take(&r), "delta 1 1 'way'|end 1 in=1 cancelled 0/0 'halfway'|");
    /* The begin in flight comes back (cancelled by the store's shutdown). */
    fake_store_answer_begin(fake_store_pending(CALL_BEGIN), fake_ctx_status(PL_ECANCELED));
    assert_string_equal(rec_take(&r2), "error 1 upstream_unavailable|end 1 in=1 upstream_error "
                                       "0/0 '' error=upstream_unavailable|");
    assert_int_equal(turn_engine_busy(engine), 0);
    rec_done(&r);
    rec_done(&r2);
}

/* ---- budgets ---- */

/* With a budget on, a turn reserves before the model is asked and its answer settles the
 * reservation; a refused one ends rate_limited naming the budget, stored, without the model. */
static void test_budget_reserves_settles_and_refuses(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    turn_engine_free(engine);
    opts.budget_tokens = 5000;
    engine = turn_engine_create(&opts);
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "q1");
    struct sess_turn_context *ctx = fake_ctx_locked(1);
    snprintf(ctx->rec.tenant, sizeof(ctx->rec.tenant), "acme");
    fake_store_answer_append(c, PL_OK, 1, false, ctx);
    fake_uv_pass();
    assert_int_equal(fake_budget.reserves, 1);
    assert_int_equal(fake_llm_started(), 1);
    char want[96];
    snprintf(want, sizeof(want), "%s:1:%llu:", SID, fake_budget.tokens);
    assert_memory_equal(fake_budget.member, want, strlen(want));
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 10, 2);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->reservation, fake_budget.member);
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "start 1|end 1 in=1 end_turn 10/2 ''|");

    fake_budget.result = SESS_REFUSED_TOKENS;
    c = submit(SID, NULL, "q2");
    ctx = fake_ctx_locked(2);
    snprintf(ctx->rec.tenant, sizeof(ctx->rec.tenant), "acme");
    fake_store_answer_append(c, PL_OK, 2, false, ctx);
    fake_uv_pass();
    assert_int_equal(fake_llm_started(), 1); /* the model was not asked */
    end = fake_store_pending(CALL_END);
    assert_non_null(end);
    assert_string_equal(end->error, "rate_limited");
    assert_string_equal(end->reservation, ""); /* nothing held */
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "error 2 rate_limited|end 2 in=2 upstream_error 0/0 '' "
                                      "error=rate_limited|");
    assert_string_equal(r.last_message, "tenant acme has used its daily budget of 5000 tokens; "
                                        "it resets at 00:00 UTC");
    /* ... and says when: the time left until 00:00 UTC. */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long to_midnight =
        86400000LL - ((long long)tv.tv_sec * 1000 + tv.tv_usec / 1000) % 86400000LL;
    assert_true(r.last_retry_after_ms > 0 && r.last_retry_after_ms <= 86400000u);
    assert_true(llabs((long long)r.last_retry_after_ms - to_midnight) < 5000);
    struct turn_engine_stats st;
    turn_engine_stats(engine, &st);
    assert_int_equal(st.budget_refused, 1);
    assert_int_equal(fake_budget.unreserves, 0);
    rec_done(&r);
    opts.budget_tokens = 0;
}

/* Redis failing the reservation: the turn ends storage_unavailable before the model is asked,
 * nothing is stored (the caller's message stays unanswered, for a later turn or a recovery). */
static void test_budget_reservation_failure(void **state)
{
    (void)state;
    turn_engine_stop(engine);
    fake_uv_pass();
    turn_engine_free(engine);
    opts.budget_tokens = 5000;
    engine = turn_engine_create(&opts);
    fake_budget.status = PL_EIO;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *c = submit(SID, NULL, "q1");
    fake_store_answer_append(c, PL_OK, 1, false, fake_ctx_locked(1));
    fake_uv_pass();
    assert_int_equal(fake_budget.reserves, 1);
    assert_int_equal(fake_llm_started(), 0); /* the model was not asked */
    assert_null(fake_store_pending(CALL_END));
    assert_int_equal(fake_store_count(CALL_RELEASE), 1); /* the session's lock let go */
    assert_string_equal(rec_take(&r), "error 1 upstream_unavailable|end 1 in=1 upstream_error 0/0 "
                                      "'' error=upstream_unavailable|");
    rec_done(&r);
    fake_budget.status = PL_OK;
    opts.budget_tokens = 0;
}

/* ---- the bound policy record (docs/security.md "Policy records") ---- */

/* Ask q1 on a session bound to POL-1: the append comes back begun, and the policy read waits. */
static struct fake_call *ask_bound(void)
{
    struct fake_call *c = submit(SID, NULL, "q1");
    struct sess_turn_context *ctx = fake_ctx_locked(1);
    snprintf(ctx->rec.policy_number, sizeof(ctx->rec.policy_number), "POL-1");
    fake_store_answer_append(c, PL_OK, 1, false, ctx);
    fake_uv_pass();
    struct fake_call *read = fake_store_pending(CALL_POLICY);
    assert_non_null(read);
    assert_string_equal(read->text, "POL-1");
    assert_int_equal(fake_llm_started(), 0); /* the prompt waits for the record */
    return read;
}

static void test_bound_policy_record_reaches_the_prompt(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_store_answer_policy(ask_bound(), PL_OK, "{\"cover\":\"motor\"}");
    assert_int_equal(fake_llm_started(), 1);
    assert_string_equal(fake_prompt_policy(), "POL-1:{\"cover\":\"motor\"}");
    fake_llm_text(fake_llm_current(), "Yes");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    assert_string_equal(rec_take(&r), "start 1|delta 1 0 'Yes'|end 1 in=1 end_turn 5/1 'Yes'|");
    /* A session bound to nothing reads nothing. */
    ask(SID, "q2", 2);
    assert_int_equal(fake_store_count(CALL_POLICY), 1);
    assert_string_equal(fake_prompt_policy(), "");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
    rec_done(&r);
}

static void test_missing_policy_record_answers_without_it(void **state)
{
    (void)state;
    fake_store_answer_policy(ask_bound(), PL_ENOTFOUND, NULL);
    assert_int_equal(fake_llm_started(), 1);
    assert_string_equal(fake_prompt_policy(), "POL-1:");
    fake_llm_end(fake_llm_current(), LLM_STOP_END_TURN, 5, 1);
    fake_store_answer_done(fake_store_pending(CALL_END), PL_OK);
}

static void test_cancel_while_reading_the_policy(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    struct fake_call *read = ask_bound();
    assert_true(turn_cancel(engine, SID, TURN_CANCEL_BY_CALLER));
    fake_store_answer_policy(read, PL_OK, "{}");
    assert_int_equal(fake_llm_started(), 0);
    struct fake_call *end = fake_store_pending(CALL_END);
    assert_string_equal(end->stop_reason, "cancelled");
    fake_store_answer_done(end, PL_OK);
    assert_string_equal(rec_take(&r), "end 1 in=1 cancelled 0/0 ''|");
    rec_done(&r);
}

static void test_policy_read_failure_fails_the_turn(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r);
    turn_listen(engine, SID, &r.l, NULL);
    fake_store_answer_policy(ask_bound(), PL_EIO, NULL);
    assert_int_equal(fake_llm_started(), 0);
    assert_string_equal(rec_take(&r), "error 1 upstream_unavailable|end 1 in=1 upstream_error 0/0 "
                                      "'' error=upstream_unavailable|");
    assert_int_equal(fake_store_count(CALL_RELEASE), 1);
    fake_store_answer_done(fake_store_pending(CALL_RELEASE), PL_OK);
    rec_done(&r);
}

static void test_stop_while_reading_the_policy(void **state)
{
    (void)state;
    struct fake_call *read = ask_bound();
    turn_engine_stop(engine);
    fake_store_answer_policy(read, PL_OK, "{}");
    assert_int_equal(fake_llm_started(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_turn_streams_and_ends_once_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_turns_are_answered_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prompt_history_marks_failed_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_waiting_is_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_down_at_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_messages_are_not_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keeps_what_was_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_message_to_a_held_session_goes_to_the_agent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_takeover_cancel_is_stored_as_takeover_and_not_charged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_waiting_for_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancels_are_charged_with_the_next_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failure_before_the_first_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_after_the_first_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_finishing_inside_its_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_refusing_the_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prompt_failure_releases_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_ends_the_answer_with_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_turn_covered_by_another_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_elsewhere_past_the_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_storage_errors_while_beginning_are_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_is_retried_and_turn_end_told_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_citations_reach_turn_end_and_the_transcript, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_is_renewed_once_a_third_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_attaching_mid_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_detaching_itself_while_told, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_ends_again_from_the_stored_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_polls_from_memory_and_from_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_queues_the_unanswered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_turns_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_policy_record_reaches_the_prompt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_policy_record_answers_without_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_reading_the_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_read_failure_fails_the_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_reading_the_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_reservation_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_reserves_settles_and_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
