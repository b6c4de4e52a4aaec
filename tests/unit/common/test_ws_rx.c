/* The server-side frame decoder: messages come out whole whichever way the bytes are split, and
 * every frame RFC 6455 tells a server to refuse is refused with its close code (1002, or 1007 for
 * a close reason that is not UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ws_rx.h"

static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Append a client frame (masked unless `masked` is false). */
static void frame(struct pl_buf *b, int opcode, bool fin, const void *data, size_t len, bool masked)
{
    assert_int_equal(ws_frame_encode(b, opcode, fin, data, len, masked ? mask : NULL), PL_OK);
}

/* What the decoder made of a stream: data messages joined ("T:text" / "B:..."), control frames
 * ("[ping:..]", "[pong:..]", "[close:CODE:reason]"), a failure ("FAIL:CODE"); a data message
 * ends with '|'. */
static void decode(const char *in, size_t len, size_t step, struct pl_buf *out)
{
    char *copy = pl_malloc(len + 1);
    memcpy(copy, in, len);
    struct ws_rx d;
    ws_rx_init(&d);
    size_t off = 0;
    bool in_msg = false;
    while (off < len) {
        size_t n = step && step < len - off ? step : len - off;
        size_t end = off + n;
        while (off < end) {
            struct ws_rx_event ev;
            size_t used = ws_rx_next(&d, copy + off, end - off, &ev);
            assert_true(used <= end - off);
            off += used;
            if (ev.kind == WS_RX_NONE) {
                assert_int_equal(off, end);
                break;
            }
            if (ev.kind == WS_RX_FAIL) {
                pl_buf_printf(out, "FAIL:%u", ev.close_code);
                pl_free(copy);
                return;
            }
            if (ev.kind == WS_RX_CONTROL) {
                if (ev.opcode == WS_CLOSE)
                    pl_buf_printf(out, "[close:%u:%.*s]", ev.close_code, (int)ev.reason_len,
                                  ev.reason ? ev.reason : "");
                else
                    pl_buf_printf(out, "[%s:%.*s]", ev.opcode == WS_PING ? "ping" : "pong",
                                  (int)ev.len, ev.data);
                continue;
            }
            assert_int_equal(ev.first, !in_msg);
            if (ev.first)
                pl_buf_append_str(out, ev.opcode == WS_TEXT ? "T:" : "B:");
            pl_buf_append(out, ev.data, ev.len);
            in_msg = !ev.final;
            if (ev.final)
                pl_buf_append_str(out, "|");
        }
    }
    pl_free(copy);
}

/* Decode whole, in pieces of every size, and byte by byte: the same result. */
static char *decode_every_way(const struct pl_buf *in)
{
    struct pl_buf whole;
    pl_buf_init(&whole, 1 << 22);
    decode(in->data, in->len, 0, &whole);
    for (size_t step = 2; step < in->len && in->len < 4096; step++) {
        struct pl_buf two;
        pl_buf_init(&two, 1 << 22);
        decode(in->data, in->len, step, &two);
        assert_string_equal(two.data ? two.data : "", whole.data ? whole.data : "");
        pl_buf_cleanup(&two);
    }
    struct pl_buf ones;
    pl_buf_init(&ones, 1 << 22);
    decode(in->data, in->len, 1, &ones);
    assert_string_equal(ones.data ? ones.data : "", whole.data ? whole.data : "");
    pl_buf_cleanup(&ones);
    return pl_buf_take(&whole);
}

