/* Streaming HTTP client over libcurl's multi interface in socket mode, driven by the libuv loop
 * (one uv_poll_t per socket, one uv_timer_t for curl's timeouts). The only file that touches
 * curl's sockets. Every upstream call of connectors/ goes through here. Outbound only: its
 * symbols are all http_client_*, apart from the inbound server's (bot/http_req.h). Loop thread
 * only. */
#ifndef PARLEY_CONNECTORS_HTTP_CLIENT_H
#define PARLEY_CONNECTORS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct http_client;
struct http_client_transfer;

struct http_client_request {
    const char *method; /* "POST", "GET" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines; borrowed */
    const char *body;           /* copied */
    size_t body_len;
    uint32_t connect_timeout_ms; /* 0: 10 s */
    uint32_t idle_timeout_ms;    /* no response bytes for this long: PL_ETIMEDOUT; 0: none */
    uint32_t total_timeout_ms;   /* whole transfer deadline; 0: none */
};

struct http_client_callbacks {
    /** The final response's status line and headers have arrived. Non-zero aborts. */
    int (*on_headers)(void *ud, int status);
    /** Body bytes, in order, exactly as received (chunked encoding removed). Non-zero aborts. */
    int (*on_data)(void *ud, const char *data, size_t len);
    /** Exactly once per started transfer: PL_OK when the body ended normally, else PL_EIO
     *  (connection failed or cut), PL_ETIMEDOUT, PL_ECANCELED (http_client_abort or destroy) or
     *  PL_EPROTO. `detail` is one line for logs. */
    void (*on_done)(void *ud, int status, const char *detail);
};

int http_client_create(uv_loop_t *loop, struct http_client **out);
/** Aborts every transfer (on_done with PL_ECANCELED) and releases the client once the loop
 *  has closed its handles. Accepts NULL. */
void http_client_destroy(struct http_client *hc);

/** Start a transfer (`req` is borrowed for the call, its body copied). Returns NULL, and the
 *  callbacks never run, on invalid arguments, once http_client_destroy has begun, or when curl
 *  refuses the transfer (out of memory, or a start from inside this client's own callbacks). */
struct http_client_transfer *http_client_start(struct http_client *hc,
                                               const struct http_client_request *req,
                                               const struct http_client_callbacks *cbs, void *ud);
/** Abort: on_done runs with PL_ECANCELED before this returns; the transfer is gone after.
 *  Must not be called from inside this transfer's own callbacks (return non-zero there). */
void http_client_abort(struct http_client_transfer *t);
/** Copy the value of response header `name` (case-insensitive) into `out` (truncated to fit);
 *  false if absent. Valid from on_headers until on_done returns. */
bool http_client_response_header(const struct http_client_transfer *t, const char *name, char *out,
                                 size_t outlen);

#endif
