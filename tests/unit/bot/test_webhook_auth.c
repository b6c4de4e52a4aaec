/* What bot/webhook_auth.h computes without I/O: the session id of an outside conversation (the
 * same for the same id, another for another id, kind or secret; a valid session id), and a
 * phone number as logs show it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bot/webhook_auth.h"
#include "bot/webhook_sig.h"

#define SECRET "webhook-test-secret-0123456789abcdef-xyz"

static void test_session_id(void **state)
{
    (void)state;
    char a[SESS_ID_LEN + 1], b[SESS_ID_LEN + 1], mac[WEBHOOK_SIG_HEX_LEN + 1];
    webhook_session_id(SECRET, "lex", "us-east-1:abc", a);
    assert_true(sess_id_valid(a));
    /* the first 128 bits of HMAC(secret, kind "." id) */
    webhook_sign(SECRET, strlen(SECRET), "lex", "us-east-1:abc", 13, mac);
    assert_memory_equal(a, mac, SESS_ID_LEN);
    webhook_session_id(SECRET, "lex", "us-east-1:abc", b);
    assert_string_equal(a, b);
    webhook_session_id(SECRET, "connect", "us-east-1:abc", b);
    assert_string_not_equal(a, b);
    webhook_session_id(SECRET, "lex", "us-east-1:abd", b);
    assert_string_not_equal(a, b);
    webhook_session_id("another-secret-0123456789abcdef-xyz0", "lex", "us-east-1:abc", b);
    assert_string_not_equal(a, b);
}

static void test_mask_phone(void **state)
{
    (void)state;
    char out[16];
    webhook_mask_phone("+447700900123", out, sizeof(out));
    assert_string_equal(out, "***0123");
    webhook_mask_phone("12345", out, sizeof(out));
    assert_string_equal(out, "***2345");
    webhook_mask_phone("1234", out, sizeof(out));
    assert_string_equal(out, "****");
    webhook_mask_phone("", out, sizeof(out));
    assert_string_equal(out, "****");
    webhook_mask_phone(NULL, out, sizeof(out));
    assert_string_equal(out, "****");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_id),
        cmocka_unit_test(test_mask_phone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
