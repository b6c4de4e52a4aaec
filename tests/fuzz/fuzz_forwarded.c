/* libFuzzer target for trusted proxies (bot/trusted_proxies.h): --trusted-proxies is an
 * operator's text, and X-Forwarded-For is any client's. The input's first line is the list of
 * ranges, each further line one X-Forwarded-For header line. A list is either parsed or refused
 * with a message and nothing built; a client key is an address (an IPv6 one by its /64), and
 * only when the walk found one; with no proxy trusted, the walk stops at the first entry it
 * looks at, so it never reports a client further left. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/http_parse.h"
#include "bot/trusted_proxies.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

static void check_key(const char *key)
{
    unsigned char buf[16];
    char text[CONN_PEER_KEY_LEN];
    snprintf(text, sizeof(text), "%s", key);
    char *slash = strchr(text, '/');
    if (slash) {
        CHECK(strcmp(slash, "/64") == 0);
        *slash = '\0';
        CHECK(inet_pton(AF_INET6, text, buf) == 1);
    } else {
        CHECK(inet_pton(AF_INET, text, buf) == 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *lines[HTTP_HEAD_MAX_FIELDS + 1];
    size_t n = 0;
    for (char *p = text; p && n < HTTP_HEAD_MAX_FIELDS + 1;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        p = nl ? nl + 1 : NULL;
    }
    struct trusted_proxies *t = NULL;
    char err[256] = "";
    int rc = trusted_proxies_parse(lines[0], &t, err, sizeof(err));
    if (rc != PL_OK) {
        CHECK(rc == PL_EINVAL && t == NULL && err[0]);
    }
    const char *const *values = (const char *const *)lines + 1;
    char key[CONN_PEER_KEY_LEN], plain[CONN_PEER_KEY_LEN];
    enum forwarded_result r = trusted_proxies_client(t, values, n - 1, key);
    enum forwarded_result untrusted = trusted_proxies_client(NULL, values, n - 1, plain);
    if (r == FORWARDED_CLIENT)
        check_key(key);
    else
        CHECK(key[0] == '\0');
    if (untrusted == FORWARDED_CLIENT)
        check_key(plain);
    /* Both walks start at the same entry: none for one is none for the other, and trusting
     * nobody takes that entry, which trusting some may only pass over. */
    CHECK((r == FORWARDED_NONE) == (untrusted == FORWARDED_NONE));
    if (untrusted == FORWARDED_MALFORMED)
        CHECK(r == FORWARDED_MALFORMED);
    if (t == NULL)
        CHECK(r == untrusted && strcmp(key, plain) == 0);
    trusted_proxies_free(t);
    free(text);
    return 0;
}
