/* Unit tests for bot/auth_token: mint/verify round trip, a vector computed outside this code
 * (openssl dgst -sha256 -hmac), expiry, forgery, "alg":"none" and other headers, malformed
 * tokens and missing or oversized claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "bot/auth_token.h"
#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"

#define SECRET     ((const unsigned char *)"test-secret")
#define SECRET_LEN 11
#define NOW        1700000000LL

/* Computed in a shell, independently of this code:
 *   H=base64url('{"alg":"HS256","typ":"JWT"}')
 *   P=base64url('{"sub":"alice","role":"agent","sid":"s-123","iat":1700000000,"exp":1700003600}')
 *   S=$(printf '%s' "$H.$P" | openssl dgst -sha256 -hmac test-secret -binary | base64url) */
static const char known_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZ2VudCIsInNpZCI6InMtMTIzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3"
    "MDAwMDM2MDB9."
    "pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c";

/* A token with the given raw header and payload JSON, signed with `secret`. */
static char *craft(const char *header, const char *payload, const char *secret)
{
    char *h = pl_base64url_encode(header, strlen(header));
    char *p = pl_base64url_encode(payload, strlen(payload));
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(pl_buf_printf(&b, "%s.%s", h, p), PL_OK);
    unsigned char mac[32];
    unsigned int mac_len = sizeof(mac);
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)b.data, b.len,
                         mac, &mac_len));
    char *s = pl_base64url_encode(mac, mac_len);
    assert_int_equal(pl_buf_printf(&b, ".%s", s), PL_OK);
    pl_free(h);
    pl_free(p);
    pl_free(s);
    return pl_buf_take(&b);
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static int verify_crafted(const char *header, const char *payload)
{
    char *t = craft(header, payload, "test-secret");
    struct auth_claims c;
    int rc = auth_token_verify(SECRET, SECRET_LEN, t, NOW, &c);
    pl_free(t);
    return rc;
}

static void test_roles(void **state)
{
    (void)state;
    assert_string_equal(auth_role_name(AUTH_ROLE_CALLER), "caller");
    assert_string_equal(auth_role_name(AUTH_ROLE_AGENT), "agent");
    assert_string_equal(auth_role_name(AUTH_ROLE_ADMIN), "admin");
    assert_string_equal(auth_role_name((enum auth_role)7), "unknown");
    enum auth_role r = AUTH_ROLE_CALLER;
    assert_true(auth_role_parse("admin", &r));
    assert_int_equal(r, AUTH_ROLE_ADMIN);
    assert_true(auth_role_parse("agent", &r));
    assert_int_equal(r, AUTH_ROLE_AGENT);
    assert_true(auth_role_parse("caller", &r));
    assert_int_equal(r, AUTH_ROLE_CALLER);
    r = AUTH_ROLE_AGENT;
    assert_false(auth_role_parse("Admin", &r));
    assert_false(auth_role_parse("", &r));
    assert_false(auth_role_parse("admins", &r));
    assert_false(auth_role_parse(NULL, &r));
    assert_int_equal(r, AUTH_ROLE_AGENT);
    assert_true(AUTH_ROLE_ADMIN > AUTH_ROLE_AGENT && AUTH_ROLE_AGENT > AUTH_ROLE_CALLER);
}

