/* One client connection of parleyd, from its first byte to its close: Parley reads HTTP and
 * WebSocket itself (libwebsockets only carries the bytes: bot/ws_server.c). A connection speaks
 * HTTP/1.1 (bot/http_parse.h; keep-alive and pipelining, one request answered at a time, routes
 * answering through bot/http_server.h) until a request upgrades it to a WebSocket (/v1/chat,
 * subprotocol parley.chat.v1), whose frames (common/ws_rx.h) go to the caller protocol
 * (bot/chat.h), which sends through conn_ws_send. Around them: the Origin check and CORS
 * (bot/origin.h), request deadlines, WebSocket pings and the close handshake. After any framing
 * error the answer says Connection: close and nothing after the error is read as a request.
 * docs/protocol.md ("Framing") lists the rules and limits. Loop thread only. */
#ifndef PARLEY_BOT_CONN_H
#define PARLEY_BOT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot/server.h"
#include "common/ws_frame.h"

struct conn;

/* What carries a connection's bytes (bot/ws_server.c, over libwebsockets' raw sockets). */
struct conn_transport {
    /** Send `len` bytes: written now, or kept by the transport and written in order as the
     *  socket takes them. 0, or -1 when the socket failed (the connection is then closed). */
    int (*write)(void *handle, const unsigned char *data, size_t len);
    /** True while the transport keeps bytes not yet written. */
    bool (*pending)(void *handle);
    /** Call conn_on_writable once nothing is pending and the socket takes more. */
    void (*want_writable)(void *handle);
    /** Stop reading (true) or read again. */
    void (*pause_rx)(void *handle, bool pause);
    /** Send FIN after what is written; reading goes on until the peer's EOF. */
    void (*shutdown_write)(void *handle);
    /** Close now: conn_on_closed is called before this returns. Called only from the
     *  connection's own timer, outside the transport's calls. */
    void (*close)(void *handle);
};

/* A WebSocket protocol and the path it is served on (bot/chat.h's chat_ws_endpoint). The
 * server's table of them (bot_server.ws_endpoints, filled by main.c) is where a new WebSocket
 * channel attaches: conn.c knows none by name. `open` returns the protocol's state for the
 * connection, handed back to the other calls; receive and writeable return -1 to close. */
struct ws_endpoint {
    const char *path;        /* "/v1/chat" */
    const char *subprotocol; /* "parley.chat.v1": the client must offer it */
    void *(*open)(struct bot_server *srv, struct conn *c);
    int (*receive)(void *app, const void *data, size_t len, bool first, bool final, bool binary);
    int (*writeable)(void *app);
    void (*closed)(void *app);
};

/** A connection was accepted from `peer` (its address, for logs and per-address limits). */
struct conn *conn_open(struct bot_server *srv, const struct conn_transport *tp, void *handle,
                       const char *peer);
/** Bytes arrived (`data` may be changed in place: WebSocket payloads are unmasked there). -1:
 *  close the connection now. */
int conn_on_data(struct conn *c, char *data, size_t len);
/** Nothing is pending and the socket takes more (after want_writable). -1: close now. */
int conn_on_writable(struct conn *c);
/** The socket closed: the request or WebSocket protocol on it is told, and `c` is freed (once
 *  its timer handle has closed). */
void conn_on_closed(struct conn *c);

/** `c` was accepted past the connection cap (bot/acceptor.h): it answers one GET of /healthz,
 *  /readyz or /metrics and closes; anything else (a WebSocket upgrade too) is answered 503
 *  `busy` after calling `refused(ud)`. */
void conn_serve_health_checks_only(struct conn *c, void (*refused)(void *ud), void *ud);
/** The key the connection counts under for per-address limits (bot/acceptor.h's
 *  acceptor_conn_peer: an IPv6 address by its /64; "" for a unix socket), copied. */
void conn_set_address_key(struct conn *c, const char *key);
const char *conn_address_key(const struct conn *c);
/** The connection comes from a trusted proxy (bot/acceptor.h acceptor_conn_via_proxy): each
 *  request counts under the client its X-Forwarded-For names, and a WebSocket under the client
 *  of its handshake. */
void conn_set_via_proxy(struct conn *c, bool via_proxy);
/** The peer's address ("127.0.0.1"; "unix" on a Unix socket). Borrowed from `c`. */
const char *conn_peer(const struct conn *c);
struct bot_server *conn_server(const struct conn *c);

/* ---- sending on a WebSocket (for bot/chat.c) ---- */

/* Bytes that every payload given to conn_ws_send has free before it: the frame header is
 * written there, so a frame costs no copy (bot/outbuf.h keeps more). */
#define CONN_WS_HEADROOM WS_FRAME_SERVER_HEADER_MAX

/** True when a frame sent now is written at once: the WebSocket is open, not closing, and
 *  nothing waits in the transport. Otherwise queue the frame (bounded) and wait for the
 *  protocol's writeable call (conn_ws_want_writable). */
bool conn_ws_can_send(const struct conn *c);
/** Send one whole frame of `opcode` (WS_TEXT) with the `len` bytes at `payload`, which has
 *  CONN_WS_HEADROOM writable bytes before it. PL_OK; PL_ECLOSED when the WebSocket is closing
 *  or closed; PL_EIO when the socket failed (the connection closes). */
int conn_ws_send(struct conn *c, int opcode, unsigned char *payload, size_t len);
/** Ask for the protocol's writeable call once the transport has written what it kept. */
void conn_ws_want_writable(struct conn *c);
/** Start the close handshake with `code` and `reason` (cut to 123 bytes): nothing is sent or
 *  delivered after it; the socket closes when the peer answers, or a second later. */
void conn_ws_close(struct conn *c, uint16_t code, const char *reason);

#endif
