/* libwebsockets as parleyd's socket layer on the libuv loop; see ws_server.h. The vhost is raw:
 * lws accepts (or adopts) sockets, reads, writes (keeping what the socket does not take yet),
 * and tells us when a socket may be written; every byte is parsed by Parley (bot/conn.h), not
 * by lws, whose HTTP and WebSocket parsers accept what RFC 9112 and RFC 6455 forbid
 * (docs/architecture.md, "HTTP and WebSocket"). */
#include "bot/ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bot/acceptor.h"
#include "bot/conn.h"
#include "common/err.h"
#include "common/log.h"

#define PROTOCOL_NAME "parley"

/* Reasons (bits b0-b5 of lws's rx flow control) for which reading is stopped. */
#define RX_STOP_BY_CONN   (1 << 0) /* conn.c asked */
#define RX_STOP_BY_OUTPUT (1 << 1) /* lws keeps unsent output: read again once it is written */

struct raw_pss {
    struct conn *conn;
};

static struct bot_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void rx_stop(struct lws *wsi, int reason, bool stop)
{
    lws_rx_flow_control(wsi, LWS_RXFLOW_REASON_APPLIES | reason |
                                 (stop ? 0 : LWS_RXFLOW_REASON_APPLIES_ENABLE_BIT));
}

/* ---- the transport conn.c writes through ---- */

static int t_write(void *handle, const unsigned char *data, size_t len)
{
    struct lws *wsi = handle;
    /* A raw write takes everything: what the socket does not take now, lws keeps and sends
     * first when it can. */
    if (lws_write(wsi, (unsigned char *)data, len, LWS_WRITE_RAW) < (int)len)
        return -1;
    if (lws_partial_buffered(wsi)) {
        /* While lws keeps output it does not read, but the socket stays readable: stop
         * polling for input, or the loop would wake for it without end. */
        rx_stop(wsi, RX_STOP_BY_OUTPUT, true);
    }
    return 0;
}

static bool t_pending(void *handle)
{
    return lws_partial_buffered(handle) != 0;
}

static void t_want_writable(void *handle)
{
    lws_callback_on_writable(handle);
}

static void t_pause_rx(void *handle, bool pause)
{
    rx_stop(handle, RX_STOP_BY_CONN, pause);
}

static void t_shutdown_write(void *handle)
{
    shutdown(lws_get_socket_fd(handle), SHUT_WR);
}

static void t_close(void *handle)
{
    lws_set_timeout(handle, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static const struct conn_transport transport = {
    .write = t_write,
    .pending = t_pending,
    .want_writable = t_want_writable,
    .pause_rx = t_pause_rx,
    .shutdown_write = t_shutdown_write,
    .close = t_close,
};

/* ---- the raw protocol ---- */

static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct raw_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
        char peer[64] = "";
        lws_get_peer_simple(wsi, peer, sizeof(peer));
        pss->conn = conn_open(server_of(wsi), &transport, wsi, peer);
        return 0;
    }
    case LWS_CALLBACK_RAW_RX:
        return pss->conn ? conn_on_data(pss->conn, in, len) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!pss->conn)
            return -1;
        rx_stop(wsi, RX_STOP_BY_OUTPUT, false); /* nothing kept any more */
        return conn_on_writable(pss->conn);
    case LWS_CALLBACK_RAW_CLOSE:
        if (pss && pss->conn) {
            struct conn *c = pss->conn;
            pss->conn = NULL;
            conn_on_closed(c);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY: {
        /* The socket is closed (lws calls this for every connection, adopted or not). */
        struct acceptor_conn *ac = lws_get_opaque_user_data(wsi);
        lws_set_opaque_user_data(wsi, NULL);
        if (ac)
            acceptor_conn_closed(ac);
        return 0;
    }
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: lws sends at most this much per write() and keeps the rest (a copy):
     * large, so that an answer goes to the kernel in one call. */
    {PROTOCOL_NAME, raw_callback, sizeof(struct raw_pss), 0, 0, NULL, 1024 * 1024},
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
    info.pt_serv_buf_size = 32 * 1024; /* bytes read per read() */
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        snprintf(err, errlen,
                 "cannot start libwebsockets (is its libuv event library missing? install "
                 "libwebsockets-evlib-uv)");
        return PL_EIO;
    }
    return PL_OK;
}

static void refused_at_capacity(void *ud)
{
    acceptor_conn_refused(ud);
}

int ws_server_adopt(struct bot_server *srv, int fd, struct acceptor_conn *ac)
{
    struct lws_vhost *vh =
        srv->lws && !srv->lws_stopping ? lws_get_vhost_by_name(srv->lws, "parley") : NULL;
    if (!vh) {
        close(fd);
        return -1;
    }
    lws_sock_file_fd_type desc;
    desc.sockfd = fd;
    /* Accepted sockets are raw, bound to our protocol: lws parses nothing. On failure lws closes
     * the socket itself. The connection is named to lws only once adopted: a failed adoption may
     * still call WSI_DESTROY, which must not release it a second time. */
    struct lws *wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_SOCKET, desc, PROTOCOL_NAME, NULL);
    if (!wsi)
        return -1;
    lws_set_opaque_user_data(wsi, ac);
    struct raw_pss *pss = lws_wsi_user(wsi);
    if (pss && pss->conn) {
        conn_set_address_key(pss->conn, acceptor_conn_peer(ac));
        conn_set_via_proxy(pss->conn, acceptor_conn_via_proxy(ac));
        if (acceptor_conn_reserved(ac))
            conn_serve_health_checks_only(pss->conn, refused_at_capacity, ac);
    }
    return 0;
}

void ws_server_close_callers(struct bot_server *srv)
{
    /* Every connection gets a writable call; WebSockets then close with 1001 (chat.c). */
    if (srv->lws && !srv->lws_stopping)
        lws_callback_on_writable_all_protocol(srv->lws, &protocols[0]);
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
