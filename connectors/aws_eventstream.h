/* Incremental decoder of the AWS event-stream binary framing (application/vnd.amazon.eventstream,
 * the body of Bedrock's streaming answers; docs/architecture.md, Connectors). Bytes may arrive in
 * any pieces: a frame split at any byte, or several frames in one read. Each complete frame is
 * checked (both CRC-32s, every header walked by its type's width) and handed to a callback, in
 * place in the caller's bytes when it arrived whole, else from the decoder's buffer of at most one
 * frame. I/O-free. After a failure the decoder is stuck: every later call returns the same error.
 */
#ifndef PARLEY_CONNECTORS_AWS_EVENTSTREAM_H
#define PARLEY_CONNECTORS_AWS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The largest frame a decoder accepts: AWS's own limit for one event-stream message (16 MiB).
 * A Bedrock chunk carries at most 1,000,000 payload bytes, base64 in JSON: about 1.4 MB. */
#define AWS_ES_MAX_FRAME (16u * 1024 * 1024)
/* The largest headers section (AWS's limit, 128 KiB). */
#define AWS_ES_MAX_HEADERS_LEN (128u * 1024)
/* Prelude (total length, headers length, prelude CRC) plus the message CRC. */
#define AWS_ES_OVERHEAD 16u
/* The longest byte-array or string header value. */
#define AWS_ES_MAX_VALUE_LEN 32767u

/* Header value types, numbered as on the wire. */
enum aws_es_type {
    AWS_ES_BOOL_TRUE = 0,
    AWS_ES_BOOL_FALSE = 1,
    AWS_ES_BYTE = 2,
    AWS_ES_SHORT = 3,
    AWS_ES_INT = 4,
    AWS_ES_LONG = 5,
    AWS_ES_BYTES = 6,
    AWS_ES_STRING = 7,
    AWS_ES_TIMESTAMP = 8, /* milliseconds since the epoch */
    AWS_ES_UUID = 9
};

/* Why a decoder stopped (PL_OK's counterpart is AWS_ES_FAULT_NONE). */
enum aws_es_fault {
    AWS_ES_FAULT_NONE = 0,
    AWS_ES_FAULT_PRELUDE_CRC,  /* the prelude's CRC-32 does not match: PL_EPROTO */
    AWS_ES_FAULT_MESSAGE_CRC,  /* the message CRC-32 does not match: PL_EPROTO */
    AWS_ES_FAULT_TOO_BIG,      /* total length over the decoder's maximum: PL_ETOOBIG */
    AWS_ES_FAULT_BAD_LENGTH,   /* total under 16, or headers longer than the frame: PL_EPROTO */
    AWS_ES_FAULT_BAD_HEADER,   /* a header cut short, with an empty name or an overlong value */
    AWS_ES_FAULT_UNKNOWN_TYPE, /* a header value type over 9: PL_EPROTO */
    AWS_ES_FAULT_STOPPED       /* the frame callback returned non-zero: its value */
};

/* One header, borrowed from the frame. */
struct aws_es_header {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    enum aws_es_type type;
    int64_t integer;      /* byte, short, int, long, timestamp (sign-extended); bool as 1 or 0 */
    const uint8_t *value; /* byte array, string (not NUL-terminated) and uuid bytes; else NULL */
    size_t value_len;     /* their length (16 for a uuid) */
};

/* One verified frame, borrowed for the callback. */
struct aws_es_frame {
    const uint8_t *headers; /* the raw headers section, already validated */
    size_t headers_len;
    const uint8_t *payload;
    size_t payload_len;
};

/** Called once per frame, in order. A non-zero return stops aws_es_decoder_feed, which returns
 *  it, and sticks. */
typedef int (*aws_es_frame_cb)(void *ud, const struct aws_es_frame *frame);

struct aws_es_decoder {
    struct pl_buf partial; /* the bytes of a frame that has not fully arrived */
    size_t max_frame;
    int error; /* sticky: PL_OK until the first failure */
    enum aws_es_fault fault;
};

/** Prepare a decoder that accepts frames of at most `max_frame` bytes (0 or more than
 *  AWS_ES_MAX_FRAME gives AWS_ES_MAX_FRAME; less than 16 gives 16). */
void aws_es_decoder_init(struct aws_es_decoder *d, size_t max_frame);
/** Feed bytes; calls `cb` for each complete frame. A frame whose prelude announces more than the
 *  maximum fails as soon as its 12-byte prelude has arrived, before any of it is buffered.
 *  PL_OK, PL_EPROTO or PL_ETOOBIG (see d->fault), or cb's non-zero return. */
int aws_es_decoder_feed(struct aws_es_decoder *d, const void *data, size_t len, aws_es_frame_cb cb,
                        void *ud);
/** True when no partial frame is held: a stream that ends otherwise was cut short. */
bool aws_es_decoder_idle(const struct aws_es_decoder *d);
/** Free the decoder's buffer. */
void aws_es_decoder_cleanup(struct aws_es_decoder *d);
/** A short stable name of a fault ("prelude CRC mismatch"); never NULL. */
const char *aws_es_fault_name(enum aws_es_fault fault);

/** Walk a frame's headers: start with *pos = 0; fills `h` and returns true for each header in
 *  order, false after the last. */
bool aws_es_header_next(const struct aws_es_frame *f, size_t *pos, struct aws_es_header *h);
/** The first header named `name`; false if there is none. */
bool aws_es_header_find(const struct aws_es_frame *f, const char *name, struct aws_es_header *h);
/** The string value of header `name` copied into `out` (NUL-terminated, cut to fit outlen > 0);
 *  false, with `out` empty, if absent or not a string. */
bool aws_es_header_string(const struct aws_es_frame *f, const char *name, char *out, size_t outlen);

/** Validate a headers section as a frame's would be (for tests and the fuzzer): AWS_ES_FAULT_NONE
 *  or the fault. */
enum aws_es_fault aws_es_headers_check(const uint8_t *p, size_t len);

#endif
