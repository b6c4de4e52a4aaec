/* The double's event-stream encoder: the published test vectors byte for byte (PROTOCOLS.md
 * 2.4 and 6.3), and its frames read back by the server's own decoder, split at every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_eventstream.h"
#include "connectors/aws_eventstream_kind.h"
#include "tests/fakes/es_frame.h"

static void assert_hex(const struct pl_buf *b, const char *hex)
{
    char got[4096] = "";
    for (size_t i = 0; i < b->len && 2 * i + 2 < sizeof(got); i++)
        snprintf(got + 2 * i, 3, "%02x", (unsigned char)b->data[i]);
    assert_string_equal(got, hex);
}

static uint32_t u32_at(const struct pl_buf *b, size_t off)
{
    const unsigned char *p = (const unsigned char *)b->data + off;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_empty_headers_vector(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(es_frame_encode(&b, NULL, 0, "{\"foo\": \"bar\"}", 14), PL_OK);
    assert_hex(&b, "0000001e00000000baf2f68a7b22666f6f223a2022626172227dae7258e4");
    pl_buf_cleanup(&b);
}

static const char chunk_payload[] =
    "{\"bytes\":\"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0eXBlIjoidGV4"
    "dF9kZWx0YSIsInRleHQiOiJIaSJ9fQ==\"}";

static void test_bedrock_chunk_vector(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(es_frame_event(&b, "chunk", chunk_payload, strlen(chunk_payload)), PL_OK);
    assert_int_equal(b.len, 215);
    assert_int_equal(u32_at(&b, 0), 215);
    assert_int_equal(u32_at(&b, 4), 75);
    assert_int_equal(u32_at(&b, 8), 0xbff9e438u);
    assert_int_equal(u32_at(&b, 211), 0x4b8e9495u);
    pl_buf_cleanup(&b);
}

struct seen {
    int frames;
    struct aws_es_message msg[4];
    char payload[4][256];
};

static int on_frame(void *ud, const struct aws_es_frame *f)
{
    struct seen *s = ud;
    if (s->frames < 4) {
        aws_es_message_read(f, &s->msg[s->frames]);
        snprintf(s->payload[s->frames], sizeof(s->payload[0]), "%.*s", (int)f->payload_len,
                 (const char *)f->payload);
    }
    s->frames++;
    return 0;
}

static void test_server_decoder_reads_frames_split_anywhere(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    const char *delta = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abc\"}";
    const char *exc = "{\"message\":\"Too many requests\"}";
    assert_int_equal(es_frame_event(&b, "contentBlockDelta", delta, strlen(delta)), PL_OK);
    assert_int_equal(es_frame_exception(&b, "throttlingException", exc, strlen(exc)), PL_OK);
    for (size_t step = 1; step <= b.len; step++) {
        struct aws_es_decoder d;
        aws_es_decoder_init(&d, 0);
        struct seen s = {0};
        for (size_t off = 0; off < b.len; off += step) {
            size_t n = b.len - off < step ? b.len - off : step;
            assert_int_equal(aws_es_decoder_feed(&d, b.data + off, n, on_frame, &s), PL_OK);
        }
        assert_true(aws_es_decoder_idle(&d));
        assert_int_equal(s.frames, 2);
        assert_int_equal(s.msg[0].kind, AWS_ES_KIND_EVENT);
        assert_string_equal(s.msg[0].event_type, "contentBlockDelta");
        assert_string_equal(s.msg[0].content_type, "application/json");
        assert_string_equal(s.payload[0], delta);
        assert_int_equal(s.msg[1].kind, AWS_ES_KIND_EXCEPTION);
        assert_string_equal(s.msg[1].exception_type, "throttlingException");
        assert_string_equal(s.payload[1], exc);
        aws_es_decoder_cleanup(&d);
    }
    pl_buf_cleanup(&b);
}

static void test_corrupt_crc_is_refused(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(es_frame_event(&b, "chunk", chunk_payload, strlen(chunk_payload)), PL_OK);
    b.data[b.len - 1] ^= 0x01; /* what [[bad-crc]] does */
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, 0);
    struct seen s = {0};
    assert_int_equal(aws_es_decoder_feed(&d, b.data, b.len, on_frame, &s), PL_EPROTO);
    assert_int_equal(d.fault, AWS_ES_FAULT_MESSAGE_CRC);
    assert_int_equal(s.frames, 0);
    aws_es_decoder_cleanup(&d);
    pl_buf_cleanup(&b);
}

static void test_overlong_header_refused(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct es_header h = {name, "v"};
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(es_frame_encode(&b, &h, 1, "", 0), PL_EINVAL);
    assert_int_equal(b.len, 0);
    pl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_headers_vector),
        cmocka_unit_test(test_bedrock_chunk_vector),
        cmocka_unit_test(test_server_decoder_reads_frames_split_anywhere),
        cmocka_unit_test(test_corrupt_crc_is_refused),
        cmocka_unit_test(test_overlong_header_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
