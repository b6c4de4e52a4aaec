/* RFC 6455 client codec: the examples of RFC 6455 §5.7 byte for byte, the 16- and 64-bit length
 * forms, the handshake (§1.3's accept-key sample, request, checks of the answer) and the
 * incremental decoder fed byte by byte, with reassembly and every frame a server must not send. */
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

/* Feed `data` to a fresh decoder one byte at a time, collecting every message as
 * "<opcode>:<payload>|" into `log`. Returns the decoder's last result (0 or an error). */
static int feed_bytewise(const void *data, size_t len, size_t max, struct pl_buf *log)
{
    struct ws_frame_decoder d;
    ws_frame_decoder_init(&d, max);
    int rc = 0;
    const unsigned char *p = data;
    for (size_t i = 0; i < len && rc >= 0; i++) {
        assert_int_equal(ws_frame_decoder_feed(&d, p + i, 1), PL_OK);
        int op;
        const char *msg;
        size_t n;
        while ((rc = ws_frame_decoder_next(&d, &op, &msg, &n)) == 1)
            pl_buf_printf(log, "%d:%.*s|", op, (int)n, msg);
    }
    ws_frame_decoder_cleanup(&d);
    return rc;
}

static void test_decoder_reassembles_with_interleaved_control(void **state)
{
    (void)state;
    struct pl_buf b, log;
    pl_buf_init(&b, 4096);
    pl_buf_init(&log, 4096);
    /* RFC 6455 §5.7: "Hel" + "lo", with a ping between the fragments, then a pong, an empty
     * text, a binary message in three fragments and a close with code 1000 "bye". */
    static const unsigned char wire[] = {0x01, 0x03, 'H',  'e',  'l',  0x89, 0x05, 'H',  'e',
                                         'l',  'l',  'o',  0x80, 0x02, 'l',  'o',  0x8a, 0x00,
                                         0x81, 0x00, 0x02, 0x01, 'a',  0x00, 0x01, 'b',  0x80,
                                         0x01, 'c',  0x88, 0x05, 0x03, 0xe8, 'b',  'y',  'e'};
    assert_int_equal(feed_bytewise(wire, sizeof(wire), 1024, &log), 0);
    assert_string_equal(log.data, "9:Hello|1:Hello|10:|1:|2:abc|8:\x03\xe8"
                                  "bye|");
    /* The same stream in one piece gives the same messages. */
    struct ws_frame_decoder d;
    ws_frame_decoder_init(&d, 1024);
    assert_int_equal(ws_frame_decoder_feed(&d, wire, sizeof(wire)), PL_OK);
    int op, count = 0;
    const char *msg;
    size_t n;
    while (ws_frame_decoder_next(&d, &op, &msg, &n) == 1)
        count++;
    assert_int_equal(count, 6);
    ws_frame_decoder_cleanup(&d);
    pl_buf_cleanup(&b);
    pl_buf_cleanup(&log);
}

static void test_decoder_long_lengths(void **state)
{
    (void)state;
    char *payload = pl_malloc(70000);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (char)('a' + i % 26);
    struct pl_buf b;
    pl_buf_init(&b, 200000);
    ws_frame_encode(&b, WS_TEXT, true, payload, 256, NULL);
    ws_frame_encode(&b, WS_BINARY, true, payload, 70000, NULL);
    struct ws_frame_decoder d;
    ws_frame_decoder_init(&d, 70000);
    int op;
    const char *msg;
    size_t n;
    for (size_t i = 0; i < b.len; i += 1000) { /* in 1000-byte reads */
        size_t k = b.len - i < 1000 ? b.len - i : 1000;
        assert_int_equal(ws_frame_decoder_feed(&d, b.data + i, k), PL_OK);
        int rc;
        while ((rc = ws_frame_decoder_next(&d, &op, &msg, &n)) == 1) {
            if (op == WS_TEXT) {
                assert_int_equal(n, 256);
            } else {
                assert_int_equal(op, WS_BINARY);
                assert_int_equal(n, 70000);
            }
            assert_memory_equal(msg, payload, n);
        }
        assert_int_equal(rc, 0);
    }
    ws_frame_decoder_cleanup(&d);
    pl_buf_cleanup(&b);
    pl_free(payload);
}

static void expect_decoder_error(const void *wire, size_t len, size_t max, int want)
{
    struct pl_buf log;
    pl_buf_init(&log, 4096);
    assert_int_equal(feed_bytewise(wire, len, max, &log), want);
    pl_buf_cleanup(&log);
}

