/* libFuzzer target for the AWS shared credentials and config file parser
 * (connectors/aws_profile.h), which reads the operator's ~/.aws files. The input is cut at an
 * input-chosen point into the credentials text and the config text, and resolved for a profile
 * the input picks (default, a name from the corpus, or the empty name). Contract: only the four
 * documented codes; every field terminated within its bound; on success both keys present;
 * values are trimmed pieces of the input without line endings; on a refusal every field but the
 * region of a PL_ENOTFOUND is empty and the message is one of the fixed ones, with a line number
 * inside the file it names (so a value can never leak into it); the same input resolves the same
 * way twice. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "connectors/aws_profile.h"
#include "tests/fuzz/fuzz_check.h"

static struct pl_aws_profile first, second;

static size_t lines_in(const uint8_t *p, size_t n)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += p[i] == '\n';
    return lines;
}

static void check_value(const char *v, size_t max, const uint8_t *data, size_t size)
{
    size_t len = strnlen(v, max + 1);
    CHECK(len <= max);
    if (len == 0)
        return;
    CHECK(!strchr(v, '\n'));
    CHECK(v[0] != ' ' && v[0] != '\t' && v[len - 1] != ' ' && v[len - 1] != '\t');
    CHECK(memmem(data, size, v, len) != NULL);
}

static bool fixed_reason(const char *why)
{
    static const char *const reasons[] = {"section header without ']'",
                                          "text after a section header",
                                          "empty section name",
                                          "line is not 'key = value'",
                                          "empty key",
                                          "key before any section",
                                          "NUL byte",
                                          "value too long"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(why, reasons[i]) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_seed(data, size);
    size_t cut = size ? (size_t)(seed % (size + 1)) : 0;
    static const char *const profiles[] = {NULL, "default", "dev", "", "profile dev"};
    const char *profile = profiles[(seed >> 32) % (sizeof profiles / sizeof profiles[0])];
    const char *creds = (const char *)data;
    const char *conf = (const char *)data + cut;

    int rc = pl_aws_profile_resolve(creds, cut, conf, size - cut, profile, &first);
    CHECK(rc == PL_OK || rc == PL_ENOTFOUND || rc == PL_EINVAL || rc == PL_ETOOBIG);
    CHECK(strnlen(first.error, sizeof first.error) < sizeof first.error);
    check_value(first.access_key_id, PL_AWS_PROFILE_MAX_KEY, data, size);
    check_value(first.secret_access_key, PL_AWS_PROFILE_MAX_KEY, data, size);
    check_value(first.session_token, PL_AWS_PROFILE_MAX_TOKEN, data, size);
    check_value(first.region, PL_AWS_PROFILE_MAX_REGION, data, size);

    if (rc == PL_OK) {
        CHECK(first.access_key_id[0] && first.secret_access_key[0]);
        CHECK(first.error[0] == '\0');
    } else {
        CHECK(!first.access_key_id[0] && !first.secret_access_key[0] && !first.session_token[0]);
        if (rc == PL_ENOTFOUND) {
            CHECK(strcmp(first.error, "profile has no aws_access_key_id") == 0 ||
                  strcmp(first.error, "profile has no aws_secret_access_key") == 0);
        } else {
            CHECK(!first.region[0]);
            size_t line = 0;
            int used = 0;
            const uint8_t *file = data;
            size_t file_len = cut;
            if (sscanf(first.error, "credentials line %zu: %n", &line, &used) != 1 || !used) {
                CHECK(sscanf(first.error, "config line %zu: %n", &line, &used) == 1 && used);
                file = data + cut;
                file_len = size - cut;
            }
            CHECK(line >= 1 && line <= lines_in(file, file_len));
            CHECK(fixed_reason(first.error + used));
        }
    }

    CHECK(pl_aws_profile_resolve(creds, cut, conf, size - cut, profile, &second) == rc);
    CHECK(strcmp(first.access_key_id, second.access_key_id) == 0);
    CHECK(strcmp(first.secret_access_key, second.secret_access_key) == 0);
    CHECK(strcmp(first.session_token, second.session_token) == 0);
    CHECK(strcmp(first.region, second.region) == 0);
    CHECK(strcmp(first.error, second.error) == 0);
    return 0;
}