static void test_known_vector(void **state)
{
    (void)state;
    struct auth_claims c;
    memset(&c, 0x55, sizeof(c));
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, known_token, NOW, &c), PL_OK);
    assert_string_equal(c.sub, "alice");
    assert_int_equal(c.role, AUTH_ROLE_AGENT);
    assert_string_equal(c.sid, "s-123");
    assert_int_equal(c.iat, 1700000000LL);
    assert_int_equal(c.exp, 1700003600LL);

    /* Minting the same claims gives the same bytes. */
    struct auth_claims m;
    memset(&m, 0, sizeof(m));
    memcpy(m.sub, "alice", 6);
    m.role = AUTH_ROLE_AGENT;
    memcpy(m.sid, "s-123", 6);
    m.iat = 1700000000LL;
    m.exp = 1700003600LL;
    char *t = auth_token_mint(SECRET, SECRET_LEN, &m);
    assert_string_equal(t, known_token);
    pl_free(t);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct auth_claims in;
    memset(&in, 0, sizeof(in));
    memset(in.sub, 'u', 128); /* longest sub */
    in.role = AUTH_ROLE_CALLER;
    memset(in.sid, 'S', 64); /* longest sid */
    in.iat = NOW;
    in.exp = NOW + 3600;
    memcpy(in.tenant, in.sub, sizeof(in.tenant)); /* no tenant claim: the sub */
    char *t = auth_token_mint(SECRET, SECRET_LEN, &in);
    struct auth_claims out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &out), PL_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    /* out may be NULL */
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, NULL), PL_OK);
    pl_free(t);

    /* No sid: the claim is left out of the payload and comes back empty. */
    memset(&in, 0, sizeof(in));
    memcpy(in.sub, "root", 5);
    in.role = AUTH_ROLE_ADMIN;
    in.iat = 5;
    in.exp = NOW + 1;
    t = auth_token_mint(SECRET, SECRET_LEN, &in);
    const char *dot = strchr(t, '.');
    unsigned char *payload;
    size_t plen;
    assert_int_equal(
        pl_base64url_decode(dot + 1, (size_t)(strchr(dot + 1, '.') - dot - 1), &payload, &plen),
        PL_OK);
    assert_string_equal((char *)payload,
                        "{\"sub\":\"root\",\"role\":\"admin\",\"iat\":5,\"exp\":1700000001}");
    pl_free(payload);
    memset(&out, 0x55, sizeof(out));
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &out), PL_OK);
    assert_string_equal(out.sid, "");
    assert_int_equal(out.role, AUTH_ROLE_ADMIN);
    assert_int_equal(out.iat, 5);
    pl_free(t);
}

static void test_expiry(void **state)
{
    (void)state;
    struct auth_claims c;
    /* known_token expires at 1700003600. */
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, known_token, 1700003599LL, &c), PL_OK);
    memset(&c, 0, sizeof(c));
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, known_token, 1700003600LL, &c),
                     PL_EEXPIRED);
    assert_string_equal(c.sub, "alice"); /* claims are filled for the log */
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, known_token, 1800000000LL, &c),
                     PL_EEXPIRED);
    /* Expiry is only reported for a good signature. */
    assert_int_equal(
        auth_token_verify((const unsigned char *)"other", 5, known_token, 1800000000LL, &c),
        PL_EAUTH);
}

static void test_wrong_secret(void **state)
{
    (void)state;
    struct auth_claims c;
    assert_int_equal(
        auth_token_verify((const unsigned char *)"test-secreT", SECRET_LEN, known_token, NOW, &c),
        PL_EAUTH);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN - 1, known_token, NOW, &c), PL_EAUTH);
    assert_int_equal(auth_token_verify(SECRET, 0, known_token, NOW, &c), PL_EAUTH);
}

static void test_tampered(void **state)
{
    (void)state;
    struct auth_claims c;
    char t[sizeof(known_token)];

    /* Payload: "agent" -> "admin" would be a privilege escalation; flip one character. */
    memcpy(t, known_token, sizeof(t));
    char *p = strchr(t, '.') + 1;
    p[10] = p[10] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &c), PL_EAUTH);

    /* Payload replaced by a well-formed admin one, old signature kept. */
    char *forged = craft(hs256,
                         "{\"sub\":\"alice\",\"role\":\"admin\",\"sid\":\"s-123\",\"iat\":"
                         "1700000000,\"exp\":1700003600}",
                         "test-secret");
    const char *old_sig = strrchr(known_token, '.');
    char *new_sig = strrchr(forged, '.');
    assert_int_equal(strlen(old_sig), strlen(new_sig));
    memcpy(new_sig, old_sig, strlen(old_sig));
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, forged, NOW, &c), PL_EAUTH);
    pl_free(forged);

    /* Signature: change its first character. */
    memcpy(t, known_token, sizeof(t));
    char *s = strrchr(t, '.') + 1;
    s[0] = s[0] == 'p' ? 'q' : 'p';
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &c), PL_EAUTH);

    /* Signature: truncated, and with one extra character. */
    memcpy(t, known_token, sizeof(t));
    t[sizeof(t) - 2] = '\0';
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &c), PL_EAUTH);
    char longer[sizeof(known_token) + 1];
    memcpy(longer, known_token, sizeof(known_token) - 1);
    memcpy(longer + sizeof(known_token) - 1, "A", 2);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, longer, NOW, &c), PL_EAUTH);
}

