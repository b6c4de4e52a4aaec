/* The AWS event-stream decoder and the Bedrock message classifier on real frames: the golden
 * frame and frames written by the AWS SDK's codec (tests/data/eventstream, see its README), fed
 * whole, byte by byte and split at every offset, plus hand-built broken frames (CRCs, lengths,
 * each header type cut short, unknown types). Each outcome is compared with a literal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_eventstream.h"
#include "connectors/aws_eventstream_kind.h"

/* ---- helpers ---- */

static void hex(struct pl_buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_buf_printf(b, "%02x", p[i]);
}

/* "name:type=value;..." then "|payload" (printable bytes as is, others as \xHH). */
static void describe(struct pl_buf *b, const struct aws_es_frame *f)
{
    size_t pos = 0;
    struct aws_es_header h;
    pl_buf_append_str(b, "{");
    while (aws_es_header_next(f, &pos, &h)) {
        pl_buf_printf(b, "%.*s:%d=", (int)h.name_len, h.name, (int)h.type);
        switch (h.type) {
        case AWS_ES_BYTES:
        case AWS_ES_UUID:
            hex(b, h.value, h.value_len);
            break;
        case AWS_ES_STRING:
            pl_buf_append(b, h.value, h.value_len);
            break;
        default:
            pl_buf_printf(b, "%lld", (long long)h.integer);
        }
        pl_buf_append_str(b, ";");
    }
    pl_buf_append_str(b, "|");
    for (size_t i = 0; i < f->payload_len; i++) {
        uint8_t c = f->payload[i];
        if (c >= 0x20 && c < 0x7f)
            pl_buf_append(b, &c, 1);
        else
            pl_buf_printf(b, "\\x%02x", c);
    }
    pl_buf_append_str(b, "}");
}

struct outcome {
    struct pl_buf text;
    int frames;
    int stop_after; /* return 99 from the callback on this frame (1-based); 0: never */
};

static int on_frame(void *ud, const struct aws_es_frame *f)
{
    struct outcome *o = ud;
    describe(&o->text, f);
    o->frames++;
    return o->stop_after && o->frames == o->stop_after ? 99 : 0;
}

/* Feed cut at ascending offsets; "frames... rc=N fault=NAME idle=B". */
static char *run_max(const uint8_t *data, size_t len, const size_t *cuts, size_t n_cuts,
                     size_t max_frame)
{
    struct outcome o = {0};
    pl_buf_init(&o.text, SIZE_MAX);
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, max_frame);
    size_t at = 0;
    int rc = PL_OK;
    for (size_t i = 0; i <= n_cuts && !rc; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        rc = aws_es_decoder_feed(&d, data + at, end - at, on_frame, &o);
        at = end;
    }
    pl_buf_printf(&o.text, " rc=%d fault=%s idle=%d", rc, aws_es_fault_name(d.fault),
                  aws_es_decoder_idle(&d));
    aws_es_decoder_cleanup(&d);
    return pl_buf_take(&o.text);
}

static char *run(const uint8_t *data, size_t len, const size_t *cuts, size_t n_cuts)
{
    return run_max(data, len, cuts, n_cuts, 0);
}

