/* libFuzzer target for the --routes parser (connectors/llm_routes.h): the operator's text from a
 * flag, the environment or the config file. PL_OK or PL_EINVAL with a message; on PL_OK at most
 * the maximum entries, each a known purpose other than chat and a known provider, strings
 * terminated within their fields, no purpose twice, the entry's text found in the input; the
 * same answer twice. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/llm_routes.h"
#include "tests/fuzz/fuzz_check.h"

static bool known_kind(const char *k)
{
    return !strcmp(k, "anthropic") || !strcmp(k, "bedrock") || !strcmp(k, "openai") ||
           !strcmp(k, "local");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pl_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct llm_route_spec a[3], b[3];
    size_t na = 0, nb = 0;
    char err_a[256] = "", err_b[256] = "";
    int rc = llm_routes_parse(text, a, 3, &na, err_a, sizeof(err_a));
    CHECK(rc == PL_OK || rc == PL_EINVAL);
    if (rc == PL_EINVAL) {
        CHECK(memchr(err_a, '\0', sizeof(err_a)) && strncmp(err_a, "--routes", 8) == 0);
    } else {
        CHECK(na <= 3);
        for (size_t i = 0; i < na; i++) {
            CHECK(memchr(a[i].purpose, '\0', sizeof(a[i].purpose)));
            CHECK(memchr(a[i].kind, '\0', sizeof(a[i].kind)));
            CHECK(memchr(a[i].model, '\0', sizeof(a[i].model)));
            CHECK(llm_route_purpose_known(a[i].purpose) && strcmp(a[i].purpose, "chat") != 0);
            CHECK(known_kind(a[i].kind));
            CHECK(strstr(text, a[i].model) != NULL);
            for (size_t j = 0; j < i; j++)
                CHECK(strcmp(a[i].purpose, a[j].purpose) != 0);
        }
    }
    CHECK(llm_routes_parse(text, b, 3, &nb, err_b, sizeof(err_b)) == rc);
    CHECK(nb == na && !strcmp(err_a, err_b));
    CHECK(rc != PL_OK || memcmp(a, b, na * sizeof(*a)) == 0);
    pl_free(text);
    return 0;
}
