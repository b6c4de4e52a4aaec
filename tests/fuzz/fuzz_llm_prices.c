/* libFuzzer target for the price table (connectors/llm_prices.h), the operator's --prices JSON,
 * and for dollar amounts (--budget-usd-per-day). Contract: PL_OK with a table, or PL_EINVAL with
 * a message and no table; the same answer twice; every model of an accepted table is found by
 * its own id with prices of at most 10^12 micro-dollars per million tokens, and its cost of any
 * usage is exact (the sum of the parts, rounded up once); an accepted amount prints back to the
 * same digits. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "connectors/llm_prices.h"
#include "tests/fuzz/fuzz_check.h"

static void check_table(const uint8_t *data, size_t size)
{
    struct llm_price_table *t = NULL, *again = NULL;
    char err[256] = "", err2[256] = "";
    int rc = llm_prices_parse((const char *)data, size, &t, err, sizeof(err));
    int rc2 = llm_prices_parse((const char *)data, size, &again, err2, sizeof(err2));
    CHECK(rc == rc2 && strcmp(err, err2) == 0);
    CHECK(rc == PL_OK || rc == PL_EINVAL);
    if (rc != PL_OK) {
        CHECK(t == NULL && err[0] != '\0');
        return;
    }
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    CHECK(json_is_object(j));
    const char *model;
    json_t *v;
    json_object_foreach(j, model, v)
    {
        const struct llm_price *p = llm_prices_find(t, model);
        CHECK(p != NULL);
        CHECK(p->input <= 1000000000000ull && p->output <= 1000000000000ull);
        struct llm_usage u = {1000, 2000, 3000, 4000};
        uint64_t pico =
            1000 * p->input + 2000 * p->output + 3000 * p->cache_read + 4000 * p->cache_write;
        CHECK(llm_cost_micros(p, &u) == (pico + 999999) / 1000000);
    }
    json_decref(j);
    llm_prices_free(t);
    llm_prices_free(again);
}

static void check_amount(const uint8_t *data, size_t size)
{
    char s[32];
    if (size >= sizeof(s))
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t m = 0;
    if (llm_usd_parse(s, &m) != PL_OK)
        return;
    /* Back to text: the whole part, then the decimals the input had, padded to six. */
    char back[48];
    snprintf(back, sizeof(back), "%" PRIu64 ".%06" PRIu64, m / 1000000, m % 1000000);
    const char *dot = strchr(s, '.');
    size_t whole = dot ? (size_t)(dot - s) : strlen(s);
    CHECK(strtoull(s, NULL, 10) == m / 1000000);
    if (dot)
        CHECK(strncmp(back + strlen(back) - 6, dot + 1, strlen(dot + 1)) == 0);
    CHECK(whole >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_table(data, size);
    check_amount(data, size);
    return 0;
}
