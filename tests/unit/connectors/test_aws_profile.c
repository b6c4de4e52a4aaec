/* The AWS shared credentials and config file parser: profiles from each file, the credentials
 * file winning key by key, config-file section naming, comments, trimming, repeats, nested
 * blocks, bounds and malformed lines with their line numbers. Each outcome is compared with a
 * literal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "connectors/aws_profile.h"

static struct pl_aws_profile prof;

static int resolve(const char *creds, const char *conf, const char *profile)
{
    return pl_aws_profile_resolve(creds, creds ? strlen(creds) : 0, conf, conf ? strlen(conf) : 0,
                                  profile, &prof);
}

static void test_default_from_credentials(void **state)
{
    (void)state;
    const char *creds = "[default]\n"
                        "aws_access_key_id = AKIDEXAMPLE\n"
                        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n";
    assert_int_equal(resolve(creds, NULL, NULL), PL_OK);
    assert_string_equal(prof.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(prof.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    assert_string_equal(prof.session_token, "");
    assert_string_equal(prof.region, "");
    assert_int_equal(resolve(creds, NULL, ""), PL_OK); /* "" is the default profile too */
    assert_string_equal(prof.access_key_id, "AKIDEXAMPLE");
}

static void test_named_profile_and_region_from_config(void **state)
{
    (void)state;
    const char *creds = "[default]\naws_access_key_id=A0\naws_secret_access_key=S0\n"
                        "[dev]\naws_access_key_id=A1\naws_secret_access_key=S1\n"
                        "aws_session_token=T1\n";
    const char *conf = "[default]\nregion=us-east-1\n[profile dev]\nregion = eu-west-3\n";
    assert_int_equal(resolve(creds, conf, "dev"), PL_OK);
    assert_string_equal(prof.access_key_id, "A1");
    assert_string_equal(prof.secret_access_key, "S1");
    assert_string_equal(prof.session_token, "T1");
    assert_string_equal(prof.region, "eu-west-3");
    assert_int_equal(resolve(creds, conf, "default"), PL_OK);
    assert_string_equal(prof.access_key_id, "A0");
    assert_string_equal(prof.region, "us-east-1");
}

static void test_credentials_win_key_by_key(void **state)
{
    (void)state;
    const char *creds = "[p]\naws_access_key_id = CRED_ID\n";
    const char *conf = "[profile p]\naws_access_key_id = CONF_ID\n"
                       "aws_secret_access_key = CONF_SECRET\nregion = ap-south-1\n";
    assert_int_equal(resolve(creds, conf, "p"), PL_OK);
    assert_string_equal(prof.access_key_id, "CRED_ID");
    assert_string_equal(prof.secret_access_key, "CONF_SECRET");
    assert_string_equal(prof.region, "ap-south-1");
}

static void test_config_section_naming(void **state)
{
    (void)state;
    /* a bare [p] in the config file is not profile p; [profile default] is the default */
    const char *conf = "[p]\naws_access_key_id=X\naws_secret_access_key=Y\n"
                       "[profile default]\naws_access_key_id=D\naws_secret_access_key=E\n"
                       "[profile   spaced ]\naws_access_key_id=F\naws_secret_access_key=G\n";
    assert_int_equal(resolve(NULL, conf, "p"), PL_ENOTFOUND);
    assert_string_equal(prof.error, "profile has no aws_access_key_id");
    assert_string_equal(prof.access_key_id, "");
    assert_int_equal(resolve(NULL, conf, NULL), PL_OK);
    assert_string_equal(prof.access_key_id, "D");
    assert_int_equal(resolve(NULL, conf, "spaced"), PL_OK);
    assert_string_equal(prof.secret_access_key, "G");
    /* and in the credentials file "[profile p]" is a profile named "profile p" */
    const char *creds = "[profile p]\naws_access_key_id=X\naws_secret_access_key=Y\n";
    assert_int_equal(resolve(creds, NULL, "p"), PL_ENOTFOUND);
    assert_int_equal(resolve(creds, NULL, "profile p"), PL_OK);
    assert_string_equal(prof.access_key_id, "X");
}

static void test_comments_whitespace_crlf_bom(void **state)
{
    (void)state;
    const char *creds = "\xEF\xBB\xBF# leading comment\r\n"
                        "; another\r\n"
                        "\r\n"
                        "  [ default ]  ; trailing comment\r\n"
                        "\taws_access_key_id\t=\t AK ID \t\r\n"
                        "   # indented comment\r\n"
                        "aws_secret_access_key= sec#ret;x \r\n"
                        "region=\r\n";
    assert_int_equal(resolve(creds, NULL, NULL), PL_OK);
    assert_string_equal(prof.access_key_id, "AK ID");
    assert_string_equal(prof.secret_access_key, "sec#ret;x"); /* no inline comments in values */
    assert_string_equal(prof.region, "");
}

static void test_repeats_later_wins(void **state)
{
    (void)state;
    const char *creds = "[a]\naws_access_key_id=first\naws_secret_access_key=s\n"
                        "[b]\naws_access_key_id=other\n"
                        "[a]\naws_access_key_id=second\n"
                        "aws_access_key_id=third\n";
    assert_int_equal(resolve(creds, NULL, "a"), PL_OK);
    assert_string_equal(prof.access_key_id, "third");
    assert_string_equal(prof.secret_access_key, "s");
}

