/* HS256 JWT minting and verification; see auth_token.h. HMAC-SHA256 comes from OpenSSL, the
 * signature comparison is constant-time, and nothing of the payload is trusted (or even parsed)
 * before the signature has been checked. */
#include "bot/auth_token.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"

#define SIG_LEN 32 /* SHA-256 output */

static const char *const role_names[] = {"caller", "agent", "admin"};

const char *auth_role_name(enum auth_role r)
{
    if ((int)r < 0 || (size_t)r >= PL_ARRAY_LEN(role_names))
        return "unknown";
    return role_names[r];
}

bool auth_role_parse(const char *s, enum auth_role *out)
{
    if (!s)
        return false;
    for (size_t i = 0; i < PL_ARRAY_LEN(role_names); i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum auth_role)i;
            return true;
        }
    }
    return false;
}

/* HMAC-SHA256 of `n` bytes at `data` into `mac`. */
static void sign(const unsigned char *secret, size_t secret_len, const char *data, size_t n,
                 unsigned char mac[SIG_LEN])
{
    static const unsigned char empty[1];
    unsigned int mac_len = SIG_LEN;
    if (!HMAC(EVP_sha256(), secret_len ? secret : empty, (int)secret_len,
              (const unsigned char *)data, n, mac, &mac_len) ||
        mac_len != SIG_LEN) {
        /* Only an internal OpenSSL failure gets here; an all-zero MAC never verifies a token
         * signed properly, so fail closed. */
        memset(mac, 0, SIG_LEN);
    }
}

char *auth_token_mint(const unsigned char *secret, size_t secret_len, const struct auth_claims *c)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    json_t *payload = json_object();
    json_object_set_new(payload, "sub", json_string(c->sub));
    json_object_set_new(payload, "role", json_string(auth_role_name(c->role)));
    if (c->sid[0])
        json_object_set_new(payload, "sid", json_string(c->sid));
    json_object_set_new(payload, "iat", json_integer((json_int_t)c->iat));
    json_object_set_new(payload, "exp", json_integer((json_int_t)c->exp));
    if (c->nbf)
        json_object_set_new(payload, "nbf", json_integer((json_int_t)c->nbf));
    if (c->policy[0])
        json_object_set_new(payload, "policy", json_string(c->policy));
    char *body = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);

    char *h64 = pl_base64url_encode(header, sizeof(header) - 1);
    char *p64 = pl_base64url_encode(body ? body : "{}", body ? strlen(body) : 2);
    free(body); /* from jansson's allocator */

    struct pl_buf b;
    pl_buf_init(&b, (size_t)-1);
    pl_buf_printf(&b, "%s.%s", h64, p64);
    unsigned char mac[SIG_LEN];
    sign(secret, secret_len, b.data, b.len, mac);
    char *s64 = pl_base64url_encode(mac, sizeof(mac));
    pl_buf_printf(&b, ".%s", s64);
    pl_free(h64);
    pl_free(p64);
    pl_free(s64);
    return pl_buf_take(&b);
}

/* Decode a base64url segment holding a JSON object; NULL if it is anything else. */
static json_t *decode_object(const char *seg, size_t len)
{
    unsigned char *raw;
    size_t raw_len;
    if (pl_base64url_decode(seg, len, &raw, &raw_len) != PL_OK)
        return NULL;
    json_t *j = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    pl_free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool header_ok(const char *seg, size_t len)
{
    json_t *h = decode_object(seg, len);
    if (!h)
        return false;
    json_t *alg = json_object_get(h, "alg");
    bool ok = json_is_string(alg) && strcmp(json_string_value(alg), "HS256") == 0 &&
              json_string_length(alg) == 5 && !json_object_get(h, "crit");
    json_decref(h);
    return ok;
}

/* Copy string claim `key` into dst[cap]; absent is fine only when !required. */
static bool string_claim(json_t *obj, const char *key, bool required, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v)
        return !required;
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    if (n >= cap || (required && n == 0))
        return false;
    memcpy(dst, json_string_value(v), n + 1);
    return true;
}

static bool int_claim(json_t *obj, const char *key, bool required, long long *dst)
{
    json_t *v = json_object_get(obj, key);
    *dst = 0;
    if (!v)
        return !required;
    if (!json_is_integer(v))
        return false;
    *dst = (long long)json_integer_value(v);
    return true;
}