static uint8_t *load(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/eventstream/%s", PARLEY_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        pl_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return (uint8_t *)pl_buf_take(&b);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Frame `headers` and `payload` with correct lengths and CRCs (as the codec does); *len set. */
static uint8_t *frame(const void *headers, size_t hlen, const void *payload, size_t plen,
                      size_t *len)
{
    size_t total = 16 + hlen + plen;
    uint8_t *p = pl_malloc(total);
    put32(p, (uint32_t)total);
    put32(p + 4, (uint32_t)hlen);
    put32(p + 8, (uint32_t)crc32(0, p, 8));
    if (hlen)
        memcpy(p + 12, headers, hlen);
    if (plen)
        memcpy(p + 12 + hlen, payload, plen);
    put32(p + total - 4, (uint32_t)crc32(0, p, (uInt)(total - 4)));
    *len = total;
    return p;
}

static void expect(const uint8_t *data, size_t len, const char *want)
{
    char *s = run(data, len, NULL, 0);
    assert_string_equal(s, want);
    pl_free(s);
}

/* ---- the golden frames ---- */

static const char chunk_hex[] =
    "000000d70000004bbff9e4380b3a6576656e742d747970650700056368756e6b0d3a636f6e74656e742d7479"
    "70650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b"
    "226279746573223a2265794a306558426c496a6f695932397564475675644639696247396a6131396b5a5778"
    "3059534973496d6c755a475634496a6f774c434a6b5a5778305953493665794a306558426c496a6f69644756"
    "346446396b5a57783059534973496e526c654851694f694a4961534a3966513d3d227d4b8e9495";

static const char chunk_want[] =
    "{:event-type:7=chunk;:content-type:7=application/json;:message-type:7=event;|{\"bytes\":"
    "\"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0eXBlIjoidGV4dF9kZWx0"
    "YSIsInRleHQiOiJIaSJ9fQ==\"}}";

static void test_golden_chunk_frame(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("chunk.bin", &len);
    /* Byte for byte the frame the SDK's codec wrote (215 bytes, headers 75, CRCs as known). */
    struct pl_buf h;
    pl_buf_init(&h, SIZE_MAX);
    hex(&h, data, len);
    assert_string_equal(h.data, chunk_hex);
    pl_buf_cleanup(&h);
    assert_int_equal(len, 215);
    char *s = run(data, len, NULL, 0);
    struct pl_buf want;
    pl_buf_init(&want, SIZE_MAX);
    pl_buf_printf(&want, "%s rc=0 fault=none idle=1", chunk_want);
    assert_string_equal(s, want.data);
    pl_buf_cleanup(&want);
    pl_free(s);
    pl_free(data);
}

static void test_specification_vector(void **state)
{
    (void)state;
    static const uint8_t v[] = {0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0xba, 0xf2,
                                0xf6, 0x8a, '{',  '"',  'f',  'o',  'o',  '"',  ':',  ' ',
                                '"',  'b',  'a',  'r',  '"',  '}',  0xae, 0x72, 0x58, 0xe4};
    expect(v, sizeof(v), "{|{\"foo\": \"bar\"}} rc=0 fault=none idle=1");
    size_t len;
    uint8_t *data = load("no_headers.bin", &len);
    assert_int_equal(len, sizeof(v));
    assert_memory_equal(data, v, sizeof(v));
    pl_free(data);
}

static void test_every_header_type(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("all_types.bin", &len);
    expect(data, len,
           "{t:0=1;f:1=0;byte:2=-5;short:3=-1234;int:4=123456789;long:5=-1234567890123;"
           "bin:6=000102feff;:content-type:7=text/plain;ts:8=1764468000123;"
           "id:9=0123456789abcdef0123456789abcdef;|payload} rc=0 fault=none idle=1");
    pl_free(data);
}

/* All SDK frames in one stream: whole, byte by byte, at every two-way split and at three-way
 * splits near each other (inside one prelude, across a frame boundary). */
static void test_every_split_point(void **state)
{
    (void)state;
    static const char *const files[] = {"chunk.bin",      "all_types.bin",
                                        "throttling.bin", "model_stream_error.bin",
                                        "error.bin",      "no_headers.bin"};
    struct pl_buf all;
    pl_buf_init(&all, SIZE_MAX);
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
        size_t n;
        uint8_t *p = load(files[i], &n);
        pl_buf_append(&all, p, n);
        pl_free(p);
    }
    const uint8_t *data = (const uint8_t *)all.data;
    size_t len = all.len;
    char *whole = run(data, len, NULL, 0);
    assert_non_null(strstr(whole, chunk_want));
    assert_non_null(strstr(whole, ":exception-type:7=throttlingException;"));
    assert_non_null(strstr(whole, ":error-code:7=InternalFailure;"));
    assert_non_null(strstr(whole, "} rc=0 fault=none idle=1"));

    size_t *bytes = pl_calloc(len, sizeof(*bytes));
    for (size_t i = 0; i < len; i++)
        bytes[i] = i;
    char *s = run(data, len, bytes, len);
    assert_string_equal(s, whole);
    pl_free(s);
    pl_free(bytes);

    for (size_t k = 0; k <= len; k++) {
        s = run(data, len, &k, 1);
        if (strcmp(s, whole) != 0)
            fail_msg("split at %zu:\n got %s\nwant %s", k, s, whole);
        pl_free(s);
    }
    static const size_t gaps[] = {0, 1, 3, 4, 8, 11, 12, 13};
    for (size_t k1 = 0; k1 <= len; k1++) {
        for (size_t g = 0; g < sizeof(gaps) / sizeof(*gaps); g++) {
            size_t cuts[2] = {k1, k1 + gaps[g]};
            if (cuts[1] > len)
                continue;
            s = run(data, len, cuts, 2);
            if (strcmp(s, whole) != 0)
                fail_msg("split at %zu,%zu:\n got %s\nwant %s", cuts[0], cuts[1], s, whole);
            pl_free(s);
        }
    }
    /* A stream cut inside a frame is not idle: the caller can tell it ended short. */
    s = run(data, 100, NULL, 0);
    assert_string_equal(s, " rc=0 fault=none idle=0");
    pl_free(s);
    pl_free(whole);
    pl_buf_cleanup(&all);
}

