/* A small blocking WebSocket client (RFC 6455, ws:// only) for tools and tests: `parley chat`,
 * the integration tests. Never used inside the server, whose loop must not block. */
#ifndef PARLEY_COMMON_WSC_H
#define PARLEY_COMMON_WSC_H

#include <stdbool.h>
#include <stddef.h>

struct wsc;

/** Connect to ws://HOST:PORT/PATH offering `subprotocol` (may be NULL), within timeout_ms.
 *  NULL with a message in `err` on failure (refused, bad handshake, subprotocol refused). */
struct wsc *wsc_connect(const char *url, const char *subprotocol, int timeout_ms, char *err,
                        size_t errlen);
/** Send one text message (masked, one frame). 0 or -1. */
int wsc_send_text(struct wsc *w, const void *data, size_t len);
/** Send one frame with the given opcode and FIN bit (for fragmented or binary test frames). */
int wsc_send_frame(struct wsc *w, int opcode, bool fin, const void *data, size_t len);
/** Send raw bytes as they are (deliberately broken frames in tests). */
int wsc_send_raw(struct wsc *w, const void *data, size_t len);
/** Receive the next whole data message (new NUL-terminated buffer, pl_free it). Pings are
 *  answered on the way. PL_OK, PL_ETIMEDOUT, PL_ECLOSED (close frame or EOF; see
 *  wsc_close_code), PL_EPROTO. */
int wsc_recv(struct wsc *w, int timeout_ms, char **msg, size_t *len, int *opcode);
/** The close code the server sent, or 0. */
int wsc_close_code(const struct wsc *w);
/** Send a close frame (if still open) and free. Accepts NULL. */
void wsc_close(struct wsc *w);

#endif
