/* The --lex-intents file (bot/lex_intents.h): the defaults, every setting read, exact messages
 * for each mistake, lookup with the default, and the verify_policy decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/lex_intents.h"
#include "common/err.h"

static void parse_ok(const char *json, struct lex_intents *out)
{
    char err[256] = "";
    int rc = lex_intents_parse(json, strlen(json), out, err, sizeof(err));
    if (rc != PL_OK)
        fail_msg("refused: %s", err);
}

static void expect_error(const char *json, const char *want)
{
    struct lex_intents in;
    char err[256] = "";
    assert_int_equal(lex_intents_parse(json, strlen(json), &in, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, want);
}

static void test_defaults(void **state)
{
    (void)state;
    struct lex_intents in;
    parse_ok("{}", &in);
    const struct lex_intent *it = lex_intents_find(&in, "FallbackIntent");
    assert_ptr_equal(it, &in.fallback);
    assert_int_equal(it->action, LEX_INTENT_ANSWER);
    assert_int_equal(it->then, LEX_THEN_ELICIT_INTENT);
    assert_ptr_equal(lex_intents_find(&in, NULL), &in.fallback);
    lex_intents_cleanup(&in);
    /* no file: the same */
    char err[64];
    assert_int_equal(lex_intents_load(NULL, &in, err, sizeof(err)), PL_OK);
    assert_int_equal(in.n, 0);
    lex_intents_cleanup(&in);
}

static void test_every_setting(void **state)
{
    (void)state;
    struct lex_intents in;
    parse_ok("{\"default\":{\"action\":\"answer\",\"then\":\"close\"},\"intents\":{"
             "\"Verify\":{\"action\":\"verify_policy\",\"policy_slot\":\"Num\",\"check_slot\":"
             "\"Zip\",\"check_field\":\"postcode\",\"ask_policy\":\"Number?\",\"ask_check\":"
             "\"Zip?\",\"failed\":\"No.\",\"verified\":\"Yes.\"},"
             "\"Agent\":{\"action\":\"escalate\",\"reason\":\"asked\",\"message\":\"Bye.\"},"
             "\"Other\":{\"action\":\"delegate\"},\"Open\":{\"action\":\"answer\",\"then\":"
             "\"elicit_intent\"}}}",
             &in);
    assert_int_equal(in.n, 4);
    assert_int_equal(in.fallback.then, LEX_THEN_CLOSE);
    const struct lex_intent *v = lex_intents_find(&in, "Verify");
    assert_int_equal(v->action, LEX_INTENT_VERIFY_POLICY);
    assert_string_equal(v->policy_slot, "Num");
    assert_string_equal(v->check_slot, "Zip");
    assert_string_equal(v->check_field, "postcode");
    assert_string_equal(v->ask_policy, "Number?");
    assert_string_equal(v->ask_check, "Zip?");
    assert_string_equal(v->failed, "No.");
    assert_string_equal(v->verified, "Yes.");
    const struct lex_intent *a = lex_intents_find(&in, "Agent");
    assert_int_equal(a->action, LEX_INTENT_ESCALATE);
    assert_string_equal(a->reason, "asked");
    assert_string_equal(a->message, "Bye.");
    assert_int_equal(lex_intents_find(&in, "Other")->action, LEX_INTENT_DELEGATE);
    assert_int_equal(lex_intents_find(&in, "Open")->then, LEX_THEN_ELICIT_INTENT);
    assert_ptr_equal(lex_intents_find(&in, "verify"), &in.fallback); /* names are exact */
    lex_intents_cleanup(&in);
}

