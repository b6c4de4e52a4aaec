/* Signed webhooks: the v1 signature against values computed with node's crypto (HMAC-SHA256 of
 * timestamp "." body), every way a request is refused, and several signatures in one header
 * while a secret changes over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bot/webhook_sig.h"

#define SECRET "whsec_test_0123456789abcdef"
#define BODY   "{\"sessionId\":\"ab\"}"
#define TS     "1796000000"
#define SIG    "effaa2da8387a2d043971c1a0ae24a635836d6230343616c47c51848999077c1"
#define OLD    "dd83dad6b8a255eba9381dfba8b5dc21e3ad51dab4286a1cecc049b0311debbe"

static enum webhook_verdict verify(const char *ts, const char *sig, const char *body, int64_t now,
                                   char *matched)
{
    return webhook_verify(SECRET, strlen(SECRET), ts, sig, body, strlen(body), now, matched);
}

static void test_sign_matches_node(void **state)
{
    (void)state;
    char out[WEBHOOK_SIG_HEX_LEN + 1];
    webhook_sign(SECRET, strlen(SECRET), TS, BODY, strlen(BODY), out);
    assert_string_equal(out, SIG);
    webhook_sign("", 0, "0", "", 0, out);
    assert_string_equal(out, "b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3");
}

static void test_accepts_a_good_signature(void **state)
{
    (void)state;
    char matched[WEBHOOK_SIG_HEX_LEN + 1] = "x";
    assert_int_equal(verify(TS, "v1=" SIG, BODY, 1796000000, matched), WEBHOOK_OK);
    assert_string_equal(matched, SIG);
    /* Upper-case hex, spaces, another scheme first, the old secret's signature alongside. */
    assert_int_equal(
        verify(TS,
               " v0=abc, v1=" OLD
               " , v1=EFFAA2DA8387A2D043971C1A0AE24A635836D6230343616C47C51848999077C1",
               BODY, 1796000000, matched),
        WEBHOOK_OK);
    assert_string_equal(matched, SIG);
    /* Within the tolerance either way. */
    assert_int_equal(verify(TS, "v1=" SIG, BODY, 1796000000 + 300, NULL), WEBHOOK_OK);
    assert_int_equal(verify(TS, "v1=" SIG, BODY, 1796000000 - 300, NULL), WEBHOOK_OK);
}

static void test_refusals(void **state)
{
    (void)state;
    char matched[WEBHOOK_SIG_HEX_LEN + 1] = "x";
    assert_int_equal(verify(NULL, "v1=" SIG, BODY, 1796000000, matched), WEBHOOK_MISSING);
    assert_string_equal(matched, "");
    assert_int_equal(verify(TS, NULL, BODY, 1796000000, NULL), WEBHOOK_MISSING);
    assert_int_equal(verify("", "v1=" SIG, BODY, 1796000000, NULL), WEBHOOK_MISSING);
    assert_int_equal(verify("1796000000.5", "v1=" SIG, BODY, 1796000000, NULL), WEBHOOK_MALFORMED);
    assert_int_equal(verify("-1", "v1=" SIG, BODY, 1796000000, NULL), WEBHOOK_MALFORMED);
    assert_int_equal(verify("9999999999999", "v1=" SIG, BODY, 1796000000, NULL), WEBHOOK_MALFORMED);
    assert_int_equal(verify(TS, SIG, BODY, 1796000000, NULL), WEBHOOK_MALFORMED);
    assert_int_equal(verify(TS, "v1=" OLD "0", BODY, 1796000000, NULL), WEBHOOK_MALFORMED);
    assert_int_equal(verify(TS, "v1=" SIG, BODY, 1796000000 + 301, NULL), WEBHOOK_STALE);
    assert_int_equal(verify(TS, "v1=" SIG, BODY, 1796000000 - 301, NULL), WEBHOOK_STALE);
    assert_int_equal(verify(TS, "v1=" OLD, BODY, 1796000000, NULL), WEBHOOK_MISMATCH);
    /* One byte of the body changed, or the timestamp: no longer the same signature. */
    assert_int_equal(verify(TS, "v1=" SIG, "{\"sessionId\":\"ac\"}", 1796000000, NULL),
                     WEBHOOK_MISMATCH);
    assert_int_equal(verify("1796000001", "v1=" SIG, BODY, 1796000000, NULL), WEBHOOK_MISMATCH);
    assert_string_equal(webhook_verdict_message(WEBHOOK_STALE),
                        "X-Parley-Timestamp is more than 300 s from the server's clock: check the "
                        "sender's clock");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_matches_node),
        cmocka_unit_test(test_accepts_a_good_signature),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
