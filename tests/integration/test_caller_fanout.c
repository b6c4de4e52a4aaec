/* A caller across instances: two parleyd on one Redis and the upstream double. A tab on B sees
 * every delta of a turn A answers, in order, the text byte for byte as A's tab has it, and one
 * turn_end; a message B acknowledged too (the same id resent there) still ends once on B. A
 * caller that reconnects to B mid-turn with resume gets exactly the deltas after its seq, then
 * the live tail, then one turn_end. Publishes missed (the subscribers' connections killed
 * mid-turn) leave no gap and no turn without its whole text. A session whose only callers are on
 * the instance answering it costs no PUBLISH (INFO commandstats), though it follows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

static struct ts_stack st;  /* Redis, the double and instance A */
static struct ts_parleyd b; /* instance B */
static const char *const upstream_args[] = {"--pace-ms", "5", NULL};

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "caller_fanout", upstream_args, NULL))
        return -1;
    return ts_stack_start_second(&st, &b, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&b);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

/* Poll Redis until `fmt`'s reply ends with `want` (5 s at most). */
static void wait_redis(const char *want, const char *fmt, const char *sid)
{
    if (!ts_redis_wait(&st.redis, want, 5000, fmt, sid))
        fail_msg("Redis never answered %s to %s", want, fmt);
}

static const char *type_of(json_t *f)
{
    const char *t = json_string_value(json_object_get(f, "type"));
    return t ? t : "";
}

static long long_of(json_t *f, const char *key)
{
    return (long)json_integer_value(json_object_get(f, key));
}

/* Append NUL-terminated `t` to `buf` (of `size`). */
static void append(char *buf, size_t size, const char *t)
{
    size_t have = strlen(buf), add = strlen(t);
    assert_true(have + add < size);
    memcpy(buf + have, t, add + 1);
}

/* A turn as a tab saw it, frame by frame. */
struct seen {
    long turn;
    long acked; /* the turn of an ack among its frames (0: none) */
    int starts, ends;
    long seqs[1024];
    size_t n_seqs;
    char text[1 << 14];
    json_t *end; /* the turn_end frame */
};

/* Read `c`'s frames of turn s->turn into `s` until its turn_end, or its first delta with
 * `until_delta` (acks noted; frames of other turns fail). */
static void read_frames(struct ts_caller *c, struct seen *s, bool until_delta)
{
    long turn = s->turn;
    while (!s->end && !(until_delta && s->n_seqs > 0)) {
        json_t *f = ts_caller_recv(c, 10000);
        if (!f)
            fail_msg("turn %ld: no turn_end", turn);
        const char *type = type_of(f);
        if (strcmp(type, "ack") == 0) {
            s->acked = long_of(f, "turn");
            json_decref(f);
            continue;
        }
        if (long_of(f, "turn") != turn)
            fail_msg("a %s of turn %ld while reading turn %ld", type, long_of(f, "turn"), turn);
        if (strcmp(type, "turn_start") == 0) {
            s->starts++;
        } else if (strcmp(type, "delta") == 0) {
            assert_true(s->n_seqs < sizeof(s->seqs) / sizeof(s->seqs[0]));
            s->seqs[s->n_seqs++] = long_of(f, "seq");
            append(s->text, sizeof(s->text), json_string_value(json_object_get(f, "text")));
        } else if (strcmp(type, "turn_end") == 0) {
            s->ends++;
            s->end = f;
            continue;
        } else {
            fail_msg("unexpected %s frame", type);
        }
        json_decref(f);
    }
}

static void read_turn(struct ts_caller *c, long turn, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    s->turn = turn;
    read_frames(c, s, false);
}

static void seen_free(struct seen *s)
{
    json_decref(s->end);
    s->end = NULL;
}

/* Tabs of one session on A and B; returns when both instances follow the session's channel. */
static void open_tabs(struct ts_caller *on_a, struct ts_caller *on_b)
{
    assert_int_equal(ts_caller_open(on_a, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_open(on_b, b.ws_url, on_a->token, 0, 0), 0);
    wait_redis("\n2", "PUBSUB NUMSUB parley:{%s}:live", on_a->session_id);
}

/* The next turn on both tabs after `turn`: `ask` tab sends it; each tab reads it whole. Frames
 * of `turn` arriving meanwhile fail read_turn: so `turn` ended once on each tab. */
static void next_turn_is_clean(struct ts_caller *ask, struct ts_caller *other, long turn)
{
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(ask, "next", "[[tokens:3]] next one", 10000, &t), 0);
    assert_int_equal(t.turn, turn + 1);
    ts_turn_free(&t);
    struct seen s;
    read_turn(other, turn + 1, &s);
    assert_int_equal(s.ends, 1);
    assert_string_equal(s.text, "w1 w2 w3");
    seen_free(&s);
}

