/* libFuzzer target for JWT verification (bot/auth_token.h): every token a stranger sends, in a
 * hello or an Authorization header, goes through it. The input is a token. Verified as it is, it
 * is (almost always) forged, so the target also signs what stands before its second '.' with the
 * secret and verifies that, and reads the input as JSON too ("HEADER\nPAYLOAD", or a payload
 * under the usual header), encodes and signs that: the fuzzer then reaches the header and claim
 * checks, mutating base64url in the first case and JSON in the second. Contract:
 * accepted claims are within their bounds and PL_OK/PL_EEXPIRED agree with exp; `*out` is left
 * alone on refusal; the same token under another secret is refused; claims accepted and minted
 * again verify to the same claims. */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

static const unsigned char secret[] = "fuzz-secret-that-is-32-bytes-long!";
static const unsigned char other[] = "fuzz-secret-that-is-32-bytes-long?";
#define SECRET_LEN (sizeof(secret) - 1)
#define NOW_S      1767225600LL /* 2026-01-01; the corpus's tokens expire around it */

static void check_claims(const struct auth_claims *c, int rc)
{
    CHECK(memchr(c->sub, '\0', sizeof(c->sub)) && memchr(c->sid, '\0', sizeof(c->sid)));
    CHECK(strlen(c->sub) >= 1);
    CHECK(c->role == AUTH_ROLE_CALLER || c->role == AUTH_ROLE_AGENT || c->role == AUTH_ROLE_ADMIN);
    CHECK(rc == PL_OK ? c->exp > NOW_S : c->exp <= NOW_S);
}

static bool same_claims(const struct auth_claims *a, const struct auth_claims *b)
{
    return strcmp(a->sub, b->sub) == 0 && strcmp(a->sid, b->sid) == 0 && a->role == b->role &&
           a->iat == b->iat && a->exp == b->exp;
}

/* Verify `token` and check the contract; returns the status, claims in *out. */
static int verify(const char *token, struct auth_claims *out)
{
    memset(out, 0xA5, sizeof(*out));
    struct auth_claims untouched;
    memset(&untouched, 0xA5, sizeof(untouched));
    int rc = auth_token_verify(secret, SECRET_LEN, token, NOW_S, out);
    CHECK(rc == PL_OK || rc == PL_EAUTH || rc == PL_EEXPIRED);
    CHECK(auth_token_verify(secret, SECRET_LEN, token, NOW_S, NULL) == rc);
    if (rc == PL_EAUTH) {
        CHECK(memcmp(out, &untouched, sizeof(*out)) == 0);
    } else {
        check_claims(out, rc);
        struct auth_claims forged;
        CHECK(auth_token_verify(other, sizeof(other) - 1, token, NOW_S, &forged) == PL_EAUTH);
        CHECK(auth_token_verify(secret, 0, token, NOW_S, &forged) == PL_EAUTH);
    }
    return rc;
}

/* Append "." and the signature of the `b->len` bytes in `b`, then verify the token; what was
 * accepted must mint into a token that verifies to the same claims. */
static void sign_and_verify(struct pl_buf *b)
{
    unsigned char mac[32];
    unsigned int mac_len = sizeof(mac);
    CHECK(HMAC(EVP_sha256(), secret, (int)SECRET_LEN, (const unsigned char *)b->data, b->len, mac,
               &mac_len) != NULL);
    char *sig = pl_base64url_encode(mac, mac_len);
    CHECK(pl_buf_printf(b, ".%s", sig) == PL_OK);
    pl_free(sig);
    struct auth_claims claims;
    int rc = verify(b->data, &claims);
    if (rc != PL_EAUTH) {
        char *again = auth_token_mint(secret, SECRET_LEN, &claims);
        struct auth_claims round;
        CHECK(auth_token_verify(secret, SECRET_LEN, again, NOW_S, &round) == rc);
        CHECK(same_claims(&claims, &round));
        pl_free(again);
    }
}

static void append_base64url(struct pl_buf *b, const void *s, size_t n)
{
    char *enc = pl_base64url_encode(s, n);
    CHECK(pl_buf_append_str(b, enc) == PL_OK);
    pl_free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = pl_malloc(size + 1);
    if (size)
        memcpy(token, data, size);
    token[size] = '\0';
    size_t len = strlen(token); /* what a NUL-terminated token holds */
    struct auth_claims claims;
    verify(token, &claims);

    /* The token re-signed: what stands before the second '.' (all of it if there is none). */
    const char *dot = memchr(token, '.', len);
    dot = dot ? memchr(dot + 1, '.', len - (size_t)(dot + 1 - token)) : NULL;
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    CHECK(pl_buf_append(&b, token, dot ? (size_t)(dot - token) : len) == PL_OK);
    sign_and_verify(&b);

    /* The input as JSON: "HEADER\nPAYLOAD", or a payload under the usual header. */
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
    const uint8_t *payload = nl ? nl + 1 : data;
    pl_buf_reset(&b);
    if (nl)
        append_base64url(&b, data, (size_t)(nl - data));
    else
        append_base64url(&b, header, sizeof(header) - 1);
    CHECK(pl_buf_append(&b, ".", 1) == PL_OK);
    append_base64url(&b, payload, size - (size_t)(payload - data));
    sign_and_verify(&b);

    pl_buf_cleanup(&b);
    pl_free(token);
    return 0;
}
