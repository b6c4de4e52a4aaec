/* A small blocking WebSocket client (RFC 6455) for tools and tests: `parley chat`, the
 * integration tests. Never used inside the server, whose loop must not block.
 * ws:// only: wss:// (TLS) is not supported. */
#ifndef PARLEY_COMMON_WSC_H
#define PARLEY_COMMON_WSC_H

#include <stdbool.h>
#include <stddef.h>

struct wsc;

/** Connect to ws://HOST[:PORT][/PATH] (port 80 and path "/" by default; HOST may be a name, an
 *  IPv4 address or a bracketed IPv6 address) offering `subprotocol` (NULL: none) and complete
 *  the handshake, all within `timeout_ms`. New client (free with wsc_close), or NULL with a
 *  message in `err` (borrowed, `errlen` bytes): bad URL, refused, timed out, handshake refused,
 *  subprotocol not echoed. */
struct wsc *wsc_connect(const char *url, const char *subprotocol, int timeout_ms, char *err,
                        size_t errlen);
/** Send one text message (masked, one frame). 0, or -1 if the connection failed. */
int wsc_send_text(struct wsc *w, const void *data, size_t len);
/** Send one masked frame with any opcode and FIN bit (fragmented, binary, reserved-opcode or
 *  oversized test frames). 0 or -1. */
int wsc_send_frame(struct wsc *w, int opcode, bool fin, const void *data, size_t len);
/** Wait up to `timeout_ms` for the next whole data message: PL_OK with `*msg` (new,
 *  NUL-terminated, pl_free it), `*len` and `*opcode` (1 text, 2 binary); fragments are joined,
 *  pings answered with pongs on the way, pongs dropped. Otherwise `*msg` is NULL and the result
 *  is PL_ETIMEDOUT, PL_ECLOSED (a close frame, answered, or the connection ended; see
 *  wsc_close_code), PL_EPROTO (the server broke RFC 6455) or PL_ETOOBIG (a message over 64 MiB);
 *  after PL_ECLOSED, PL_EPROTO or PL_ETOOBIG every further call returns PL_ECLOSED. */
int wsc_recv(struct wsc *w, int timeout_ms, char **msg, size_t *len, int *opcode);
/** The status code of the server's close frame, 1005 if it had none, 0 if none was received. */
int wsc_close_code(const struct wsc *w);
/** Send a close frame (1000) if still open, close the socket and free. Accepts NULL. */
void wsc_close(struct wsc *w);

#endif