static void expect(const struct pl_buf *in, const char *want)
{
    char *got = decode_every_way(in);
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_text_and_binary_messages(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    frame(&b, WS_TEXT, true, "{\"type\":\"hello\"}", 16, true);
    frame(&b, WS_BINARY, true, "\x01\x02", 2, true);
    frame(&b, WS_TEXT, true, NULL, 0, true);
    expect(&b, "T:{\"type\":\"hello\"}|B:\x01\x02|T:|");
    pl_buf_cleanup(&b);
}

static void test_fragments_with_control_frames_between(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    frame(&b, WS_TEXT, false, "Hel", 3, true);
    frame(&b, WS_PING, true, "p1", 2, true);
    frame(&b, WS_CONT, false, NULL, 0, true);
    frame(&b, WS_PONG, true, NULL, 0, true);
    frame(&b, WS_CONT, true, "lo", 2, true);
    frame(&b, WS_CLOSE, true,
          "\x03\xe8"
          "bye",
          5, true);
    expect(&b, "T:Hel[ping:p1][pong:]lo|[close:1000:bye]");
    pl_buf_cleanup(&b);
}

static void test_long_lengths(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    char *big = pl_malloc(70000);
    memset(big, 'x', 70000);
    frame(&b, WS_TEXT, true, big, 200, true);   /* 16-bit length */
    frame(&b, WS_TEXT, true, big, 70000, true); /* 64-bit length */
    struct pl_buf want;
    pl_buf_init(&want, 1 << 20);
    pl_buf_append_str(&want, "T:");
    pl_buf_append(&want, big, 200);
    pl_buf_append_str(&want, "|T:");
    pl_buf_append(&want, big, 70000);
    pl_buf_append_str(&want, "|");
    struct pl_buf got;
    pl_buf_init(&got, 1 << 20);
    decode(b.data, b.len, 0, &got);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    pl_buf_reset(&got);
    decode(b.data, b.len, 1000, &got);
    assert_memory_equal(got.data, want.data, want.len);
    pl_free(big);
    pl_buf_cleanup(&b);
    pl_buf_cleanup(&want);
    pl_buf_cleanup(&got);
}

static void expect_raw(const void *bytes, size_t len, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append(&b, bytes, len);
    expect(&b, want);
    pl_buf_cleanup(&b);
}

static void test_unmasked_frame_is_1002(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    frame(&b, WS_TEXT, true, "hi", 2, false);
    expect(&b, "FAIL:1002");
    pl_buf_reset(&b);
    frame(&b, WS_TEXT, true, "ok", 2, true);
    frame(&b, WS_PING, true, NULL, 0, false);
    expect(&b, "T:ok|FAIL:1002");
    pl_buf_cleanup(&b);
}

static void test_bad_headers_are_1002(void **state)
{
    (void)state;
    /* RSV1, RSV2, RSV3 */
    expect_raw("\xc1\x80"
               "abcd",
               6, "FAIL:1002");
    expect_raw("\xa1\x80"
               "abcd",
               6, "FAIL:1002");
    expect_raw("\x91\x80"
               "abcd",
               6, "FAIL:1002");
    /* reserved opcodes */
    expect_raw("\x83\x80"
               "abcd",
               6, "FAIL:1002");
    expect_raw("\x8b\x80"
               "abcd",
               6, "FAIL:1002");
    /* fragmented ping; a 126-byte ping; a 1-byte close */
    expect_raw("\x09\x80"
               "abcd",
               6, "FAIL:1002");
    expect_raw("\x89\xfe\x00\x7e"
               "abcd",
               8, "FAIL:1002");
    expect_raw("\x88\x81"
               "abcdX",
               7, "FAIL:1002");
    /* continuation without a message; a new message inside one */
    expect_raw("\x80\x80"
               "abcd",
               6, "FAIL:1002");
    expect_raw("\x01\x80"
               "abcd"
               "\x81\x80"
               "abcd",
               12, "T:FAIL:1002");
    /* lengths not in their shortest form, and the 64-bit top bit */
    expect_raw("\x81\xfe\x00\x05"
               "abcd"
               "hello",
               13, "FAIL:1002");
    expect_raw("\x81\xff\x00\x00\x00\x00\x00\x00\xff\xff"
               "abcd",
               14, "FAIL:1002");
    expect_raw("\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00"
               "abcd",
               14, "FAIL:1002");
}

static void close_with(const void *payload, size_t len, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    frame(&b, WS_CLOSE, true, payload, len, true);
    expect(&b, want);
    pl_buf_cleanup(&b);
}

static void test_close_codes(void **state)
{
    (void)state;
    close_with(NULL, 0, "[close:1005:]");
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 4000, 4999};
    static const unsigned invalid[] = {0,    999,  1004, 1005, 1006, 1015,
                                       1016, 2000, 2999, 5000, 5001, 65535};
    char want[64];
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        unsigned char p[2] = {(unsigned char)(valid[i] >> 8), (unsigned char)valid[i]};
        snprintf(want, sizeof(want), "[close:%u:]", valid[i]);
        close_with(p, 2, want);
        assert_true(ws_close_code_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        unsigned char p[2] = {(unsigned char)(invalid[i] >> 8), (unsigned char)invalid[i]};
        close_with(p, 2, "FAIL:1002");
        assert_false(ws_close_code_valid(invalid[i]));
    }
}

static void test_close_reason_must_be_utf8(void **state)
{
    (void)state;
    close_with("\x03\xe8"
               "caf\xc3\xa9",
               7, "[close:1000:caf\xc3\xa9]");
    close_with("\x03\xe8"
               "caf\xc3\x28",
               7, "FAIL:1007");
    close_with("\x03\xe8\xed\xa0\x80", 5, "FAIL:1007"); /* a surrogate */
}

static void test_failure_is_sticky(void **state)
{
    (void)state;
    struct ws_rx d;
    ws_rx_init(&d);
    char bad[] = "\x81\x02hi";
    struct ws_rx_event ev;
    assert_int_equal(ws_rx_next(&d, bad, 4, &ev), 2);
    assert_int_equal(ev.kind, WS_RX_FAIL);
    assert_int_equal(ev.close_code, 1002);
    assert_string_equal(ev.reason, "client frames must be masked");
    char more[] = "\x81\x80"
                  "abcd";
    assert_int_equal(ws_rx_next(&d, more, 6, &ev), 0);
    assert_int_equal(ev.kind, WS_RX_FAIL);
}

static void test_server_header(void **state)
{
    (void)state;
    unsigned char h[WS_FRAME_SERVER_HEADER_MAX];
    assert_int_equal(ws_frame_server_header(h, WS_TEXT, true, 5), 2);
    assert_memory_equal(h, "\x81\x05", 2);
    assert_int_equal(ws_frame_server_header(h, WS_TEXT, true, 300), 4);
    assert_memory_equal(h, "\x81\x7e\x01\x2c", 4);
    assert_int_equal(ws_frame_server_header(h, WS_CLOSE, true, 70000), 10);
    assert_memory_equal(h, "\x88\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_binary_messages),
        cmocka_unit_test(test_fragments_with_control_frames_between),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_unmasked_frame_is_1002),
        cmocka_unit_test(test_bad_headers_are_1002),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_close_reason_must_be_utf8),
        cmocka_unit_test(test_failure_is_sticky),
        cmocka_unit_test(test_server_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