/* ---- failures ---- */

/* Once failed, the decoder answers the same to every later call and hands out nothing. */
static void assert_sticky(struct aws_es_decoder *d, int err)
{
    size_t len;
    uint8_t *good = load("no_headers.bin", &len);
    struct outcome o = {0};
    pl_buf_init(&o.text, SIZE_MAX);
    assert_int_equal(aws_es_decoder_feed(d, good, len, on_frame, &o), err);
    assert_int_equal(aws_es_decoder_feed(d, good, 0, on_frame, &o), err);
    assert_int_equal(o.frames, 0);
    pl_buf_cleanup(&o.text);
    pl_free(good);
}

static void test_corrupt_prelude_crc(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("chunk.bin", &len);
    data[9] ^= 0x01;
    expect(data, len, " rc=-3 fault=prelude CRC mismatch idle=1");
    /* Known at the 12th byte, split or not. */
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, 0);
    struct outcome o = {0};
    assert_int_equal(aws_es_decoder_feed(&d, data, 11, on_frame, &o), PL_OK);
    assert_int_equal(aws_es_decoder_feed(&d, data + 11, 1, on_frame, &o), PL_EPROTO);
    assert_int_equal(d.fault, AWS_ES_FAULT_PRELUDE_CRC);
    assert_sticky(&d, PL_EPROTO);
    aws_es_decoder_cleanup(&d);
    pl_free(data);
}

static void test_corrupt_message_crc(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("chunk.bin", &len);
    data[150] ^= 0x10; /* one payload bit */
    expect(data, len, " rc=-3 fault=message CRC mismatch idle=1");
    data[150] ^= 0x10;
    data[len - 1] ^= 0x80; /* the CRC itself */
    expect(data, len, " rc=-3 fault=message CRC mismatch idle=1");
    /* The frame before a broken one is still handed out. */
    uint8_t *two = pl_malloc(2 * len);
    data[len - 1] ^= 0x80;
    memcpy(two, data, len);
    memcpy(two + len, data, len);
    two[2 * len - 5] ^= 0x01;
    char *s = run(two, 2 * len, NULL, 0);
    assert_non_null(strstr(s, chunk_want));
    assert_non_null(strstr(s, "} rc=-3 fault=message CRC mismatch"));
    pl_free(s);
    pl_free(two);
    pl_free(data);
}

