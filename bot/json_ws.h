/* One JSON-over-WebSocket connection: what the caller protocol (bot/chat.c) and the agent
 * protocol (bot/agent.c) do the same way below their own frames. Embed a `struct json_ws` in
 * the protocol's connection object and give it its ops; the module then
 *  - reassembles messages up to --max-frame-bytes (a larger one is answered `too_large` and
 *    dropped; the connection stays) and refuses binary ones, handing each complete text message
 *    to ops->frame;
 *  - sends frames built in the process's one frame buffer (json_ws_frame): written at once when
 *    the socket has room, else queued up to --send-queue-bytes, past which the client is
 *    disconnected as too slow (the queue is bounded);
 *  - keeps the hello deadline (--hello-timeout-ms) and counts failed hellos
 *    (--max-hello-attempts), closing with a reason once the frames that say why are out;
 *  - closes with 1001 at shutdown once the queue is written;
 *  - counts references: async work holds one (json_ws_ref), so a closed socket never leaves a
 *    dangling pointer; ops->release frees the embedding object when the last one goes.
 * Loop thread only. */
#ifndef PARLEY_BOT_JSON_WS_H
#define PARLEY_BOT_JSON_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bot/server.h"
#include "common/api_error.h"
#include "common/buf.h"

struct conn;
struct json_ws;
struct json_ws_out;

struct json_ws_ops {
    const char *log_tag;   /* "chat", "agent" */
    const char *who_label; /* what `who` names in a log line: "sess", "agent" */
    /** A complete text message (`data` borrowed for the call). */
    void (*frame)(struct json_ws *ws, const char *data, size_t len);
    /** The socket closed: detach from what the protocol follows. The module drops its own
     *  reference right after. May be NULL. */
    void (*closed)(struct json_ws *ws);
    /** The last reference went: free the embedding object (after json_ws_cleanup). */
    void (*release)(struct json_ws *ws);
    /** Who the connection is, for a log line (a session id, an agent's name); may be NULL. */
    const char *(*who)(const struct json_ws *ws);
};

struct json_ws {
    const struct json_ws_ops *ops;
    struct bot_server *srv;
    struct conn *conn; /* NULL once the socket closed */
    bool ready;        /* hello succeeded (json_ws_ready): the hello deadline no longer applies */
    /* the module's */
    int refs;
    struct pl_buf rx;
    bool rx_discard; /* dropping the rest of an oversized message */
    struct json_ws_out *out_head, *out_tail;
    size_t out_bytes;
    bool too_slow, write_failed, close_sent;
    uv_timer_t hello_timer;
    bool hello_timer_open;
    uint32_t hello_failures;
    uint16_t close_code; /* a close decided, sent once the queued frames are out */
    char close_why[124];
};

/** Start `ws` on a new WebSocket `conn` (one reference, the socket's, plus the hello timer's). */
void json_ws_open(struct json_ws *ws, const struct json_ws_ops *ops, struct bot_server *srv,
                  struct conn *conn);
void json_ws_ref(struct json_ws *ws);
void json_ws_unref(struct json_ws *ws);

/** The process's one frame buffer, emptied (bot/outbuf.h headroom kept): build a frame there
 *  and send it before building the next, so no frame costs an allocation. */
struct pl_buf *json_ws_frame(struct json_ws *ws);
/** Send the frame built in `frame` (json_ws_frame). Nothing once closing or closed. */
void json_ws_send(struct json_ws *ws, struct pl_buf *frame);
/** Send an `error` frame (common/api_error.h; `message` NULL: the table's) with a retry hint
 *  (0: none), counted in the metrics. */
void json_ws_send_error(struct json_ws *ws, enum api_error code, const char *message,
                        uint32_t retry_after_ms);
/** Close with `code` and `why` once the frames queued before are out; nothing more is read. */
void json_ws_close_when_flushed(struct json_ws *ws, uint16_t code, const char *why);
/** A hello that did not lead to ready: the error, and a close after --max-hello-attempts. */
void json_ws_hello_failed(struct json_ws *ws, enum api_error code, const char *message,
                          uint32_t retry_after_ms);
/** Hello succeeded: `ready`, and the deadline is over. */
void json_ws_ready(struct json_ws *ws);
/** True once a close is decided or sent, or the socket is gone: answer nothing more. */
bool json_ws_closing(const struct json_ws *ws);

/* The endpoint's calls (struct ws_endpoint, bot/conn.h) for the protocol's table entry, whose
 * `open` returns the json_ws it embeds as the connection's `app`. */
int json_ws_receive(void *app, const void *data, size_t len, bool first, bool final, bool binary);
int json_ws_writeable(void *app);
void json_ws_closed(void *app);

/** Free what the module holds (the queue, the reassembly buffer); for ops->release. */
void json_ws_cleanup(struct json_ws *ws);

#endif