static void test_tab_on_b_sees_a_turn(void **state)
{
    (void)state;
    struct ts_caller on_a, on_b;
    open_tabs(&on_a, &on_b);
    assert_int_equal(ts_caller_message(&on_a, "m1", "[[tokens:120]] [[pace:5]] long one on A"), 0);
    struct seen a, bs;
    read_turn(&on_a, 1, &a);
    read_turn(&on_b, 1, &bs);
    assert_int_equal(a.starts, 1);
    assert_int_equal(bs.starts, 1);
    assert_int_equal(bs.ends, 1);
    assert_int_equal(bs.n_seqs, 120);
    for (size_t i = 0; i < bs.n_seqs; i++)
        assert_int_equal(bs.seqs[i], (long)i);
    assert_string_equal(bs.text, a.text);
    /* streamed to B as to A: turn_end without text, the same usage */
    assert_null(json_object_get(bs.end, "text"));
    assert_string_equal(json_string_value(json_object_get(bs.end, "stop_reason")), "end_turn");
    assert_int_equal(long_of(json_object_get(bs.end, "usage"), "output_tokens"),
                     long_of(json_object_get(a.end, "usage"), "output_tokens"));
    seen_free(&a);
    seen_free(&bs);
    next_turn_is_clean(&on_a, &on_b, 1);
    ts_caller_close(&on_b);
    ts_caller_close(&on_a);
}

/* The same message id sent on both tabs: B acknowledges it too (as the same turn), while A
 * answers it; B's tab gets the deltas from A and one turn_end, not a second one from B's own
 * read of the answer. */
static void test_turn_b_acknowledged_ends_once(void **state)
{
    (void)state;
    struct ts_caller on_a, on_b;
    open_tabs(&on_a, &on_b);
    const char *text = "[[tokens:80]] [[pace:10]] sent twice";
    assert_int_equal(ts_caller_message(&on_a, "same", text), 0);
    struct seen a, bs;
    memset(&bs, 0, sizeof(bs));
    bs.turn = 1;
    read_frames(&on_b, &bs, true); /* A's answer reaches B */
    assert_int_equal(ts_caller_message(&on_b, "same", text), 0);
    read_frames(&on_b, &bs, false);
    read_turn(&on_a, 1, &a);
    assert_int_equal(bs.acked, 1); /* acknowledged on B as the same turn */
    assert_int_equal(bs.starts, 1);
    assert_int_equal(bs.ends, 1);
    assert_int_equal(bs.n_seqs, 80);
    assert_string_equal(bs.text, a.text);
    seen_free(&a);
    seen_free(&bs);
    next_turn_is_clean(&on_a, &on_b, 1);
    ts_caller_close(&on_b);
    ts_caller_close(&on_a);
}

static void test_resume_on_b_mid_turn(void **state)
{
    (void)state;
    struct ts_caller on_a;
    assert_int_equal(ts_caller_open(&on_a, st.parleyd.ws_url, NULL, 0, 0), 0);
    char token[1024], sid[65];
    snprintf(token, sizeof(token), "%s", on_a.token);
    snprintf(sid, sizeof(sid), "%s", on_a.session_id);
    assert_int_equal(ts_caller_message(&on_a, "r1", "[[tokens:200]] [[pace:15]] resume me"), 0);
    long last = -1;
    static char had[1 << 14], want[1 << 14];
    had[0] = want[0] = '\0';
    while (last < 29) {
        json_t *f = ts_caller_recv(&on_a, 10000);
        assert_non_null(f);
        if (strcmp(type_of(f), "delta") == 0) {
            last = long_of(f, "seq");
            append(had, sizeof(had), json_string_value(json_object_get(f, "text")));
        }
        json_decref(f);
    }
    ts_caller_close(&on_a);
    /* to B, with what it had: turn 1 up to seq 29 */
    struct ts_caller on_b;
    assert_int_equal(ts_caller_open(&on_b, b.ws_url, token, 1, last), 0);
    assert_string_equal(on_b.session_id, sid);
    struct seen s;
    read_turn(&on_b, 1, &s);
    assert_int_equal(s.starts, 0); /* it had the turn_start */
    assert_int_equal(s.ends, 1);
    assert_int_equal(s.n_seqs, 200 - 30);
    for (size_t i = 0; i < s.n_seqs; i++)
        assert_int_equal(s.seqs[i], 30 + (long)i);
    /* what it had and the tail: the whole answer, byte for byte */
    append(had, sizeof(had), s.text);
    for (int i = 1; i <= 200; i++) {
        char w[16];
        snprintf(w, sizeof(w), i > 1 ? " w%d" : "w%d", i);
        append(want, sizeof(want), w);
    }
    assert_string_equal(had, want);
    assert_null(json_object_get(s.end, "text")); /* streamed to it whole */
    seen_free(&s);
    /* and nothing more of turn 1: the next frames are turn 2's */
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&on_b, "r2", "[[tokens:2]] after", 10000, &t), 0);
    assert_int_equal(t.turn, 2);
    assert_string_equal(t.text, "w1 w2");
    ts_turn_free(&t);
    ts_caller_close(&on_b);
}