static void test_oversized_frame_fails_at_its_prelude(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("chunk.bin", &len);
    /* A 215-byte frame under a 214-byte limit: refused at byte 12, nothing buffered. */
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, 214);
    struct outcome o = {0};
    assert_int_equal(aws_es_decoder_feed(&d, data, 12, on_frame, &o), PL_ETOOBIG);
    assert_int_equal(d.fault, AWS_ES_FAULT_TOO_BIG);
    assert_true(aws_es_decoder_idle(&d));
    assert_null(d.partial.data);
    assert_sticky(&d, PL_ETOOBIG);
    aws_es_decoder_cleanup(&d);
    /* Exactly the limit is accepted. */
    char *s = run_max(data, len, NULL, 0, 215);
    assert_non_null(strstr(s, "} rc=0 fault=none idle=1"));
    pl_free(s);
    pl_free(data);

    /* A prelude announcing 4 GiB with a valid CRC, under the default limit of 16 MiB. */
    uint8_t pre[12] = {0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0};
    put32(pre + 8, (uint32_t)crc32(0, pre, 8));
    expect(pre, sizeof(pre), " rc=-4 fault=frame over the size limit idle=1");
    put32(pre, AWS_ES_MAX_FRAME + 1);
    put32(pre + 8, (uint32_t)crc32(0, pre, 8));
    expect(pre, sizeof(pre), " rc=-4 fault=frame over the size limit idle=1");

    /* Within the limit, a prelude announcing 16 MiB costs only the bytes that came. */
    put32(pre, AWS_ES_MAX_FRAME);
    put32(pre + 8, (uint32_t)crc32(0, pre, 8));
    aws_es_decoder_init(&d, 0);
    assert_int_equal(aws_es_decoder_feed(&d, pre, sizeof(pre), on_frame, &o), PL_OK);
    assert_false(aws_es_decoder_idle(&d));
    assert_true(d.partial.cap <= 64);
    aws_es_decoder_cleanup(&d);
}

static void test_impossible_lengths(void **state)
{
    (void)state;
    uint8_t pre[12] = {0, 0, 0, 15, 0, 0, 0, 0};
    put32(pre + 8, (uint32_t)crc32(0, pre, 8));
    expect(pre, sizeof(pre), " rc=-3 fault=impossible frame or headers length idle=1");
    /* Headers longer than the frame has room for. */
    size_t len;
    uint8_t *p = frame("\x01x\x00", 3, NULL, 0, &len);
    put32(p + 4, 4);
    put32(p + 8, (uint32_t)crc32(0, p, 8));
    expect(p, len, " rc=-3 fault=impossible frame or headers length idle=1");
    pl_free(p);
}

/* A header section of `n` bytes wrapped in a valid frame. */
static void expect_headers(const char *h, size_t n, const char *want)
{
    size_t len;
    uint8_t *p = frame(h, n, "x", 1, &len);
    char *s = run(p, len, NULL, 0);
    if (strcmp(s, want) != 0)
        fail_msg("headers of %zu bytes:\n got %s\nwant %s", n, s, want);
    pl_free(s);
    pl_free(p);
}

static void test_each_header_type_alone_and_cut_short(void **state)
{
    (void)state;
    /* name "h", then each type with a value of its width; then the same value one byte short. */
    static const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } cases[] = {
        {"\x01h\x00", 3, "{h:0=1;|x} rc=0 fault=none idle=1"},
        {"\x01h\x01", 3, "{h:1=0;|x} rc=0 fault=none idle=1"},
        {"\x01h\x02\x80", 4, "{h:2=-128;|x} rc=0 fault=none idle=1"},
        {"\x01h\x03\x7f\xff", 5, "{h:3=32767;|x} rc=0 fault=none idle=1"},
        {"\x01h\x04\x80\x00\x00\x00", 7, "{h:4=-2147483648;|x} rc=0 fault=none idle=1"},
        {"\x01h\x05\x7f\xff\xff\xff\xff\xff\xff\xff", 11,
         "{h:5=9223372036854775807;|x} rc=0 fault=none idle=1"},
        {"\x01h\x06\x00\x02\x00\xff", 7, "{h:6=00ff;|x} rc=0 fault=none idle=1"},
        {"\x01h\x07\x00\x03"
         "abc",
         8, "{h:7=abc;|x} rc=0 fault=none idle=1"},
        {"\x01h\x07\x00\x00", 5, "{h:7=;|x} rc=0 fault=none idle=1"},
        {"\x01h\x08\x00\x00\x00\x00\x00\x00\x00\x01", 11, "{h:8=1;|x} rc=0 fault=none idle=1"},
        {"\x01h\x09"
         "0123456789abcdef",
         19, "{h:9=30313233343536373839616263646566;|x} rc=0 fault=none idle=1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        expect_headers(cases[i].bytes, cases[i].len, cases[i].want);
        /* Every shorter section (the payload byte follows, so a frame still fits) is cut. */
        for (size_t n = 1; n < cases[i].len; n++)
            expect_headers(cases[i].bytes, n, " rc=-3 fault=malformed header idle=1");
    }
}