/* What a refusal says (the error's message); see auth_token_check. */
static const char why_malformed[] =
    "the token is malformed (a JWT is header.payload.signature in base64url)";
static const char why_too_long[] = "the token is longer than 4096 bytes";
static const char why_not_hs256[] = "the token is not signed with HS256";
static const char why_forged[] =
    "the token's signature does not match (forged, or signed with another secret)";
static const char why_claims[] = "the token's claims are malformed (sub, role and exp are "
                                 "required; iat, nbf and exp are integers)";
static const char why_not_yet[] = "the token is not valid yet (its nbf is in the future); check "
                                  "the clock of the system that made it";
static const char why_issued_later[] = "the token was issued in the future (its iat is ahead of "
                                       "this server's clock); check the clock of the system that "
                                       "made it";
static const char why_lives_too_long[] = "the token lives too long (its exp is further ahead than "
                                         "this server's --max-token-ttl allows); mint one with a "
                                         "shorter lifetime";

int auth_token_check(const unsigned char *secret, size_t secret_len, const char *token,
                     const struct auth_verify_opts *o, struct auth_claims *out, const char **why)
{
    int rc = PL_EAUTH;
    const char *reason = why_malformed;
    json_t *payload = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (!token || secret_len == 0) {
        reason = token ? NULL : reason;
        goto out;
    }
    size_t len = strnlen(token, AUTH_TOKEN_MAX_LEN + 1);
    if (len > AUTH_TOKEN_MAX_LEN) {
        reason = why_too_long;
        goto out;
    }
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        goto out;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        goto out;
    size_t signed_len = (size_t)(dot2 - token);
    if (dot1 == token || dot2 == dot1 + 1)
        goto out;
    if (!header_ok(token, (size_t)(dot1 - token))) {
        reason = why_not_hs256;
        goto out;
    }
    if (pl_base64url_decode(dot2 + 1, len - signed_len - 1, &sig, &sig_len) != PL_OK ||
        sig_len != SIG_LEN)
        goto out;
    unsigned char mac[SIG_LEN];
    sign(secret, secret_len, token, signed_len, mac);
    if (CRYPTO_memcmp(mac, sig, SIG_LEN) != 0) {
        reason = why_forged;
        goto out;
    }

    reason = why_claims;
    payload = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload)
        goto out;
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    json_t *role = json_object_get(payload, "role");
    if (!string_claim(payload, "sub", true, c.sub, sizeof(c.sub)) ||
        !string_claim(payload, "sid", false, c.sid, sizeof(c.sid)) ||
        !string_claim(payload, "policy", false, c.policy, sizeof(c.policy)) ||
        !int_claim(payload, "iat", false, &c.iat) || !int_claim(payload, "exp", true, &c.exp) ||
        !int_claim(payload, "nbf", false, &c.nbf) || !json_is_string(role) ||
        !auth_role_parse(json_string_value(role), &c.role))
        goto out;
    /* The tenant claim is optional: a token without it (or with another type) counts to sub. */
    if (!o->tenant_claim || !*o->tenant_claim ||
        !string_claim(payload, o->tenant_claim, true, c.tenant, sizeof(c.tenant)))
        snprintf(c.tenant, sizeof(c.tenant), "%s", c.sub);
    const long long now = o->now_s;
    reason = NULL;
    if (c.exp <= now) {
        rc = PL_EEXPIRED;
    } else if (json_object_get(payload, "nbf") && c.nbf > now + AUTH_CLOCK_LEEWAY_S) {
        reason = why_not_yet;
    } else if (json_object_get(payload, "iat") && c.iat > now + AUTH_CLOCK_LEEWAY_S) {
        reason = why_issued_later;
    } else if (o->max_ttl_s > 0 && c.exp - now > o->max_ttl_s + AUTH_CLOCK_LEEWAY_S) {
        reason = why_lives_too_long;
    } else {
        rc = PL_OK;
    }
    if (out && (rc == PL_OK || rc == PL_EEXPIRED))
        *out = c;
out:
    if (why)
        *why = rc == PL_EAUTH ? reason : NULL;
    json_decref(payload);
    pl_free(sig);
    return rc;
}

int auth_token_verify(const unsigned char *secret, size_t secret_len, const char *token,
                      long long now_s, struct auth_claims *out)
{
    const struct auth_verify_opts o = {.now_s = now_s};
    return auth_token_check(secret, secret_len, token, &o, out, NULL);
}