static void test_alg(void **state)
{
    (void)state;
    static const char good[] =
        "{\"sub\":\"a\",\"role\":\"caller\",\"sid\":\"x\",\"exp\":1800000000}";
    assert_int_equal(verify_crafted(hs256, good), PL_OK);
    assert_int_equal(verify_crafted("{\"alg\":\"HS256\"}", good), PL_OK);
    assert_int_equal(verify_crafted("{\"alg\":\"none\",\"typ\":\"JWT\"}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":\"hs256\"}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":\"RS256\"}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"typ\":\"JWT\"}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":256}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", good), PL_EAUTH);
    assert_int_equal(verify_crafted("[\"HS256\"]", good), PL_EAUTH);
    assert_int_equal(verify_crafted("{\"alg\":\"HS256\",\"alg\":\"none\"}", good), PL_EAUTH);

    /* Unsigned "none" token, the classic attack: header.payload. with an empty signature. */
    char *h = pl_base64url_encode("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26);
    char *p = pl_base64url_encode(good, strlen(good));
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    pl_buf_printf(&b, "%s.%s.", h, p);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, b.data, NOW, NULL), PL_EAUTH);
    pl_buf_reset(&b);
    pl_free(h);
    /* HS256 header, no signature. */
    h = pl_base64url_encode(hs256, strlen(hs256));
    pl_buf_printf(&b, "%s.%s.", h, p);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, b.data, NOW, NULL), PL_EAUTH);
    pl_buf_cleanup(&b);
    pl_free(h);
    pl_free(p);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "...",
        "abc",
        "a.b",
        "a.b.c",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c",
        ".eyJzdWIiOiJhbGljZSJ9.pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c.x",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=.e30.pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c",
        "e30.e30.pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c",
        "bm90IGpzb24.e30.pPWOlUgRjiXOaR0F-W0u04TrrxwKKqEThAt5gB3yJ6c",
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++)
        assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, bad[i], NOW, NULL), PL_EAUTH);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, NULL, NOW, NULL), PL_EAUTH);

    /* Known token with padding added to the signature. */
    char padded[sizeof(known_token) + 1];
    memcpy(padded, known_token, sizeof(known_token) - 1);
    memcpy(padded + sizeof(known_token) - 1, "=", 2);
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, padded, NOW, NULL), PL_EAUTH);

    /* Correctly signed but the payload is not a JSON object. */
    assert_int_equal(verify_crafted(hs256, "[1,2]"), PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "not json"), PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, ""), PL_EAUTH);
}

static void test_length_limit(void **state)
{
    (void)state;
    /* A correctly signed token just over 4096 bytes is refused; one just under is accepted. */
    char big[3200];
    struct pl_buf b;
    int n_ok = 0, n_refused = 0;
    for (size_t pad = 2900; pad < 3100; pad++) {
        memset(big, 'x', pad);
        big[pad] = '\0';
        pl_buf_init(&b, 8192);
        pl_buf_printf(&b, "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":1800000000,\"pad\":\"%s\"}",
                      big);
        char *t = craft(hs256, b.data, "test-secret");
        size_t len = strlen(t);
        int want = len <= AUTH_TOKEN_MAX_LEN ? PL_OK : PL_EAUTH;
        assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, NULL), want);
        if (want == PL_OK)
            n_ok++;
        else
            n_refused++;
        pl_free(t);
        pl_buf_cleanup(&b);
    }
    assert_true(n_ok > 0 && n_refused > 0);
}

static void test_claims(void **state)
{
    (void)state;
    /* Missing claims. */
    assert_int_equal(verify_crafted(hs256, "{\"role\":\"agent\",\"exp\":1800000000}"), PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"exp\":1800000000}"), PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"agent\"}"), PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{}"), PL_EAUTH);
    /* Wrong types and values. */
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"\",\"role\":\"agent\",\"exp\":1800000000}"),
                     PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":7,\"role\":\"agent\",\"exp\":1800000000}"),
                     PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"root\",\"exp\":1800000000}"),
                     PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"role\":2,\"exp\":1800000000}"),
                     PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":\"soon\"}"),
                     PL_EAUTH);
    assert_int_equal(verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":1.8e9}"),
                     PL_EAUTH);
    assert_int_equal(
        verify_crafted(hs256,
                       "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":1800000000,\"iat\":\"x\"}"),
        PL_EAUTH);
    assert_int_equal(
        verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":1800000000,\"sid\":5}"),
        PL_EAUTH);
    assert_int_equal(
        verify_crafted(hs256, "{\"sub\":\"a\\u0000b\",\"role\":\"agent\",\"exp\":1800000000}"),
        PL_EAUTH);
    /* Unknown extra claims are fine. */
    assert_int_equal(
        verify_crafted(hs256, "{\"sub\":\"a\",\"role\":\"agent\",\"exp\":1800000000,\"x\":[1]}"),
        PL_OK);

    /* Oversized sub (129 bytes) and sid (65 bytes); the limits themselves pass. */
    char sub[130], sid[66], payload[512];
    memset(sub, 's', 129);
    sub[129] = '\0';
    memset(sid, 'i', 65);
    sid[65] = '\0';
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"%s\",\"role\":\"caller\",\"sid\":\"x\",\"exp\":1800000000}", sub);
    assert_int_equal(verify_crafted(hs256, payload), PL_EAUTH);
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"%.128s\",\"role\":\"caller\",\"sid\":\"x\",\"exp\":1800000000}", sub);
    assert_int_equal(verify_crafted(hs256, payload), PL_OK);
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"a\",\"role\":\"caller\",\"sid\":\"%s\",\"exp\":1800000000}", sid);
    assert_int_equal(verify_crafted(hs256, payload), PL_EAUTH);
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"a\",\"role\":\"caller\",\"sid\":\"%.64s\",\"exp\":1800000000}", sid);
    assert_int_equal(verify_crafted(hs256, payload), PL_OK);
}