static void test_malformed_headers(void **state)
{
    (void)state;
    const char *bad = " rc=-3 fault=malformed header idle=1";
    expect_headers("\x00\x07\x00\x00", 4, bad);  /* empty name */
    expect_headers("\x05h\x07\x00\x00", 5, bad); /* name past the section */
    expect_headers("\x01h\x07\x00\x05"
                   "abc",
                   8, bad);                      /* string past the section */
    expect_headers("\x01h\x06\x80\x00", 5, bad); /* byte array of 32768 */
    expect_headers("\x01h\x00\x01", 4, bad);     /* a second header cut at once */
    expect_headers("\x01h\x0a", 3, " rc=-3 fault=unknown header value type idle=1");
    expect_headers("\x01h\xff", 3, " rc=-3 fault=unknown header value type idle=1");
    /* A good header, then an unknown type: nothing is handed out. */
    expect_headers("\x01h\x00\x01i\x0a", 6, " rc=-3 fault=unknown header value type idle=1");
    /* The longest value allowed. */
    char *h = pl_malloc(5 + 32767);
    memcpy(h, "\x01h\x07\x7f\xff", 5);
    memset(h + 5, 'a', 32767);
    size_t len;
    uint8_t *p = frame(h, 5 + 32767, NULL, 0, &len);
    char *s = run(p, len, NULL, 0);
    assert_non_null(strstr(s, "aaaa;|} rc=0 fault=none idle=1"));
    pl_free(s);
    pl_free(p);
    pl_free(h);
}

static void test_callback_stop_is_returned_and_sticks(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = load("chunk.bin", &len);
    uint8_t *two = pl_malloc(2 * len);
    memcpy(two, data, len);
    memcpy(two + len, data, len);
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, 0);
    struct outcome o = {.stop_after = 1};
    pl_buf_init(&o.text, SIZE_MAX);
    assert_int_equal(aws_es_decoder_feed(&d, two, 2 * len, on_frame, &o), 99);
    assert_int_equal(o.frames, 1);
    assert_int_equal(d.fault, AWS_ES_FAULT_STOPPED);
    assert_sticky(&d, 99);
    aws_es_decoder_cleanup(&d);
    pl_buf_cleanup(&o.text);
    pl_free(two);
    pl_free(data);
}

/* ---- classification ---- */

struct kind_seen {
    struct aws_es_message m;
    struct aws_es_failure fail;
};

static int on_kind(void *ud, const struct aws_es_frame *f)
{
    struct kind_seen *k = ud;
    aws_es_message_read(f, &k->m);
    if (k->m.kind == AWS_ES_KIND_EXCEPTION)
        aws_es_classify_exception(k->m.exception_type, "msg", &k->fail);
    else if (k->m.kind == AWS_ES_KIND_ERROR)
        aws_es_classify_error(k->m.error_code, k->m.error_message, &k->fail);
    return 0;
}

static struct kind_seen read_kind(const char *file)
{
    size_t len;
    uint8_t *data = load(file, &len);
    struct kind_seen k;
    memset(&k, 0, sizeof(k));
    struct aws_es_decoder d;
    aws_es_decoder_init(&d, 0);
    assert_int_equal(aws_es_decoder_feed(&d, data, len, on_kind, &k), PL_OK);
    aws_es_decoder_cleanup(&d);
    pl_free(data);
    return k;
}