static void test_mistakes(void **state)
{
    (void)state;
    expect_error("[", "not JSON: ']' expected near end of file (line 1, column 1)");
    expect_error("[]", "the intents file must be a JSON object");
    expect_error("{\"intent\":{}}",
                 "unknown key \"intent\" (the file has \"default\" and \"intents\")");
    expect_error("{\"intents\":[]}", "\"intents\" must be an object of intent names");
    expect_error("{\"intents\":{\"A\":3}}", "intents.A must be an object");
    expect_error("{\"intents\":{\"A\":{}}}",
                 "intents.A: \"action\" must be one of answer, verify_policy, escalate, delegate");
    expect_error("{\"intents\":{\"A\":{\"action\":\"dance\"}}}",
                 "intents.A: unknown action \"dance\" (answer, verify_policy, escalate or "
                 "delegate)");
    expect_error("{\"intents\":{\"A\":{\"action\":\"escalate\",\"policy_slot\":\"X\"}}}",
                 "intents.A: \"policy_slot\" is not a setting of action escalate");
    expect_error("{\"intents\":{\"A\":{\"action\":\"answer\",\"then\":\"stay\"}}}",
                 "intents.A: \"then\" must be close or elicit_intent");
    expect_error("{\"intents\":{\"A\":{\"action\":\"verify_policy\",\"failed\":\"\"}}}",
                 "intents.A: \"failed\" must be a string of 1 to 1024 characters without control "
                 "characters");
    expect_error("{\"intents\":{\"A\":{\"action\":\"escalate\",\"message\":\"a\\nb\"}}}",
                 "intents.A: \"message\" must be a string of 1 to 1024 characters without "
                 "control characters");
    expect_error("{\"intents\":{\"A b\":{\"action\":\"answer\"}}}",
                 "intents: \"A b\" is not an intent name (1 to 100 of A-Z a-z 0-9 _ -)");
    expect_error("{\"intents\":{\"A\":{\"action\":\"answer\"},\"A\":{\"action\":\"answer\"}}}",
                 "not JSON: duplicate object key near '\"A\"' (line 1, column 39)");
    expect_error("{\"default\":{\"action\":\"escalate\"}}",
                 "default: the action must be answer or delegate");
}

static void test_load_names_the_file(void **state)
{
    (void)state;
    struct lex_intents in;
    char err[256];
    assert_int_equal(lex_intents_load("/nonexistent/intents.json", &in, err, sizeof(err)),
                     PL_EINVAL);
    assert_string_equal(err, "--lex-intents /nonexistent/intents.json: cannot be read");
    char path[600];
    snprintf(path, sizeof(path), "%s/data/lex-intents.json", PARLEY_SOURCE_DIR);
    assert_int_equal(lex_intents_load(path, &in, err, sizeof(err)), PL_OK); /* the sample */
    assert_int_equal(lex_intents_find(&in, "VerifyPolicy")->action, LEX_INTENT_VERIFY_POLICY);
    lex_intents_cleanup(&in);
}

static void test_verify_steps(void **state)
{
    (void)state;
    assert_int_equal(lex_verify_step(NULL, NULL), LEX_VERIFY_ASK_POLICY);
    assert_int_equal(lex_verify_step("", "x"), LEX_VERIFY_ASK_POLICY);
    assert_int_equal(lex_verify_step("POL-1", NULL), LEX_VERIFY_ASK_CHECK);
    assert_int_equal(lex_verify_step("POL-1", ""), LEX_VERIFY_ASK_CHECK);
    assert_int_equal(lex_verify_step("POL-1", "x"), LEX_VERIFY_LOOK_UP);
}

static void test_verify_matches(void **state)
{
    (void)state;
    const char *rec = "{\"postcode\":\"SW1A 1AA\",\"dob\":\"1980-01-02\",\"pin\":1234,"
                      "\"empty\":\"--\",\"obj\":{}}";
    size_t n = strlen(rec);
    assert_true(lex_verify_matches(rec, n, "postcode", "sw1a1aa"));
    assert_true(lex_verify_matches(rec, n, "postcode", "SW1A-1AA"));
    assert_false(lex_verify_matches(rec, n, "postcode", "SW1A 1AB"));
    assert_false(lex_verify_matches(rec, n, "postcode", "SW1A"));
    assert_true(lex_verify_matches(rec, n, "dob", "1980 01 02"));
    assert_true(lex_verify_matches(rec, n, "pin", "1234"));
    assert_false(lex_verify_matches(rec, n, "empty", "")); /* nothing never matches */
    assert_false(lex_verify_matches(rec, n, "obj", "x"));
    assert_false(lex_verify_matches(rec, n, "missing", "x"));
    const char *nested = "{\"holder\":{\"postcode\":\"ZZ1 1ZZ\"},\"a\":{\"b\":{\"c\":7}}}";
    assert_true(lex_verify_matches(nested, strlen(nested), "holder.postcode", "zz11zz"));
    assert_true(lex_verify_matches(nested, strlen(nested), "a.b.c", "7"));
    assert_false(lex_verify_matches(nested, strlen(nested), "holder", "x"));
    assert_false(lex_verify_matches(nested, strlen(nested), "holder.postcode.x", "zz11zz"));
    assert_false(lex_verify_matches(nested, strlen(nested), "a..b", "7"));
    assert_false(lex_verify_matches("not json", 8, "postcode", "x"));
    assert_false(lex_verify_matches(NULL, 0, "postcode", "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_every_setting),
        cmocka_unit_test(test_mistakes),     cmocka_unit_test(test_load_names_the_file),
        cmocka_unit_test(test_verify_steps), cmocka_unit_test(test_verify_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