/* auth_token_check of a token with `payload` at NOW with lifetime limit `max_ttl`: its result,
 * and its `why` in *why. */
static int check_crafted(const char *payload, long long max_ttl, const char **why)
{
    char *t = craft(hs256, payload, "test-secret");
    const struct auth_verify_opts o = {.now_s = NOW, .max_ttl_s = max_ttl};
    struct auth_claims c;
    *why = "unset";
    int rc = auth_token_check(SECRET, SECRET_LEN, t, &o, &c, why);
    pl_free(t);
    return rc;
}

#define CLAIMS(extra) "{\"sub\":\"a\",\"role\":\"agent\"," extra "}"

/* nbf and iat are checked with AUTH_CLOCK_LEEWAY_S (60 s) of skew; exp with none. */
static void test_clock_claims(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700003600,\"nbf\":1700000060"), 0, &why),
                     PL_OK);
    assert_null(why);
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700003600,\"nbf\":1700000061"), 0, &why),
                     PL_EAUTH);
    assert_string_equal(why, "the token is not valid yet (its nbf is in the future); check the "
                             "clock of the system that made it");
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700003600,\"iat\":1700000060"), 0, &why),
                     PL_OK);
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700003600,\"iat\":1700000061"), 0, &why),
                     PL_EAUTH);
    assert_string_equal(why, "the token was issued in the future (its iat is ahead of this "
                             "server's clock); check the clock of the system that made it");
    /* A past nbf and iat are what tokens normally carry. */
    assert_int_equal(
        check_crafted(CLAIMS("\"exp\":1700003600,\"iat\":1699990000,\"nbf\":1699990000"), 0, &why),
        PL_OK);
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700003600,\"nbf\":\"soon\""), 0, &why),
                     PL_EAUTH);
    assert_string_equal(why, "the token's claims are malformed (sub, role and exp are required; "
                             "iat, nbf and exp are integers)");
    /* Expired is reported as such, whatever else is wrong; no `why`. */
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700000000,\"nbf\":1800000000"), 0, &why),
                     PL_EEXPIRED);
    assert_null(why);
}

static void test_maximum_lifetime(void **state)
{
    (void)state;
    const char *why;
    /* --max-token-ttl 86400: exp up to a day (and the leeway) ahead passes. */
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700086460"), 86400, &why), PL_OK);
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1700086461"), 86400, &why), PL_EAUTH);
    assert_string_equal(why, "the token lives too long (its exp is further ahead than this "
                             "server's --max-token-ttl allows); mint one with a shorter lifetime");
    /* A year-long token, as `parley token --ttl 31536000` would mint. */
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1731536000"), 86400, &why), PL_EAUTH);
    /* 0: no limit (auth_token_verify). */
    assert_int_equal(check_crafted(CLAIMS("\"exp\":1731536000"), 0, &why), PL_OK);
}

