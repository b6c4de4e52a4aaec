/* Two parleyd instances on one Redis, one session connected to both (two tabs behind a load
 * balancer), each tab sending ten messages at once. Every acknowledged message gets exactly one
 * turn_end on the connection whose instance acknowledged it, naming the turn whose answer
 * covered it; that answer is in the transcript, and polling the turn over HTTP (on either
 * instance) returns it. The other tab sees every answer too: one turn_end for each turn
 * answered in itself, none twice. */
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

#include "common/alloc.h"
#include "tests/support/caller.h"
#include "tests/support/fixtures.h"

#define PER_TAB 10

static struct ts_stack st;
static struct ts_parleyd other;
static char other_dir[600];
static const char *const upstream_args[] = {"--pace-ms", "3", NULL};
/* Twenty messages on one session within a second, and forty polls of them: this is not about
 * rate limits (those have tests/integration/test_rate_limits.c), so the session's limits are
 * off. */
static const char *const parleyd_args[] = {
    "--max-queued-messages", "16", "--messages-per-minute", "0", "--polls-per-minute", "0", NULL};

static int setup(void **state)
{
    (void)state;
    if (ts_stack_start(&st, "two_instances", upstream_args, parleyd_args))
        return -1;
    snprintf(other_dir, sizeof(other_dir), "%s/b", st.workdir);
    mkdir(other_dir, 0755);
    return ts_parleyd_start(&other, other_dir, &st.redis, &st.upstream, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_parleyd_stop(&other);
    return ts_stack_stop(&st) == 0 && rc == 0 ? 0 : -1;
}

struct tab {
    struct ts_caller c;
    long acked[PER_TAB]; /* turn of each message, by its index */
    int n_acked;
    int ends[64];         /* turn_end frames seen, by turn */
    long answered_in[64]; /* by turn */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool tab_done(const struct tab *t)
{
    if (t->n_acked < PER_TAB)
        return false;
    for (int i = 0; i < PER_TAB; i++) {
        if (t->ends[t->acked[i]] == 0)
            return false;
    }
    return true;
}

/* The other tab has the turn_end of every turn of `t` answered in itself (the answers of the
 * turns `t` acknowledged, streamed by its instance, reach the other instance's tab). */
static bool other_done(const struct tab *t, const struct tab *o)
{
    for (int i = 0; i < PER_TAB; i++) {
        long turn = t->acked[i];
        if (t->answered_in[turn] == turn && o->ends[turn] == 0)
            return false;
    }
    return true;
}

static void tab_read(struct tab *t, int timeout_ms)
{
    json_t *f = ts_caller_recv(&t->c, timeout_ms);
    if (!f)
        return;
    const char *type = json_string_value(json_object_get(f, "type"));
    long turn = (long)json_integer_value(json_object_get(f, "turn"));
    if (!strcmp(type, "ack")) {
        int i = (int)strtol(json_string_value(json_object_get(f, "id")) + 1, NULL, 10);
        t->acked[i] = turn;
        t->n_acked++;
    } else if (!strcmp(type, "turn_end")) {
        assert_true(turn > 0 && turn < 64);
        t->ends[turn]++;
        json_t *in = json_object_get(f, "answered_in");
        t->answered_in[turn] = in ? (long)json_integer_value(in) : turn;
        /* An answer streamed by the other instance comes with its text. */
        json_t *text = json_object_get(f, "text");
        if (text)
            assert_string_equal(json_string_value(text), "w1 w2 w3");
    } else if (!strcmp(type, "error")) {
        fail_msg("unexpected error frame: %s", json_string_value(json_object_get(f, "message")));
    }
    json_decref(f);
}

/* The assistant text stored for turn `turn` ("" when none), from the transcript. */
static char *stored_answer(const char *sid, long turn)
{
    char *x = ts_redis_query(&st.redis, "XRANGE parley:{%s}:transcript - +", sid);
    assert_non_null(x);
    /* Fields come one per line: ...role\nassistant\nturn\nN\ntext\nT\n... */
    char needle[64];
    snprintf(needle, sizeof(needle), "role\nassistant\nturn\n%ld\ntext\n", turn);
    const char *p = strstr(x, needle);
    char *out = NULL;
    if (p) {
        p += strlen(needle);
        out = pl_strndup(p, strcspn(p, "\n"));
    }
    pl_free(x);
    return out;
}

static void test_every_acknowledged_turn_ends_on_its_instance(void **state)
{
    (void)state;
    char sid[33];
    char *token = ts_session_create(st.parleyd.url, sid);
    assert_non_null(token);
    struct tab *a = pl_calloc(1, sizeof(*a)), *b = pl_calloc(1, sizeof(*b));
    assert_int_equal(ts_caller_open(&a->c, st.parleyd.ws_url, token, 0, 0), 0);
    assert_int_equal(ts_caller_open(&b->c, other.ws_url, token, 0, 0), 0);
    /* The tabs take turns (each message acknowledged before the other tab's next), so the turn
     * numbers alternate between the instances: whichever holds the session's lock answers its
     * own turns, and its prompts carry the other tab's messages waiting for that lock. */
    long long deadline = now_ms() + 30000;
    for (int i = 0; i < PER_TAB; i++) {
        struct tab *tabs[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            char id[8], text[64];
            snprintf(id, sizeof(id), "%c%d", k ? 'b' : 'a', i);
            snprintf(text, sizeof(text), "from %c %d [[tokens:3]]", k ? 'B' : 'A', i);
            assert_int_equal(ts_caller_message(&tabs[k]->c, id, text), 0);
            while (tabs[k]->n_acked <= i && now_ms() < deadline)
                tab_read(tabs[k], 20);
            assert_int_equal(tabs[k]->n_acked, i + 1);
        }
    }
    while (!(tab_done(a) && tab_done(b) && other_done(a, b) && other_done(b, a)) &&
           now_ms() < deadline) {
        tab_read(a, 20);
        tab_read(b, 20);
    }
    assert_true(tab_done(a));
    assert_true(tab_done(b));
    assert_true(other_done(a, b));
    assert_true(other_done(b, a));
    /* Twenty distinct turns, each acknowledged once by one instance. */
    int acked_by[64] = {0};
    for (int i = 0; i < PER_TAB; i++) {
        acked_by[a->acked[i]]++;
        acked_by[b->acked[i]]++;
    }
    for (long turn = 1; turn <= 2 * PER_TAB; turn++)
        assert_int_equal(acked_by[turn], 1);
    /* Exactly one turn_end per acknowledged turn on its own tab; at most one on the other (one
     * for an answer, none needed for a message another answer covered). */
    struct tab *tabs[2] = {a, b};
    int covered = 0;
    for (int k = 0; k < 2; k++) {
        struct tab *t = tabs[k], *o = tabs[1 - k];
        for (int i = 0; i < PER_TAB; i++) {
            long turn = t->acked[i];
            assert_int_equal(t->ends[turn], 1);
            assert_true(o->ends[turn] <= 1);
            long in = t->answered_in[turn];
            assert_true(in >= turn);
            covered += in > turn;
            /* The covering answer is stored, and a poll on either instance returns it. */
            char *answer = stored_answer(sid, in);
            if (!answer)
                fail_msg("turn %ld: answered in %ld, which has no stored answer", turn, in);
            assert_string_equal(answer, "w1 w2 w3");
            const char *bases[2] = {st.parleyd.url, other.url};
            for (int p = 0; p < 2; p++) {
                char url[256];
                snprintf(url, sizeof(url), "%s/v1/sessions/%s/turns/%ld", bases[p], sid, turn);
                struct ts_http_reply r;
                assert_int_equal(ts_http("GET", url, token, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                json_t *j = json_loads(r.body, 0, NULL);
                assert_string_equal(json_string_value(json_object_get(j, "text")), answer);
                json_t *ji = json_object_get(j, "answered_in");
                assert_int_equal(ji ? json_integer_value(ji) : turn, in);
                json_decref(j);
                ts_http_reply_free(&r);
            }
            pl_free(answer);
        }
    }
    /* The race this is about did happen: answers covered the other tab's waiting messages. */
    fprintf(stderr, "%d of %d turns were covered by a later turn's answer\n", covered, 2 * PER_TAB);
    assert_true(covered > 0);
    /* Every caller message is answered: the last answer covers the last turn. */
    char *answered = ts_redis_query(&st.redis, "HGET parley:{%s}:session answered", sid);
    assert_string_equal(answered, "20");
    pl_free(answered);
    ts_caller_close(&a->c);
    ts_caller_close(&b->c);
    pl_free(a);
    pl_free(b);
    pl_free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_acknowledged_turn_ends_on_its_instance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