/* Pub/sub is at most once: the subscriber connections are killed mid-turn, so B misses what A
 * publishes until its subscriber is back. B's tab still gets no gap (seq 0, 1, 2, ... of what
 * it gets) and one turn_end, and ends with A's text: the deltas, or, when they fell short, the
 * whole answer in turn_end, read back from the transcript. */
static void test_missed_publish_still_ends_whole(void **state)
{
    (void)state;
    struct ts_caller on_a, on_b;
    open_tabs(&on_a, &on_b);
    assert_int_equal(ts_caller_message(&on_a, "k1", "[[tokens:150]] [[pace:10]] through a cut"), 0);
    struct seen a, bs;
    memset(&bs, 0, sizeof(bs));
    bs.turn = 1;
    read_frames(&on_b, &bs, true);
    char *r = ts_redis_query(&st.redis, "CLIENT KILL TYPE pubsub");
    assert_non_null(r);
    free(r);
    read_frames(&on_b, &bs, false);
    read_turn(&on_a, 1, &a);
    assert_int_equal(bs.ends, 1);
    for (size_t i = 0; i < bs.n_seqs; i++)
        assert_int_equal(bs.seqs[i], (long)i);
    json_t *text = json_object_get(bs.end, "text");
    fprintf(stderr, "B had %zu of 150 deltas%s\n", bs.n_seqs,
            text ? ", then the whole text in turn_end" : "");
    assert_string_equal(text ? json_string_value(text) : bs.text, a.text);
    seen_free(&a);
    seen_free(&bs);
    next_turn_is_clean(&on_a, &on_b, 1);
    ts_caller_close(&on_b);
    ts_caller_close(&on_a);
}

static void test_caller_only_on_a_publishes_nothing(void **state)
{
    (void)state;
    struct ts_caller one, two;
    assert_int_equal(ts_caller_open(&one, st.parleyd.ws_url, NULL, 0, 0), 0);
    assert_int_equal(ts_caller_open(&two, st.parleyd.ws_url, one.token, 0, 0), 0);
    /* A follows the session's channel for its callers, who joined: a listener on the answering
     * instance itself is no reason to publish */
    wait_redis("\n1", "PUBSUB NUMSUB parley:{%s}:live", one.session_id);
    wait_redis("2", "GET parley:{%s}:watched", one.session_id);
    long before = ts_redis_calls(&st.redis, "publish");
    struct ts_turn t;
    assert_int_equal(ts_caller_ask(&one, "p1", "[[tokens:60]] only on A", 10000, &t), 0);
    assert_int_equal(t.n_deltas, 60);
    ts_turn_free(&t);
    assert_int_equal(ts_caller_read_turn(&two, 10000, &t), 0); /* the other tab has it from A */
    assert_int_equal(t.n_deltas, 60);
    ts_turn_free(&t);
    assert_int_equal(ts_redis_calls(&st.redis, "publish"), before);
    ts_caller_close(&two);
    ts_caller_close(&one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tab_on_b_sees_a_turn),
        cmocka_unit_test(test_turn_b_acknowledged_ends_once),
        cmocka_unit_test(test_resume_on_b_mid_turn),
        cmocka_unit_test(test_missed_publish_still_ends_whole),
        cmocka_unit_test(test_caller_only_on_a_publishes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
