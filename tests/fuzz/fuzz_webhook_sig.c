/* libFuzzer target for signed webhooks (bot/webhook_sig.h): the two headers and the body are a
 * stranger's. The input is "TIMESTAMP\nSIGNATURE\nBODY". A verdict of OK means the matched
 * signature is the body's own and was in the header; a header that carries the body's own
 * signature, with a timestamp of decimal seconds at the server's time, is always accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot/webhook_sig.h"
#include "tests/fuzz/fuzz_check.h"

#define SECRET "fuzz-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *ts = text, *sig = NULL, *body = text + size; /* "" */
    char *nl = strchr(ts, '\n');
    if (nl) {
        *nl = '\0';
        sig = nl + 1;
        nl = strchr(sig, '\n');
        if (nl) {
            *nl = '\0';
            body = nl + 1;
        }
    }
    size_t blen = strlen(body);
    char matched[WEBHOOK_SIG_HEX_LEN + 1], own[WEBHOOK_SIG_HEX_LEN + 1];
    int64_t now = 1796000000;
    enum webhook_verdict v =
        webhook_verify(SECRET, strlen(SECRET), ts, sig, body, blen, now, matched);
    webhook_sign(SECRET, strlen(SECRET), ts, body, blen, own);
    CHECK(strlen(own) == WEBHOOK_SIG_HEX_LEN);
    if (v == WEBHOOK_OK) {
        CHECK(strcmp(matched, own) == 0);
        CHECK(strcasestr(sig, matched) != NULL);
    } else {
        CHECK(matched[0] == '\0');
    }
    CHECK(webhook_verdict_message(v)[0]);
    /* The genuine article at the right time always passes. */
    char header[WEBHOOK_SIG_HEX_LEN + 8];
    memcpy(header, "v1=", 3);
    webhook_sign(SECRET, strlen(SECRET), "1796000000", body, blen, header + 3);
    CHECK(webhook_verify(SECRET, strlen(SECRET), "1796000000", header, body, blen, now, NULL) ==
          WEBHOOK_OK);
    free(text);
    return 0;
}