static void test_decoder_rejects(void **state)
{
    (void)state;
    /* masked frame from a server */
    expect_decoder_error("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, 100, PL_EPROTO);
    /* RSV1 set */
    expect_decoder_error("\xc1\x02hi", 4, 100, PL_EPROTO);
    /* reserved opcodes 3 and 0xB */
    expect_decoder_error("\x83\x02hi", 4, 100, PL_EPROTO);
    expect_decoder_error("\x8b\x00", 2, 100, PL_EPROTO);
    /* fragmented ping; ping with a 126-byte payload; close with a 1-byte payload */
    expect_decoder_error("\x09\x00", 2, 100, PL_EPROTO);
    expect_decoder_error("\x89\x7e\x00\x7e", 4, 1000, PL_EPROTO);
    expect_decoder_error("\x88\x01\x03", 3, 100, PL_EPROTO);
    /* continuation without a start; a new text frame inside a fragmented message */
    expect_decoder_error("\x80\x02lo", 4, 100, PL_EPROTO);
    expect_decoder_error("\x01\x03Hel\x81\x02lo", 9, 100, PL_EPROTO);
    /* 64-bit length with the top bit set */
    expect_decoder_error("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10, SIZE_MAX, PL_EPROTO);
    /* one frame over the limit, and fragments that together pass it (5 + 5 > 8) */
    expect_decoder_error("\x81\x09toolarge!", 11, 8, PL_ETOOBIG);
    expect_decoder_error("\x01\x05"
                         "abcde\x80\x05"
                         "fghij",
                         14, 8, PL_ETOOBIG);
    /* exactly at the limit is fine */
    struct pl_buf log;
    pl_buf_init(&log, 100);
    assert_int_equal(feed_bytewise("\x01\x04"
                                   "abcd\x80\x04"
                                   "efgh",
                                   12, 8, &log),
                     0);
    assert_string_equal(log.data, "1:abcdefgh|");
    pl_buf_cleanup(&log);
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    struct ws_frame_decoder d;
    ws_frame_decoder_init(&d, 100);
    assert_int_equal(ws_frame_decoder_feed(&d, "\x83\x00\x81\x02hi", 6), PL_OK);
    int op;
    const char *msg;
    size_t n;
    assert_int_equal(ws_frame_decoder_next(&d, &op, &msg, &n), PL_EPROTO);
    assert_int_equal(ws_frame_decoder_next(&d, &op, &msg, &n), PL_EPROTO);
    ws_frame_decoder_cleanup(&d);
}

static void test_client_handshake_request(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    char key[WS_FRAME_KEY_LEN + 1], key2[WS_FRAME_KEY_LEN + 1];
    assert_int_equal(
        ws_frame_client_handshake(&b, "127.0.0.1:8080", "/v1/chat", "parley.chat.v1", key), 0);
    assert_int_equal(strlen(key), WS_FRAME_KEY_LEN);
    assert_int_equal(key[22], '=');
    assert_int_equal(key[23], '=');
    char want[1024];
    snprintf(want, sizeof(want),
             "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: parley.chat.v1\r\n\r\n",
             key);
    assert_string_equal(b.data, want);
    /* A fresh key every time; no subprotocol line when none is offered. */
    pl_buf_reset(&b);
    assert_int_equal(ws_frame_client_handshake(&b, "h", "/", NULL, key2), 0);
    assert_string_not_equal(key, key2);
    assert_null(strstr(b.data, "Protocol"));
    /* Header injection is refused. */
    assert_int_equal(ws_frame_client_handshake(&b, "h\r\nX: y", "/", NULL, key), PL_EINVAL);
    assert_int_equal(ws_frame_client_handshake(&b, "h", "nopath", NULL, key), PL_EINVAL);
    assert_int_equal(ws_frame_client_handshake(&b, "h", "/", "a b", key), PL_EINVAL);
    pl_buf_cleanup(&b);
}

#define SAMPLE_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static int check(const char *resp, const char *proto)
{
    char err[256];
    return ws_frame_check_response(resp, strlen(resp), SAMPLE_KEY, proto, err, sizeof(err));
}

static void test_check_response(void **state)
{
    (void)state;
    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nupgrade:  WebSocket \r\n"
                             "Connection: keep-alive, Upgrade\r\n"
                             "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n"
                             "Sec-WebSocket-Protocol: parley.chat.v1\r\n\r\n\x81\x02hi";
    size_t head = sizeof(ok) - 1 - 4;
    assert_int_equal(check(ok, "parley.chat.v1"), (int)head);
    /* Every prefix of the header asks for more bytes. */
    char err[64];
    for (size_t n = 0; n < head; n++)
        assert_int_equal(ws_frame_check_response(ok, n, SAMPLE_KEY, "parley.chat.v1", err, 64), 0);
    /* The subprotocol must be echoed exactly, and never chosen when none was offered. */
    assert_int_equal(check(ok, "parley.agent.v1"), PL_EPROTO);
    assert_int_equal(check(ok, NULL), PL_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
                           NULL),
                     (int)strlen("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n"));
    assert_int_equal(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
                           "parley.chat.v1"),
                     PL_EPROTO);
    /* Wrong accept key, missing upgrade, not 101. */
    assert_int_equal(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaK9kK0ZlN6zXJPVDs=\r\n\r\n",
                           NULL),
                     PL_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 x\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
                           NULL),
                     PL_EPROTO);
    assert_int_equal(check("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", NULL),
                     PL_EPROTO);
    assert_int_equal(check("HTTP/1.1 1010 x\r\n\r\n", NULL), PL_EPROTO);
    assert_int_equal(ws_frame_check_response("HTTP/1.1 400 Bad Request\r\n\r\n", 28, SAMPLE_KEY,
                                             NULL, err, sizeof(err)),
                     PL_EPROTO);
    assert_string_equal(err, "handshake refused: HTTP/1.1 400 Bad Request");
    /* A header that never ends. */
    char *big = pl_malloc(WS_FRAME_RESPONSE_MAX + 2);
    memset(big, 'a', WS_FRAME_RESPONSE_MAX + 1);
    big[WS_FRAME_RESPONSE_MAX + 1] = '\0';
    assert_int_equal(check(big, NULL), PL_EPROTO);
    pl_free(big);
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
        cmocka_unit_test(test_decoder_reassembles_with_interleaved_control),
        cmocka_unit_test(test_decoder_long_lengths),
        cmocka_unit_test(test_decoder_rejects),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_client_handshake_request),
        cmocka_unit_test(test_check_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
