/* Signed webhooks; see webhook_sig.h. */
#include "bot/webhook_sig.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Longest timestamp taken: seconds until the year 2286 have 10 digits. */
#define TIMESTAMP_DIGITS_MAX 12

static void to_hex(const unsigned char *mac, char out[WEBHOOK_SIG_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[WEBHOOK_SIG_HEX_LEN] = '\0';
}

void webhook_sign(const char *secret, size_t secret_len, const char *timestamp, const char *body,
                  size_t len, char out[WEBHOOK_SIG_HEX_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    static const char empty[1] = "";
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    memset(out, 0, WEBHOOK_SIG_HEX_LEN + 1); /* on failure: matches nothing (not 64 hex) */
    if (ctx &&
        EVP_MAC_init(ctx, (const unsigned char *)(secret_len ? secret : empty), secret_len,
                     params) &&
        EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) &&
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
        EVP_MAC_update(ctx, (const unsigned char *)(len ? body : empty), len) &&
        EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) && mac_len == 32)
        to_hex(mac, out);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
}

static bool parse_timestamp(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > TIMESTAMP_DIGITS_MAX)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_hex64(const char *s, size_t n)
{
    if (n != WEBHOOK_SIG_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
}

enum webhook_verdict webhook_verify(const char *secret, size_t secret_len, const char *timestamp,
                                    const char *signature, const char *body, size_t len,
                                    int64_t now_s, char matched[WEBHOOK_SIG_HEX_LEN + 1])
{
    if (matched)
        matched[0] = '\0';
    if (!timestamp || !*timestamp || !signature || !*signature)
        return WEBHOOK_MISSING;
    int64_t ts;
    if (!parse_timestamp(timestamp, &ts))
        return WEBHOOK_MALFORMED;
    /* Candidates: every "v1=<64 hex>" of the comma list; other schemes are passed over. */
    char candidates[WEBHOOK_SIGS_MAX][WEBHOOK_SIG_HEX_LEN + 1];
    size_t n = 0;
    for (const char *p = signature; *p && n < WEBHOOK_SIGS_MAX;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e - p > 3 && strncmp(p, "v1=", 3) == 0 && is_hex64(p + 3, (size_t)(e - p - 3))) {
            for (int i = 0; i < WEBHOOK_SIG_HEX_LEN; i++)
                candidates[n][i] = lower(p[3 + i]);
            candidates[n][WEBHOOK_SIG_HEX_LEN] = '\0';
            n++;
        }
        p = end;
    }
    if (n == 0)
        return WEBHOOK_MALFORMED;
    int64_t skew = now_s > ts ? now_s - ts : ts - now_s;
    if (skew > WEBHOOK_TOLERANCE_S)
        return WEBHOOK_STALE;
    char want[WEBHOOK_SIG_HEX_LEN + 1];
    webhook_sign(secret, secret_len, timestamp, body, len, want);
    for (size_t i = 0; i < n; i++) {
        if (CRYPTO_memcmp(want, candidates[i], WEBHOOK_SIG_HEX_LEN) == 0) {
            if (matched)
                memcpy(matched, want, sizeof(want));
            return WEBHOOK_OK;
        }
    }
    return WEBHOOK_MISMATCH;
}

const char *webhook_verdict_message(enum webhook_verdict v)
{
    switch (v) {
    case WEBHOOK_OK:
        return "signed";
    case WEBHOOK_MISSING:
        return "X-Parley-Timestamp and X-Parley-Signature are required: sign the request with "
               "the webhook secret";
    case WEBHOOK_MALFORMED:
        return "X-Parley-Timestamp must be unix seconds and X-Parley-Signature v1=<64 hex "
               "digits>";
    case WEBHOOK_STALE:
        return "X-Parley-Timestamp is more than 300 s from the server's clock: check the "
               "sender's clock";
    case WEBHOOK_MISMATCH:
        return "X-Parley-Signature does not match: sign timestamp + \".\" + the raw body with "
               "the webhook secret";
    }
    return "unsigned";
}
