/* libwebsockets on the libuv loop; see ws_server.h. Protocol 0 serves HTTP; "parley.chat.v1"
 * is the caller WebSocket, accepted on /v1/chat only. */
#include "bot/ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bot/acceptor.h"
#include "bot/chat.h"
#include "bot/http_server.h"
#include "bot/outbuf.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"

#define HTTP_BODY_MAX     (1024 * 1024)
#define HTTP_RESPONSE_MAX (64 * 1024 * 1024)

struct http_pss {
    struct http_server_req *req;
};

struct chat_pss {
    struct chat_conn *conn;
};

static struct bot_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- HTTP ---- */

const char *http_server_peer(const struct http_server_req *r)
{
    return r->wsi ? acceptor_conn_peer(lws_get_opaque_user_data(r->wsi)) : "";
}

void http_server_ref(struct http_server_req *r)
{
    r->refs++;
}

void http_server_unref(struct http_server_req *r)
{
    if (--r->refs > 0)
        return;
    pl_buf_cleanup(&r->body);
    pl_buf_cleanup(&r->resp);
    pl_free(r);
}

void http_server_reply(struct http_server_req *r, int status, const char *content_type,
                       const void *body, size_t len)
{
    if (r->answered || !r->wsi)
        return;
    r->answered = true;
    r->status = status;
    snprintf(r->resp_type, sizeof(r->resp_type), "%s",
             content_type ? content_type : "application/json");
    outbuf_restart(&r->resp);
    pl_buf_append(&r->resp, body, len);
    lws_callback_on_writable(r->wsi);
}

void http_server_reply_error_after(struct http_server_req *r, enum api_error code,
                                   const char *message, uint32_t retry_after_ms)
{
    struct pl_buf b;
    pl_buf_init(&b, 64 * 1024);
    pl_buf_append_str(&b, "{\"error\":{\"code\":\"");
    pl_buf_append_str(&b, api_error_code(code));
    pl_buf_append_str(&b, "\",\"message\":\"");
    const char *m = message ? message : api_error_message(code);
    pl_buf_append_json_escaped(&b, m, strlen(m));
    pl_buf_printf(&b, "\",\"retryable\":%s", api_error_retryable(code) ? "true" : "false");
    if (retry_after_ms)
        pl_buf_printf(&b, ",\"retry_after_ms\":%u", (unsigned)retry_after_ms);
    pl_buf_append_str(&b, "}}");
    r->retry_after_s = (uint32_t)((retry_after_ms + 999ULL) / 1000);
    http_server_reply(r, api_error_status(code), NULL, b.data, b.len);
    pl_buf_cleanup(&b);
}

void http_server_reply_error(struct http_server_req *r, enum api_error code, const char *message)
{
    http_server_reply_error_after(r, code, message, 0);
}

void http_server_reply_method_not_allowed(struct http_server_req *r, const char *allow)
{
    r->allow = allow;
    char msg[128];
    snprintf(msg, sizeof(msg), "%s is not allowed on this path; use %s", r->method, allow);
    http_server_reply_error(r, API_ERR_METHOD_NOT_ALLOWED, msg);
}

void http_server_stream_begin(struct http_server_req *r, int status, const char *content_type)
{
    if (r->answered || !r->wsi)
        return;
    r->answered = true;
    r->streaming = true;
    r->status = status;
    snprintf(r->resp_type, sizeof(r->resp_type), "%s", content_type);
    outbuf_restart(&r->resp);
    lws_callback_on_writable(r->wsi);
}

int http_server_stream_write(struct http_server_req *r, const void *data, size_t len)
{
    if (!r->wsi || !r->streaming || r->stream_ended)
        return PL_ECLOSED;
    if (r->resp.len + len > r->srv->cfg->send_queue_bytes) {
        PL_LOG(PL_LOG_WARN, "http", "%s %s: client too slow (%zu bytes queued); closing", r->method,
               r->path, r->resp.len);
        r->stream_ended = true;
        r->final_written = true; /* nothing more: the next WRITEABLE closes */
        pl_buf_reset(&r->resp);
        lws_callback_on_writable(r->wsi);
        return PL_ETOOBIG;
    }
    pl_buf_append(&r->resp, data, len);
    lws_callback_on_writable(r->wsi);
    return PL_OK;
}

void http_server_stream_end(struct http_server_req *r)
{
    if (!r->wsi || !r->streaming || r->stream_ended)
        return;
    r->stream_ended = true;
    lws_callback_on_writable(r->wsi);
}

void http_server_release_hooks(struct http_server_req *r)
{
    r->on_close = NULL;
    r->route_data = NULL;
}