static void test_message_kinds(void **state)
{
    (void)state;
    struct kind_seen k = read_kind("chunk.bin");
    assert_int_equal(k.m.kind, AWS_ES_KIND_EVENT);
    assert_string_equal(k.m.event_type, "chunk");
    assert_string_equal(k.m.content_type, "application/json");
    assert_string_equal(k.m.exception_type, "");

    k = read_kind("throttling.bin");
    assert_int_equal(k.m.kind, AWS_ES_KIND_EXCEPTION);
    assert_string_equal(k.m.exception_type, "throttlingException");
    assert_int_equal(k.fail.error, API_ERR_RATE_LIMITED);
    assert_true(k.fail.retryable);
    assert_string_equal(k.fail.detail, "Bedrock throttlingException: msg");

    k = read_kind("model_stream_error.bin");
    assert_int_equal(k.m.kind, AWS_ES_KIND_EXCEPTION);
    assert_int_equal(k.fail.error, API_ERR_UPSTREAM_ERROR);
    assert_false(k.fail.retryable);

    k = read_kind("error.bin");
    assert_int_equal(k.m.kind, AWS_ES_KIND_ERROR);
    assert_string_equal(k.m.error_code, "InternalFailure");
    assert_string_equal(k.m.error_message, "unmodelled failure");
    assert_int_equal(k.fail.error, API_ERR_UPSTREAM_ERROR);
    assert_false(k.fail.retryable);
    assert_string_equal(k.fail.detail, "Bedrock error InternalFailure: unmodelled failure");

    k = read_kind("all_types.bin"); /* no :message-type */
    assert_int_equal(k.m.kind, AWS_ES_KIND_UNKNOWN);
}

static void test_exception_table(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        enum api_error error;
        bool retryable;
    } cases[] = {
        {"throttlingException", API_ERR_RATE_LIMITED, true},
        {"ThrottlingException", API_ERR_RATE_LIMITED, true},
        {"serviceUnavailableException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {"ServiceUnavailableException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {"internalServerException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {"modelTimeoutException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {"ModelNotReadyException", API_ERR_UPSTREAM_UNAVAILABLE, true},
        {"modelStreamErrorException", API_ERR_UPSTREAM_ERROR, false},
        {"validationException", API_ERR_UPSTREAM_ERROR, false},
        {"ValidationException", API_ERR_UPSTREAM_ERROR, false},
        {"AccessDeniedException", API_ERR_UPSTREAM_ERROR, false},
        {"ResourceNotFoundException", API_ERR_UPSTREAM_ERROR, false},
        {"ServiceQuotaExceededException", API_ERR_UPSTREAM_ERROR, false},
        {"throttlingexception", API_ERR_UPSTREAM_ERROR, false}, /* only the first letter folds */
        {"somethingNew", API_ERR_UPSTREAM_ERROR, false},
        {"", API_ERR_UPSTREAM_ERROR, false},
        {NULL, API_ERR_UPSTREAM_ERROR, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct aws_es_failure f;
        aws_es_classify_exception(cases[i].type, NULL, &f);
        if (f.error != cases[i].error || f.retryable != cases[i].retryable)
            fail_msg("%s: got %d/%d", cases[i].type ? cases[i].type : "NULL", (int)f.error,
                     (int)f.retryable);
    }
    struct aws_es_failure f;
    aws_es_classify_exception(NULL, NULL, &f);
    assert_string_equal(f.detail, "Bedrock (no exception type): ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_chunk_frame),
        cmocka_unit_test(test_specification_vector),
        cmocka_unit_test(test_every_header_type),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_corrupt_prelude_crc),
        cmocka_unit_test(test_corrupt_message_crc),
        cmocka_unit_test(test_oversized_frame_fails_at_its_prelude),
        cmocka_unit_test(test_impossible_lengths),
        cmocka_unit_test(test_each_header_type_alone_and_cut_short),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_callback_stop_is_returned_and_sticks),
        cmocka_unit_test(test_message_kinds),
        cmocka_unit_test(test_exception_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
