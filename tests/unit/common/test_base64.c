/* Unit tests for common/base64: base64url without padding, RFC 4648 test vectors, and the strict
 * decoder's rejections (padding, foreign alphabet, impossible lengths, non-canonical tails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/err.h"

static void check_encode(const char *in, size_t len, const char *want)
{
    char *got = pl_base64url_encode(in, len);
    assert_string_equal(got, want);
    pl_free(got);
}

static void check_decode(const char *in, const char *want, size_t want_len)
{
    unsigned char *out = NULL;
    size_t outlen = 99;
    assert_int_equal(pl_base64url_decode(in, strlen(in), &out, &outlen), PL_OK);
    assert_non_null(out);
    assert_int_equal(outlen, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[want_len], 0); /* NUL-terminated for convenience */
    pl_free(out);
}

static void check_reject(const char *in)
{
    unsigned char *out = (unsigned char *)"x";
    size_t outlen = 99;
    assert_int_equal(pl_base64url_decode(in, strlen(in), &out, &outlen), PL_EINVAL);
    assert_null(out);
    assert_int_equal(outlen, 0);
}

/* RFC 4648 section 10 vectors with the padding taken off. */
static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < PL_ARRAY_LEN(plain); i++) {
        check_encode(plain[i], strlen(plain[i]), coded[i]);
        check_decode(coded[i], plain[i], strlen(plain[i]));
    }
    check_encode(NULL, 0, "");
}

static void test_url_alphabet(void **state)
{
    (void)state;
    /* 0xfb 0xff 0xbf is "+/+/" in standard base64 and "-_-_" in base64url. */
    check_encode("\xfb\xff\xbf", 3, "-_-_");
    check_decode("-_-_", "\xfb\xff\xbf", 3);
    check_encode("\xff", 1, "_w");
    check_decode("_w", "\xff", 1);
    check_encode("\0\0\0", 3, "AAAA");
    check_decode("AAAA", "\0\0\0", 3);
}

static void test_round_trip_all_bytes(void **state)
{
    (void)state;
    unsigned char data[256];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)i;
    for (size_t len = 0; len <= sizeof(data); len++) {
        char *enc = pl_base64url_encode(data, len);
        assert_int_equal(strlen(enc), len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0));
        assert_null(strpbrk(enc, "+/="));
        unsigned char *dec;
        size_t dec_len;
        assert_int_equal(pl_base64url_decode(enc, strlen(enc), &dec, &dec_len), PL_OK);
        assert_int_equal(dec_len, len);
        if (len)
            assert_memory_equal(dec, data, len);
        pl_free(dec);
        pl_free(enc);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    check_reject("Zg==");  /* padding */
    check_reject("Zm8=");  /* padding */
    check_reject("Z");     /* len % 4 == 1 */
    check_reject("Zm9vY"); /* len % 4 == 1 */
    check_reject("+/+/");  /* standard alphabet */
    check_reject("Zm9v Yg");
    check_reject("Zm9v\nYg");
    check_reject("Zm\x80v");
    check_reject("Zh");  /* "f" is Zg: the unused low bits of 'h' are not zero */
    check_reject("Zm9"); /* "fo" is Zm8 */
    /* An embedded NUL within the given length is not base64url. */
    unsigned char *out;
    size_t outlen;
    assert_int_equal(pl_base64url_decode("Zm\0v", 4, &out, &outlen), PL_EINVAL);
    /* Only `len` characters are read. */
    assert_int_equal(pl_base64url_decode("Zm9v!!!!", 4, &out, &outlen), PL_OK);
    assert_int_equal(outlen, 3);
    assert_memory_equal(out, "foo", 3);
    pl_free(out);
}

/* Standard padded base64, as Bedrock sends a chunk's bytes. */
static void test_standard_padded(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } ok[] = {{"", ""},
              {"Zg==", "f"},
              {"Zm8=", "fo"},
              {"Zm9v", "foo"},
              {"Zm9vYg==", "foob"},
              {"Zm9vYmE=", "fooba"},
              {"Zm9vYmFy", "foobar"},
              {"+/+/", "\xfb\xff\xbf"}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        unsigned char *out = NULL;
        size_t n = 99;
        assert_int_equal(pl_base64_decode(ok[i].in, strlen(ok[i].in), &out, &n), PL_OK);
        assert_int_equal(n, strlen(ok[i].want));
        assert_memory_equal(out, ok[i].want, n);
        assert_int_equal(out[n], 0);
        pl_free(out);
    }
    static const char *const bad[] = {"Zg",   "Zg=",  "Zg=a",     "Z===", "====",  "-_-_",
                                      "Zh==", "Zm9=", "Zm9v====", "Zm 9", "Zm9v\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        unsigned char *out = (unsigned char *)"x";
        size_t n = 99;
        assert_int_equal(pl_base64_decode(bad[i], strlen(bad[i]), &out, &n), PL_EINVAL);
        assert_null(out);
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),      cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_round_trip_all_bytes), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_standard_padded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