static void copy_header(struct lws *wsi, enum lws_token_indexes tok, char *out, size_t outlen)
{
    out[0] = '\0';
    if (lws_hdr_total_length(wsi, tok) > 0 && lws_hdr_total_length(wsi, tok) < (int)outlen)
        lws_hdr_copy(wsi, out, (int)outlen, tok);
}

static int http_begin(struct lws *wsi, struct http_pss *pss, const char *uri)
{
    struct http_server_req *r = pl_calloc(1, sizeof(*r));
    r->srv = server_of(wsi);
    r->wsi = wsi;
    r->refs = 1;
    pss->req = r;
    pl_buf_init(&r->body, HTTP_BODY_MAX);
    outbuf_begin(&r->resp, HTTP_RESPONSE_MAX, 0);
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } methods[] = {{WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
                   {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_DELETE_URI, "DELETE"},
                   {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}, {WSI_TOKEN_HEAD_URI, "HEAD"},
                   {WSI_TOKEN_PATCH_URI, "PATCH"}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
            snprintf(r->method, sizeof(r->method), "%s", methods[i].name);
            break;
        }
    }
    snprintf(r->path, sizeof(r->path), "%s", uri);
    /* lws splits the query into fragments; join them back with '&'. */
    char frag[512];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
         i++) {
        size_t used = strlen(r->query);
        snprintf(r->query + used, sizeof(r->query) - used, "%s%s", used ? "&" : "", frag);
    }
    if (acceptor_conn_reserved(lws_get_opaque_user_data(wsi)) && strcmp(uri, "/healthz") != 0 &&
        strcmp(uri, "/readyz") != 0 && strcmp(uri, "/metrics") != 0) {
        acceptor_conn_refused(lws_get_opaque_user_data(wsi));
        http_server_reply_error(r, API_ERR_AT_CAPACITY, NULL);
        return 0;
    }
    copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, r->authorization, sizeof(r->authorization));
    copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, r->content_type, sizeof(r->content_type));
    copy_header(wsi, WSI_TOKEN_HTTP_ACCEPT, r->accept, sizeof(r->accept));
    bool has_body =
        !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH");
    char cl[32];
    copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
    if (has_body && cl[0] && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
        http_server_reply_error(r, API_ERR_TOO_LARGE, "request body is larger than 1 MiB");
        return 0;
    }
    if (!has_body || (cl[0] && strtoull(cl, NULL, 10) == 0) ||
        (!cl[0] && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0))
        r->srv->http_dispatch(r);
    return 0;
}

