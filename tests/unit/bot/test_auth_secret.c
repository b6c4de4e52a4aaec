/* The token secret rule: short, repeated and sample secrets are refused with a message that says
 * why and how to make a good one; generated secrets pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bot/auth_secret.h"
#include "common/err.h"

#define SETTING "--jwt-secret / PARLEY_JWT_SECRET"

static void expect_refused(const char *secret, const char *want)
{
    char err[400] = "";
    assert_int_equal(auth_secret_check(secret, SETTING, err, sizeof(err)), PL_EINVAL);
    assert_string_equal(err, want);
}

static void test_good_secrets_pass(void **state)
{
    (void)state;
    char err[400] = "untouched";
    /* What `openssl rand -hex 32` and `scripts/run` make. */
    assert_int_equal(
        auth_secret_check("3f9c2a7e5b1d4c8f9a0e6b2d7c1f4a8e3b9d5c0f7a2e6b1d4c8f9a0e3b7d5c1f",
                          SETTING, err, sizeof(err)),
        PL_OK);
    assert_string_equal(err, "untouched");
    assert_int_equal(
        auth_secret_check("0123456789abcdef0123456789abcdef", SETTING, err, sizeof(err)),
        PL_OK); /* exactly 32 bytes */
}

static void test_short_secrets_are_refused(void **state)
{
    (void)state;
    expect_refused("a", SETTING " is 1 bytes long; at least 32 are needed, since whoever guesses "
                                "it can mint admin tokens; make one with: openssl rand -hex 32");
    expect_refused("0123456789abcdef0123456789abcde",
                   SETTING " is 31 bytes long; at least 32 are needed, since whoever guesses it "
                           "can mint admin tokens; make one with: openssl rand -hex 32");
    expect_refused("secret", SETTING " is 6 bytes long; at least 32 are needed, since whoever "
                                     "guesses it can mint admin tokens; make one with: openssl "
                                     "rand -hex 32");
}

static void test_placeholders_are_refused(void **state)
{
    (void)state;
    /* The value docker-compose.yml used to default to: 33 bytes, long enough but public. */
    expect_refused("change-me-to-a-long-random-secret",
                   SETTING " looks like a sample secret (it contains \"change-me\"), which anyone "
                           "can read: whoever knows the secret can mint admin tokens; make one "
                           "with: openssl rand -hex 32");
    expect_refused("CHANGEME", SETTING " looks like a sample secret (it contains \"changeme\"), "
                                       "which anyone can read: whoever knows the secret can "
                                       "mint admin tokens; make one with: openssl rand -hex 32");
    expect_refused("your-256-bit-secret-and-some-more-bytes",
                   SETTING " looks like a sample secret (it contains \"your-256-bit-secret\"), "
                           "which anyone can read: whoever knows the secret can mint admin "
                           "tokens; make one with: openssl rand -hex 32");
    expect_refused("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   SETTING " is one character repeated; make one with: openssl rand -hex 32");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_secrets_pass),
        cmocka_unit_test(test_short_secrets_are_refused),
        cmocka_unit_test(test_placeholders_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
