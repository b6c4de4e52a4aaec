/* libFuzzer target for the Origin check (bot/origin.h): every browser request's Origin and Host
 * headers, from any page, go through origin_allowed, and --allowed-origins through
 * origin_list_parse. The input is split at its first two NUL bytes into the list, the Origin and
 * the Host. A list parses or is refused with a message; the answer is the same when asked twice;
 * "*" allows every page; nothing leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/origin.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

/* The next NUL-terminated piece of the input (a copy), or what is left. */
static char *take(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = (size_t)((nul ? nul : end) - *p);
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nul ? nul + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *spec = take(&p, end), *origin = take(&p, end), *host = take(&p, end);
    struct origin_list *l = NULL;
    char err[256] = "";
    int rc = origin_list_parse(spec, &l, err, sizeof(err));
    CHECK(rc == PL_OK || (rc == PL_EINVAL && err[0] && l == NULL));
    bool allowed = origin_allowed(l, origin, host);
    CHECK(allowed == origin_allowed(l, origin, host));
    origin_list_free(l);
    CHECK(origin_list_parse("*", &l, err, sizeof(err)) == PL_OK);
    CHECK(origin_allowed(l, origin, host));
    origin_list_free(l);
    (void)origin_allowed(NULL, origin, host);
    free(spec);
    free(origin);
    free(host);
    return 0;
}