static int write_headers(struct lws *wsi, struct http_server_req *r)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    /* A stream has no length: lws then says "connection: close", and the end of the stream is
     * the end of the connection. */
    lws_filepos_t len =
        r->streaming ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)outbuf_len(&r->resp);
    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->resp_type, len, &p, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end))
        return -1;
    if (r->streaming &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-accel-buffering:",
                                    (const unsigned char *)"no", 2, &p, end))
        return -1; /* proxies such as nginx pass each event on at once */
    char seconds[16];
    int n = snprintf(seconds, sizeof(seconds), "%u", (unsigned)r->retry_after_s);
    if (r->retry_after_s && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                        (const unsigned char *)seconds, n, &p, end))
        return -1;
    if (r->allow && lws_add_http_header_by_name(
                        wsi, (const unsigned char *)"allow:", (const unsigned char *)r->allow,
                        (int)strlen(r->allow), &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    r->headers_sent = true;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Write what the stream has queued; close once it has ended and everything is out (lws calls
 * WRITEABLE only once an earlier partial write has been sent). */
static int write_stream(struct lws *wsi, struct http_server_req *r)
{
    if (r->final_written)
        return -1;
    size_t len = outbuf_len(&r->resp);
    if (len == 0 && !r->stream_ended)
        return 0;
    int n = lws_write(wsi, outbuf_payload(&r->resp), len,
                      r->stream_ended ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    outbuf_restart(&r->resp);
    if (n < (int)len)
        return -1;
    if (r->stream_ended) {
        r->final_written = true;
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int http_write(struct lws *wsi, struct http_server_req *r)
{
    if (!r || !r->answered)
        return 0;
    if (!r->headers_sent)
        return write_headers(wsi, r);
    if (r->streaming)
        return write_stream(wsi, r);
    size_t len = outbuf_len(&r->resp);
    if (lws_write(wsi, outbuf_payload(&r->resp), len, LWS_WRITE_HTTP_FINAL) < (int)len)
        return -1;
    if (acceptor_conn_reserved(lws_get_opaque_user_data(wsi)))
        return -1; /* one answer per connection past the cap */
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static void http_closed(struct http_pss *pss)
{
    struct http_server_req *r = pss->req;
    if (!r)
        return;
    pss->req = NULL;
    r->wsi = NULL;
    void (*on_close)(struct http_server_req *) = r->on_close;
    r->on_close = NULL;
    if (on_close)
        on_close(r);
    http_server_unref(r);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_begin(wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss->req && !pss->req->body_too_large &&
            pl_buf_append(&pss->req->body, in, len) != PL_OK)
            pss->req->body_too_large = true;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!pss->req)
            return -1;
        if (pss->req->body_too_large)
            http_server_reply_error(pss->req, API_ERR_TOO_LARGE,
                                    "request body is larger than 1 MiB");
        else
            pss->req->srv->http_dispatch(pss->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_write(wsi, pss->req);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss)
            http_closed(pss);
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a WebSocket without a subprotocol we speak */
    case LWS_CALLBACK_WSI_DESTROY: {
        /* The socket is closed (lws calls this for every connection, whatever its protocol). */
        struct acceptor_conn *conn = lws_get_opaque_user_data(wsi);
        lws_set_opaque_user_data(wsi, NULL);
        if (conn)
            acceptor_conn_closed(conn);
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- caller WebSocket ---- */

static int chat_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct chat_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (acceptor_conn_reserved(lws_get_opaque_user_data(wsi))) {
            acceptor_conn_refused(lws_get_opaque_user_data(wsi));
            return -1; /* accepted past the connection cap: health checks only */
        }
        char uri[64];
        copy_header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
        return strcmp(uri, "/v1/chat") == 0 ? 0 : -1;
    }
    case LWS_CALLBACK_ESTABLISHED:
        pss->conn = chat_conn_open(server_of(wsi), wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!pss->conn)
            return -1;
        return chat_conn_receive(pss->conn, in, len, lws_is_first_fragment(wsi),
                                 lws_is_final_fragment(wsi) &&
                                     lws_remaining_packet_payload(wsi) == 0,
                                 lws_frame_is_binary(wsi));
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? chat_conn_writeable(pss->conn) : -1;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            chat_conn_closed(pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(struct http_pss), 0, 0, NULL, 0},
    {"parley.chat.v1", chat_callback, sizeof(struct chat_pss), 16 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    PL_LOG(level == LLL_ERR    ? PL_LOG_ERR
           : level == LLL_WARN ? PL_LOG_WARN
                               : PL_LOG_DEBUG,
           "lws", "%.*s", (int)n, line);
}

int ws_server_start(struct bot_server *srv, char *err, size_t errlen)
{
    static lws_retry_bo_t retry;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    /* lws listens on nothing: bot/acceptor.c accepts and hands each socket over
     * (ws_server_adopt), which keeps the connection cap and the pause on EMFILE in our hands. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    void *loops[1] = {srv->loop};
    info.foreign_loops = loops;
    info.options |= LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                    LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = protocols;
    info.user = srv;
    info.vhost_name = "parley";
    info.timeout_secs = 20;
    retry.secs_since_valid_ping = (uint16_t)srv->cfg->ping_interval_s;
    retry.secs_since_valid_hangup = (uint16_t)(srv->cfg->ping_interval_s * 2);
    info.retry_and_idle_policy = &retry;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        snprintf(err, errlen,
                 "cannot start libwebsockets (is its libuv event library missing? install "
                 "libwebsockets-evlib-uv)");
        return PL_EIO;
    }
    return PL_OK;
}

int ws_server_adopt(struct bot_server *srv, int fd, struct acceptor_conn *conn)
{
    struct lws_vhost *vh =
        srv->lws && !srv->lws_stopping ? lws_get_vhost_by_name(srv->lws, "parley") : NULL;
    if (!vh) {
        close(fd);
        return -1;
    }
    lws_sock_file_fd_type desc;
    desc.sockfd = fd;
    /* On failure lws closes the socket itself. The connection is named to lws only once adopted:
     * a failed adoption may still call WSI_DESTROY, which must not release it a second time. */
    struct lws *wsi =
        lws_adopt_descriptor_vhost(vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, desc, NULL, NULL);
    if (!wsi)
        return -1;
    lws_set_opaque_user_data(wsi, conn);
    return 0;
}

void ws_server_close_callers(struct bot_server *srv)
{
    if (srv->lws && !srv->lws_stopping)
        lws_callback_on_writable_all_protocol(srv->lws, &protocols[1]);
}

void ws_server_stop(struct bot_server *srv)
{
    if (srv->lws && !srv->lws_stopping) {
        srv->lws_stopping = true;
        lws_context_destroy(srv->lws);
    }
}

void ws_server_free(struct bot_server *srv)
{
    if (!srv->lws)
        return;
    ws_server_stop(srv);
    lws_context_destroy(srv->lws);
    srv->lws = NULL;
}