static void test_keys_are_case_sensitive(void **state)
{
    (void)state;
    const char *creds = "[default]\nAWS_ACCESS_KEY_ID=A\naws_secret_access_key=S\n";
    assert_int_equal(resolve(creds, NULL, NULL), PL_ENOTFOUND);
    assert_string_equal(prof.error, "profile has no aws_access_key_id");
    assert_string_equal(prof.secret_access_key, "");
    const char *names = "[Default]\naws_access_key_id=A\naws_secret_access_key=S\n";
    assert_int_equal(resolve(names, NULL, NULL), PL_ENOTFOUND); /* section names too */
}

static void test_nested_block_skipped(void **state)
{
    (void)state;
    const char *conf = "[default]\n"
                       "s3 =\n"
                       "  max_concurrent_requests = 4\n"
                       "  region = wrong-1\n"
                       "region = us-west-2\n"
                       "aws_access_key_id = A\n"
                       "aws_secret_access_key = S\n";
    assert_int_equal(resolve(NULL, conf, NULL), PL_OK);
    assert_string_equal(prof.region, "us-west-2");
    /* an indented key after a key with a value is an ordinary key */
    const char *conf2 =
        "[default]\nregion = r1\n  aws_access_key_id = A\naws_secret_access_key=S\n";
    assert_int_equal(resolve(NULL, conf2, NULL), PL_OK);
    assert_string_equal(prof.access_key_id, "A");
}

static void test_not_found_keeps_region(void **state)
{
    (void)state;
    const char *conf = "[default]\nregion = eu-central-1\naws_access_key_id = A\n";
    assert_int_equal(resolve(NULL, conf, NULL), PL_ENOTFOUND);
    assert_string_equal(prof.error, "profile has no aws_secret_access_key");
    assert_string_equal(prof.region, "eu-central-1");
    assert_string_equal(prof.access_key_id, "");
    assert_int_equal(resolve(NULL, NULL, NULL), PL_ENOTFOUND);
    assert_int_equal(resolve("", "", "nope"), PL_ENOTFOUND);
}

static void test_malformed_lines(void **state)
{
    (void)state;
    static const struct {
        const char *creds, *conf;
        int rc;
        const char *error;
    } cases[] = {
        {"[default\n", NULL, PL_EINVAL, "credentials line 1: section header without ']'"},
        {"[default]\n\n# c\njunk\n", NULL, PL_EINVAL,
         "credentials line 4: line is not 'key = value'"},
        {"[]\n", NULL, PL_EINVAL, "credentials line 1: empty section name"},
        {"[ \t]\n", NULL, PL_EINVAL, "credentials line 1: empty section name"},
        {"[a] b\n", NULL, PL_EINVAL, "credentials line 1: text after a section header"},
        {"[a]\n = v\n", NULL, PL_EINVAL, "credentials line 2: empty key"},
        {"k = v\n[a]\n", NULL, PL_EINVAL, "credentials line 1: key before any section"},
        {"[a]\nk=v\n", "[default]\nregion=x\n[other]\nsecret-looking-line\n", PL_EINVAL,
         "config line 4: line is not 'key = value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(resolve(cases[i].creds, cases[i].conf, NULL), cases[i].rc);
        assert_string_equal(prof.error, cases[i].error);
        assert_string_equal(prof.access_key_id, "");
        assert_string_equal(prof.region, "");
    }
    const char nul[] = "[default]\naws_access_key_id=A\0B\n";
    assert_int_equal(pl_aws_profile_resolve(nul, sizeof nul - 1, NULL, 0, NULL, &prof), PL_EINVAL);
    assert_string_equal(prof.error, "credentials line 2: NUL byte");
}

static void test_bounds(void **state)
{
    (void)state;
    static char creds[PL_AWS_PROFILE_MAX_TOKEN + 200];
    static char token[PL_AWS_PROFILE_MAX_TOKEN + 2];
    memset(token, 'T', PL_AWS_PROFILE_MAX_TOKEN);
    token[PL_AWS_PROFILE_MAX_TOKEN] = '\0';
    int n = snprintf(
        creds, sizeof creds,
        "[default]\naws_access_key_id=A\naws_secret_access_key=S\naws_session_token=%s\n", token);
    assert_true(n > 0 && (size_t)n < sizeof creds);
    assert_int_equal(resolve(creds, NULL, NULL), PL_OK);
    assert_int_equal(strlen(prof.session_token), PL_AWS_PROFILE_MAX_TOKEN);
    token[PL_AWS_PROFILE_MAX_TOKEN] = 'T';
    token[PL_AWS_PROFILE_MAX_TOKEN + 1] = '\0';
    snprintf(creds, sizeof creds,
             "[default]\naws_access_key_id=A\naws_secret_access_key=S\naws_session_token=%s\n",
             token);
    assert_int_equal(resolve(creds, NULL, NULL), PL_ETOOBIG);
    assert_string_equal(prof.error, "credentials line 4: value too long");
    assert_string_equal(prof.session_token, "");
    /* the bound applies to the wanted profile only */
    assert_int_equal(resolve(creds, NULL, "other"), PL_ENOTFOUND);
    char longname[PL_AWS_PROFILE_MAX_NAME + 2];
    memset(longname, 'p', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(resolve(NULL, NULL, longname), PL_EINVAL);
    assert_string_equal(prof.error, "profile name too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_from_credentials),
        cmocka_unit_test(test_named_profile_and_region_from_config),
        cmocka_unit_test(test_credentials_win_key_by_key),
        cmocka_unit_test(test_config_section_naming),
        cmocka_unit_test(test_comments_whitespace_crlf_bom),
        cmocka_unit_test(test_repeats_later_wins),
        cmocka_unit_test(test_keys_are_case_sensitive),
        cmocka_unit_test(test_nested_block_skipped),
        cmocka_unit_test(test_not_found_keeps_region),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
