/* Session scripts by named argument: one list per script gives the Lua prologue (named locals)
 * and the C indices; the builder fills the keys from the session id and refuses a call with an
 * argument left unset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "sessions/script_args.h"
#include "sessions/session_scripts.h"

#define SID "0123456789abcdef0123456789abcdef"

/* Keys and arguments interleaved on purpose: keys are still numbered (and sent) first. */
#define TEST_ARGS(K, A, s)                                                                         \
    K(s, session)                                                                                  \
    A(s, owner)                                                                                    \
    K(s, lock)                                                                                     \
    A(s, lock_ttl)                                                                                 \
    A(s, text)
SCRIPT_ARG_INDICES(TEST, TEST_ARGS)
static const struct script_spec test_spec = SCRIPT_SPEC_INIT(TEST, TEST_ARGS);

static void test_lua_prologue_names_keys_then_arguments(void **state)
{
    (void)state;
    assert_string_equal(SESS_LUA_PROLOGUE(TEST_ARGS),
                        "local session, lock, _ = unpack(KEYS)\n"
                        "local owner, lock_ttl, text, _ = unpack(ARGV)\n");
    assert_string_equal(SESS_LUA_PROLOGUE(SESS_RENEW_ARGS),
                        "local lock, _ = unpack(KEYS)\n"
                        "local owner, lock_ttl, _ = unpack(ARGV)\n");
}

static void test_indices_follow_the_call_order(void **state)
{
    (void)state;
    assert_int_equal(TEST_session, 0);
    assert_int_equal(TEST_lock, 1);
    assert_int_equal(TEST_NKEYS, 2);
    assert_int_equal(TEST_owner, 2);
    assert_int_equal(TEST_lock_ttl, 3);
    assert_int_equal(TEST_text, 4);
    assert_int_equal(TEST_NARGS, 5);
    assert_string_equal(test_spec.name, "TEST");
    assert_int_equal(test_spec.nkeys, 2);
    assert_int_equal(test_spec.nargs, 5);
    const char *names[] = {"session", "lock", "owner", "lock_ttl", "text"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(test_spec.names[i], names[i]);
}

/* Each script's body reads its keys and arguments by name only. */
#define BODY_USES_NAMES(S)                                                                         \
    {                                                                                              \
        const char *text = SESS_LUA_##S;                                                           \
        const char *prologue = SESS_LUA_PROLOGUE(SESS_##S##_ARGS);                                 \
        const char *at = strstr(text, prologue);                                                   \
        assert_non_null(at);                                                                       \
        assert_null(strstr(at + strlen(prologue), "ARGV"));                                        \
        assert_null(strstr(at + strlen(prologue), "KEYS"));                                        \
        assert_null(strstr(text, "ARGV["));                                                        \
        assert_null(strstr(text, "KEYS["));                                                        \
    }

static void test_script_bodies_use_names_only(void **state)
{
    (void)state;
    SESS_SCRIPTS(BODY_USES_NAMES)
}

static void test_builder_sets_keys_from_the_session_and_arguments_by_name(void **state)
{
    (void)state;
    struct script_args a;
    script_args_begin(&a, &test_spec, SID);
    assert_int_equal(script_args_unset(&a), TEST_owner);
    script_arg_str(&a, TEST_owner, "parleyd-1");
    script_arg_bin(&a, TEST_text, "a\0b\r\n", 5);
    assert_int_equal(script_args_unset(&a), TEST_lock_ttl);
    script_arg_int(&a, TEST_lock_ttl, 15000);
    assert_int_equal(script_args_unset(&a), -1);

    int argc;
    const char **argv;
    const size_t *lens;
    assert_int_equal(script_args_finish(&a, &argc, &argv, &lens), PL_OK);
    const char *want[] = {
        "2", "parley:{" SID "}:session", "parley:{" SID "}:lock", "parleyd-1", "15000", "a\0b\r\n"};
    size_t want_len[] = {1, 49, 46, 9, 5, 5};
    assert_int_equal(argc, 6);
    for (int i = 0; i < argc; i++) {
        assert_int_equal(lens[i], want_len[i]);
        assert_memory_equal(argv[i], want[i], want_len[i]);
    }
}

static void test_null_string_is_an_empty_argument(void **state)
{
    (void)state;
    struct script_args a;
    script_args_begin(&a, &test_spec, SID);
    script_arg_str(&a, TEST_owner, NULL);
    script_arg_bin(&a, TEST_text, NULL, 0);
    script_arg_int(&a, TEST_lock_ttl, -1);
    int argc;
    const char **argv;
    const size_t *lens;
    assert_int_equal(script_args_finish(&a, &argc, &argv, &lens), PL_OK);
    assert_int_equal(lens[1 + TEST_owner], 0);
    assert_int_equal(lens[1 + TEST_text], 0);
    assert_string_equal(argv[1 + TEST_lock_ttl], "-1");
}

/* A key of no session (a per-address limit's) in place of the session's, or left out. */
#define LIMIT_ARGS(K, A, s)                                                                        \
    K(s, session)                                                                                  \
    K(s, address_rate)                                                                             \
    A(s, cost)
SCRIPT_ARG_INDICES(LIMIT, LIMIT_ARGS)
static const struct script_spec limit_spec = SCRIPT_SPEC_INIT(LIMIT, LIMIT_ARGS);

static void test_keys_outside_the_session_or_left_out(void **state)
{
    (void)state;
    struct script_args a;
    int argc;
    const char **argv;
    const size_t *lens;
    script_args_begin(&a, &limit_spec, SID);
    script_key_set(&a, LIMIT_address_rate, "parley:addr:{192.0.2.7}:messages");
    script_arg_int(&a, LIMIT_cost, 2);
    assert_int_equal(script_args_finish(&a, &argc, &argv, &lens), PL_OK);
    assert_int_equal(argc, 4);
    assert_string_equal(argv[0], "2");
    assert_string_equal(argv[1], "parley:{" SID "}:session");
    assert_string_equal(argv[2], "parley:addr:{192.0.2.7}:messages");
    assert_int_equal(lens[2], 32);
    assert_string_equal(argv[3], "2");

    /* Left out: one key fewer, and the arguments follow the keys that remain. */
    script_args_begin(&a, &limit_spec, SID);
    script_key_omit(&a, LIMIT_address_rate);
    script_arg_int(&a, LIMIT_cost, 1);
    assert_int_equal(script_args_finish(&a, &argc, &argv, &lens), PL_OK);
    assert_int_equal(argc, 3);
    assert_string_equal(argv[0], "1");
    assert_string_equal(argv[1], "parley:{" SID "}:session");
    assert_string_equal(argv[2], "1");
    assert_int_equal(lens[2], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lua_prologue_names_keys_then_arguments),
        cmocka_unit_test(test_indices_follow_the_call_order),
        cmocka_unit_test(test_script_bodies_use_names_only),
        cmocka_unit_test(test_builder_sets_keys_from_the_session_and_arguments_by_name),
        cmocka_unit_test(test_null_string_is_an_empty_argument),
        cmocka_unit_test(test_keys_outside_the_session_or_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