/* Each refusal says what is wrong. */
static void test_refusals_say_why(void **state)
{
    (void)state;
    const struct auth_verify_opts o = {.now_s = NOW};
    const char *why;
    assert_int_equal(auth_token_check(SECRET, SECRET_LEN, "abc", &o, NULL, &why), PL_EAUTH);
    assert_string_equal(why,
                        "the token is malformed (a JWT is header.payload.signature in base64url)");
    assert_int_equal(
        auth_token_check((const unsigned char *)"other", 5, known_token, &o, NULL, &why), PL_EAUTH);
    assert_string_equal(
        why, "the token's signature does not match (forged, or signed with another secret)");
    char *none = craft("{\"alg\":\"none\"}", CLAIMS("\"exp\":1800000000"), "test-secret");
    assert_int_equal(auth_token_check(SECRET, SECRET_LEN, none, &o, NULL, &why), PL_EAUTH);
    assert_string_equal(why, "the token is not signed with HS256");
    pl_free(none);
    char big[AUTH_TOKEN_MAX_LEN + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(auth_token_check(SECRET, SECRET_LEN, big, &o, NULL, &why), PL_EAUTH);
    assert_string_equal(why, "the token is longer than 4096 bytes");
    assert_int_equal(auth_token_check(SECRET, SECRET_LEN, known_token, &o, NULL, &why), PL_OK);
    assert_null(why);
}

/* nbf is minted only when set, and read back. */
/* --tenant-claim: the named claim when it is a string of 1..128 bytes, else sub. */
static void test_tenant_claim(void **state)
{
    (void)state;
    static const struct {
        const char *payload, *want;
    } cases[] = {
        {"{\"sub\":\"ops\",\"role\":\"admin\",\"exp\":1700000600,\"org\":\"acme\"}", "acme"},
        {"{\"sub\":\"ops\",\"role\":\"admin\",\"exp\":1700000600}", "ops"},
        {"{\"sub\":\"ops\",\"role\":\"admin\",\"exp\":1700000600,\"org\":7}", "ops"},
        {"{\"sub\":\"ops\",\"role\":\"admin\",\"exp\":1700000600,\"org\":\"\"}", "ops"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = craft(hs256, cases[i].payload, "test-secret");
        struct auth_claims c;
        const struct auth_verify_opts o = {.now_s = NOW, .tenant_claim = "org"};
        assert_int_equal(auth_token_check(SECRET, SECRET_LEN, t, &o, &c, NULL), PL_OK);
        assert_string_equal(c.tenant, cases[i].want);
        const struct auth_verify_opts plain = {.now_s = NOW};
        assert_int_equal(auth_token_check(SECRET, SECRET_LEN, t, &plain, &c, NULL), PL_OK);
        assert_string_equal(c.tenant, "ops");
        pl_free(t);
    }
}

static void test_nbf_round_trip(void **state)
{
    (void)state;
    struct auth_claims in;
    memset(&in, 0, sizeof(in));
    memcpy(in.sub, "x", 2);
    in.role = AUTH_ROLE_AGENT;
    in.iat = NOW;
    in.nbf = NOW + 30;
    in.exp = NOW + 600;
    memcpy(in.tenant, "x", 2);
    char *t = auth_token_mint(SECRET, SECRET_LEN, &in);
    struct auth_claims out;
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &out), PL_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    pl_free(t);
}

/* The policy claim (docs/security.md "Policy records"): minted when set, read back, and a
 * claim longer than a policy number or of another type refuses the token. */
static void test_policy_claim(void **state)
{
    (void)state;
    struct auth_claims in;
    memset(&in, 0, sizeof(in));
    memcpy(in.sub, "ada", 4);
    in.role = AUTH_ROLE_CALLER;
    memcpy(in.sid, "s-1", 4);
    memcpy(in.policy, "POL-100001", 11);
    in.iat = NOW;
    in.exp = NOW + 600;
    memcpy(in.tenant, "ada", 4);
    char *t = auth_token_mint(SECRET, SECRET_LEN, &in);
    const char *payload = strchr(t, '.') + 1;
    char *want = pl_base64url_encode("{\"sub\":\"ada\",\"role\":\"caller\",\"sid\":\"s-1\","
                                     "\"iat\":1700000000,\"exp\":1700000600,"
                                     "\"policy\":\"POL-100001\"}",
                                     97);
    assert_memory_equal(payload, want, strlen(want));
    pl_free(want);
    struct auth_claims out;
    assert_int_equal(auth_token_verify(SECRET, SECRET_LEN, t, NOW, &out), PL_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    pl_free(t);

    char long_claim[160];
    snprintf(long_claim, sizeof(long_claim),
             "{\"sub\":\"a\",\"role\":\"caller\",\"exp\":1700000600,\"policy\":\"%065d\"}", 0);
    assert_int_equal(verify_crafted(hs256, long_claim), PL_EAUTH);
    assert_int_equal(
        verify_crafted(hs256,
                       "{\"sub\":\"a\",\"role\":\"caller\",\"exp\":1700000600,\"policy\":7}"),
        PL_EAUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_alg),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_clock_claims),
        cmocka_unit_test(test_maximum_lifetime),
        cmocka_unit_test(test_refusals_say_why),
        cmocka_unit_test(test_nbf_round_trip),
        cmocka_unit_test(test_tenant_claim),
        cmocka_unit_test(test_policy_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
