/* Wire format of the caller protocol (docs/protocol.md): encoders for every server-to-client
 * message, shared by the WebSocket (parley.chat.v1) and the HTTP message API (whose SSE events
 * carry the same JSON objects), and the validating parsers of client frames and message bodies.
 * Pure functions with no I/O; chat.c and http_messages.c do the sending. */
#ifndef PARLEY_BOT_CHAT_PROTO_H
#define PARLEY_BOT_CHAT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot/turn/turn_engine.h"
#include "common/api_error.h"
#include "common/buf.h"

/* ---- server to client ----
 * Each encoder appends one compact JSON object to `b` (it never resets it, so the caller may
 * reserve headroom first). Strings are escaped as RFC 8259 requires; bytes that are not valid
 * UTF-8 are replaced by U+FFFD so that the frame is always valid UTF-8, and a NULL string is
 * written as null. If the buffer's maximum would be passed, `b` is left exactly as it was. */

/** {"type":"ready","session_id":SID,"token":T,"resumed":bool} */
void chat_out_ready(struct pl_buf *b, const char *sid, const char *token, bool resumed);
/** {"type":"ack","id":CLIENT_ID,"turn":N}; a NULL `client_id` gives "id":null. */
void chat_out_ack(struct pl_buf *b, const char *client_id, long turn);
/** {"type":"turn_start","turn":N} */
void chat_out_turn_start(struct pl_buf *b, long turn);
/** {"type":"agent_joined","name":N}: a human agent took the conversation over. */
void chat_out_agent_joined(struct pl_buf *b, const char *name);
/** {"type":"agent_message","text":S}: the agent's line (`len` bytes of UTF-8). */
void chat_out_agent_message(struct pl_buf *b, const char *text, size_t len);
/** {"type":"agent_left"}: the agent handed the conversation back to the bot. */
void chat_out_agent_left(struct pl_buf *b);
/** {"type":"delta","turn":N,"seq":K,"text":S} with the `len` bytes of `text`. */
void chat_out_delta(struct pl_buf *b, long turn, long seq, const char *text, size_t len);

/** {"type":"turn_end","turn":N,"stop_reason":S,"usage":{"input_tokens":I,"output_tokens":O,
 *  "cache_read_input_tokens":R,"cache_creation_input_tokens":W},"cost_usd_micros":C,"citations":[{"source":S,"title":S}...]},
 * with "answered_in":M after "turn" when another turn's answer covered this one (M != N), and
 * "text":S at the end when the answer was not told as deltas here (end->streamed false). */
void chat_out_turn_end(struct pl_buf *b, const struct turn_end *end);
/** {"type":"error","code":C,"message":S,"retryable":bool} from the error table; `message` NULL
 *  gives the table's default message. */
void chat_out_error(struct pl_buf *b, enum api_error code, const char *message);
/** The same, with "retry_after_ms":N last when `retry_after_ms` is not 0: a refusal by a rate
 *  limit says how long to wait before the same request may succeed. */
void chat_out_error_retry_after(struct pl_buf *b, enum api_error code, const char *message,
                                uint32_t retry_after_ms);
/** The HTTP message API's answer to an ended turn: {"turn":N[,"answered_in":M],"text":S,
 *  "stop_reason":S,"usage":{...},"cost_usd_micros":C,"citations":[...]} (plus "error":{...}
 *  when the turn failed before any text, with end->error_message when set). */
void chat_out_answer(struct pl_buf *b, const struct turn_end *end);
/** The HTTP message API's answer to a turn not ended yet: {"turn":N,"status":"pending"[,"text":S]}
 *  (`text` NULL leaves "text" out). */
void chat_out_pending(struct pl_buf *b, long turn, const char *text, size_t len);

struct chat_history_item {
    const char *role; /* "caller", "assistant" or "agent" */
    const char *text; /* NUL-terminated */
    long turn;
    long long ts_ms;
    const char *stop_reason; /* NULL if none; when set the item gets "stop_reason" */
    const char *agent;       /* NULL if none; when set the item gets "agent" (agents' view) */
};

/** {"type":"history","messages":[{"role":R,"text":S,"turn":N,"ts":MS[,"stop_reason":S]
 *  [,"agent":A]}...]};
 *  `items` may be NULL when `n` is 0. */
void chat_out_history(struct pl_buf *b, const struct chat_history_item *items, size_t n);

/* ---- client to server ---- */

struct chat_limits {
    size_t max_frame_bytes; /* longest frame, in bytes */
    size_t max_text_chars;  /* longest message text, in code points */
};

enum chat_in_type { CHAT_IN_HELLO, CHAT_IN_MESSAGE, CHAT_IN_CANCEL, CHAT_IN_ESCALATE };

struct chat_in {
    enum chat_in_type type;
    char *token; /* hello: new, NULL when absent or null */
    bool has_resume;
    long resume_turn; /* hello with resume: >= 1 */
    long resume_seq;  /* hello with resume: >= -1 */
    char *id;         /* message: new client id (1..128 bytes), NULL when absent or null */
    char *text;       /* message: new, NUL-terminated, as sent (not trimmed) */
    size_t text_len;  /* bytes of `text` */
    char *reason;     /* escalate: new, NULL when absent or null */
};

struct chat_error {
    enum api_error code; /* API_ERR_BAD_REQUEST or API_ERR_TOO_LARGE */
    char message[200];   /* for the caller: what is wrong and what to do; valid UTF-8 */
};

/** Parse and validate one text frame of `len` bytes at `data` (borrowed) under `lim`.
 *  PL_OK: `*out` is filled (free it with chat_in_cleanup). PL_EINVAL: `err` says why, with code
 *  API_ERR_TOO_LARGE (frame longer than max_frame_bytes, text longer than max_text_chars) or
 *  API_ERR_BAD_REQUEST (not UTF-8, not a JSON object, no or unknown "type", a field of the wrong
 * type or out of range, an empty text, a NUL character); `*out` then holds nothing to free but
 *  chat_in_cleanup is still safe. Fields not listed in the protocol are ignored, and an optional
 *  field given as null counts as absent. */
int chat_in_parse(const char *data, size_t len, const struct chat_limits *lim, struct chat_in *out,
                  struct chat_error *err);

/** Parse the body of POST /v1/sessions/{sid}/messages: a JSON object {"id":S?,"text":S} checked
 *  as a `message` frame is ("type" may be left out; if present it must be "message"). On PL_OK
 *  `out->type` is CHAT_IN_MESSAGE. */
int chat_in_parse_message(const char *data, size_t len, const struct chat_limits *lim,
                          struct chat_in *out, struct chat_error *err);

/** Free the strings of `in` and clear it. Accepts NULL and a cleared struct. */
void chat_in_cleanup(struct chat_in *in);

#endif
