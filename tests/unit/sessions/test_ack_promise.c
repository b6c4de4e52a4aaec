/* What an ack promises, for each persistence setting Redis may report, with and without
 * --ack-replicas: the exact sentences parleyd logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sessions/ack_promise.h"

static void expect(const struct sess_persistence *p, unsigned replicas, enum pl_log_level level,
                   const char *want)
{
    char out[1024];
    assert_int_equal(sess_ack_promise(p, replicas, out, sizeof(out)), level);
    assert_string_equal(out, want);
}

static void test_append_only_file(void **state)
{
    (void)state;
    struct sess_persistence p = {.known = true, .appendonly = true, .fsync = "always"};
    expect(&p, 0, PL_LOG_NOTICE,
           "acks survive a Redis crash and a power loss: Redis writes each message to its "
           "append-only file and fsyncs it before it answers (appendonly yes, appendfsync "
           "always)");
    snprintf(p.fsync, sizeof(p.fsync), "everysec");
    expect(&p, 0, PL_LOG_WARN,
           "acks survive a Redis process crash but not a power loss or an OS crash, which can "
           "lose up to about 1 s of acknowledged messages (appendonly yes, appendfsync "
           "everysec); appendfsync always is recommended");
    snprintf(p.fsync, sizeof(p.fsync), "no");
    expect(&p, 0, PL_LOG_WARN,
           "acks survive a Redis process crash but not a power loss or an OS crash, which can "
           "lose what the OS had not yet written, often 30 s of acknowledged messages "
           "(appendonly yes, appendfsync no); appendfsync always is recommended");
}

static void test_snapshots_or_nothing(void **state)
{
    (void)state;
    struct sess_persistence p = {.known = true, .save = "3600 1 300 100 60 10000"};
    expect(&p, 0, PL_LOG_WARN,
           "acks survive only until the next snapshot: a Redis crash or restart loses every "
           "message since the last RDB save (appendonly no, save \"3600 1 300 100 60 10000\"); "
           "appendonly yes with appendfsync always is recommended");
    p.save[0] = '\0';
    expect(&p, 0, PL_LOG_WARN,
           "none: acks are in Redis's memory only, and a Redis restart loses every conversation "
           "(appendonly no, no save rules); appendonly yes with appendfsync always is "
           "recommended");
}

static void test_unknown(void **state)
{
    (void)state;
    struct sess_persistence p = {.refusal = "ERR unknown command 'CONFIG', with args beginning "
                                            "with: 'GET' 'appendonly' "};
    expect(&p, 0, PL_LOG_WARN,
           "what an ack promises could not be checked (CONFIG GET: ERR unknown command 'CONFIG', "
           "with args beginning with: 'GET' 'appendonly' ): it depends on Redis's appendonly "
           "and appendfsync settings; appendonly yes with appendfsync always is recommended");
}

static void test_replicas(void **state)
{
    (void)state;
    struct sess_persistence p = {.known = true, .appendonly = true, .fsync = "always"};
    expect(&p, 1, PL_LOG_NOTICE,
           "acks survive a Redis crash and a power loss: Redis writes each message to its "
           "append-only file and fsyncs it before it answers (appendonly yes, appendfsync "
           "always). Each ack also waits until 1 replica confirmed the message (WAIT, "
           "--ack-replicas), so it survives losing this Redis when such a replica takes over");
    struct sess_persistence none = {.known = true};
    expect(&none, 2, PL_LOG_WARN,
           "none: acks are in Redis's memory only, and a Redis restart loses every conversation "
           "(appendonly no, no save rules); appendonly yes with appendfsync always is "
           "recommended. Each ack also waits until 2 replicas confirmed the message (WAIT, "
           "--ack-replicas), so it survives losing this Redis when such a replica takes over");
    /* Cut to fit. */
    char small[12];
    sess_ack_promise(&p, 0, small, sizeof(small));
    assert_string_equal(small, "acks surviv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_only_file),
        cmocka_unit_test(test_snapshots_or_nothing),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_replicas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
