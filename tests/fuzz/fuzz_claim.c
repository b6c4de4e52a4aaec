/* libFuzzer target for claim extraction (prompts/claim.h, prompts/claim_local.h). The input is
 * read three ways: as a model's answer (accepted only when valid per the schema, and its dump
 * read back the same), as a customer's text for the offline extractor (always a valid claim),
 * and as a written date (an accepted one is a real YYYY-MM-DD day). */
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "prompts/claim.h"
#include "prompts/claim_local.h"
#include "tests/fuzz/fuzz_check.h"

/* `claim` is valid, and its dump reads back as an equal, valid claim. */
static void check_claim(const json_t *claim)
{
    char err[200];
    CHECK(claim_validate(claim, err, sizeof(err)) == PL_OK);
    char *dump = claim_dump(claim);
    json_t *again = NULL;
    CHECK(claim_parse(dump, strlen(dump), &again, err, sizeof(err)) == PL_OK);
    CHECK(json_equal((json_t *)claim, again));
    json_decref(again);
    pl_free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *claim = NULL;
    char err[200] = "";
    int rc = claim_parse(text, size, &claim, err, sizeof(err));
    if (rc == PL_OK) {
        check_claim(claim);
        json_decref(claim);
    } else {
        CHECK(rc == PL_EINVAL && claim == NULL && err[0]);
    }

    json_t *local = claim_local_extract(text, size);
    check_claim(local);
    json_decref(local);

    char date[11];
    if (claim_local_date(text, size, date))
        CHECK(claim_date_valid(date, strlen(date)));
    return 0;
}
