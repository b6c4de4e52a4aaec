/* RFC 6455 framing: the examples of RFC 6455 §5.7 byte for byte, the 16- and 64-bit length
 * forms, incremental decoding, and the handshake's accept key (§1.3's sample). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/ws_frame.h"

static void test_rfc_single_unmasked_text(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(ws_frame_encode(&b, WS_TEXT, true, "Hello", 5, NULL), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
    pl_buf_cleanup(&b);
}

static void test_rfc_single_masked_text(void **state)
{
    (void)state;
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(ws_frame_encode(&b, WS_TEXT, true, "Hello", 5, mask), 0);
    assert_memory_equal(b.data, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    /* Decoding unmasks in place. */
    struct ws_frame f;
    assert_int_equal(ws_frame_decode(b.data, b.len, 1024, &f), 1);
    assert_int_equal(f.opcode, WS_TEXT);
    assert_true(f.fin);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
    assert_int_equal(f.total, 11);
    pl_buf_cleanup(&b);
}

static void test_rfc_fragmented_and_ping(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    ws_frame_encode(&b, WS_TEXT, false, "Hel", 3, NULL);
    ws_frame_encode(&b, WS_CONT, true, "lo", 2, NULL);
    ws_frame_encode(&b, WS_PING, true, "Hello", 5, NULL);
    assert_int_equal(b.len, 5 + 4 + 7);
    assert_memory_equal(b.data, "\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f\x89\x05\x48\x65\x6c\x6c\x6f",
                        16);
    struct ws_frame f;
    assert_int_equal(ws_frame_decode(b.data, b.len, 1024, &f), 1);
    assert_int_equal(f.opcode, WS_TEXT);
    assert_false(f.fin);
    assert_int_equal(ws_frame_decode(b.data + 5, b.len - 5, 1024, &f), 1);
    assert_int_equal(f.opcode, WS_CONT);
    assert_true(f.fin);
    pl_buf_cleanup(&b);
}

static void test_length_forms(void **state)
{
    (void)state;
    char *payload = pl_calloc(1, 65536);
    struct pl_buf b;
    pl_buf_init(&b, 200000);
    ws_frame_encode(&b, WS_BINARY, true, payload, 256, NULL);
    assert_memory_equal(b.data, "\x82\x7e\x01\x00", 4);
    assert_int_equal(b.len, 4 + 256);
    pl_buf_reset(&b);
    ws_frame_encode(&b, WS_BINARY, true, payload, 65536, NULL);
    assert_memory_equal(b.data, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    assert_int_equal(b.len, 10 + 65536);
    struct ws_frame f;
    assert_int_equal(ws_frame_decode(b.data, b.len, 65536, &f), 1);
    assert_int_equal(f.len, 65536);
    assert_int_equal(ws_frame_decode(b.data, b.len, 65535, &f), -1); /* over the limit */
    pl_buf_cleanup(&b);
    pl_free(payload);
}

static void test_decode_needs_whole_frame(void **state)
{
    (void)state;
    static const unsigned char mask[4] = {1, 2, 3, 4};
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    char text[300];
    memset(text, 'x', sizeof(text));
    ws_frame_encode(&b, WS_TEXT, true, text, sizeof(text), mask);
    struct ws_frame f;
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(ws_frame_decode(b.data, n, 4096, &f), 0);
    assert_int_equal(ws_frame_decode(b.data, b.len, 4096, &f), 1);
    assert_memory_equal(f.payload, text, sizeof(text));
    pl_buf_cleanup(&b);
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[29];
    ws_frame_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_single_unmasked_text),
        cmocka_unit_test(test_rfc_single_masked_text),
        cmocka_unit_test(test_rfc_fragmented_and_ping),
        cmocka_unit_test(test_length_forms),
        cmocka_unit_test(test_decode_needs_whole_frame),
        cmocka_unit_test(test_accept_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
