/* curl multi driven by libuv; see http_client.h. Structure follows curl's multi-uv example:
 * the socket callback owns a uv_poll_t per socket (attached with curl_multi_assign) and the
 * timer callback one uv_timer_t; finished transfers are collected after every socket action. */
#include "connectors/http_client.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define HEADER_BYTES_MAX (64 * 1024)
/* Easy handles kept for reuse: a new one costs tens of KiB of allocation and set-up (its own
 * struct and download buffer) on every request; the pool stays small so that a burst does not
 * pin memory after it. */
#define EASY_POOL_MAX        32
#define RECEIVE_BUFFER_BYTES 4096L

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_client_transfer *transfers; /* all live transfers, for destroy */
    CURL *easy_pool[EASY_POOL_MAX];
    size_t easy_pooled;
    bool destroying;
};

struct http_client_transfer {
    struct http_client *hc;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    struct http_client_callbacks cbs;
    void *ud;
    struct pl_buf resp_headers; /* "name: value\n" lines of the final response */
    int status;
    bool headers_done;
    bool callback_failed; /* a callback asked to abort */
    uv_timer_t idle_timer;
    uint32_t idle_timeout_ms;
    uint64_t last_data_ms; /* loop time of the last body bytes */
    char errbuf[CURL_ERROR_SIZE];
    struct http_client_transfer *prev, *next;
};

struct sock_ctx {
    uv_poll_t poll;
    int events; /* what poll watches now: restarting it for no change costs an epoll_ctl */
    curl_socket_t fd;
    struct http_client *hc;
};

static void check_done(struct http_client *hc);

static void on_handle_free(uv_handle_t *h)
{
    pl_free(h->data);
}

/* ---- socket and timer glue ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *sc = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(sc->hc->multi, sc->fd, flags, &running);
    check_done(sc->hc);
}

static int on_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    (void)easy;
    struct http_client *hc = userp;
    struct sock_ctx *sc = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            curl_multi_assign(hc->multi, fd, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_handle_free);
        }
        return 0;
    }
    if (!sc) {
        sc = pl_calloc(1, sizeof(*sc));
        sc->fd = fd;
        sc->hc = hc;
        if (uv_poll_init_socket(hc->loop, &sc->poll, fd) != 0) {
            pl_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        curl_multi_assign(hc->multi, fd, sc);
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    if (events != sc->events || !uv_is_active((uv_handle_t *)&sc->poll)) {
        sc->events = events;
        uv_poll_start(&sc->poll, events, on_poll);
    }
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct http_client *hc = t->data;
    int running;
    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(hc);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_client *hc = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&hc->timer);
    else /* 0 means "as soon as possible": the next loop iteration, never from inside curl */
        uv_timer_start(&hc->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- per-transfer callbacks ---- */

static size_t on_header_line(char *data, size_t size, size_t n, void *ud)
{
    struct http_client_transfer *t = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect): start over. */
        pl_buf_reset(&t->resp_headers);
        long code = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        t->status = (int)code;
        return len;
    }
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        t->status = (int)code;
        if (code >= 200 && !t->headers_done) {
            t->headers_done = true;
            if (t->cbs.on_headers && t->cbs.on_headers(t->ud, t->status) != 0) {
                t->callback_failed = true;
                return 0;
            }
        }
        return len;
    }
    size_t keep = len;
    while (keep > 0 && (data[keep - 1] == '\r' || data[keep - 1] == '\n'))
        keep--;
    if (pl_buf_append(&t->resp_headers, data, keep) || pl_buf_append(&t->resp_headers, "\n", 1))
        return 0; /* headers over the limit: abort */
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct http_client_transfer *t = ud;
    size_t len = size * n;
    t->last_data_ms = uv_now(t->hc->loop); /* the idle deadline starts over (see idle_check) */
    if (t->cbs.on_data && t->cbs.on_data(t->ud, data, len) != 0) {
        t->callback_failed = true;
        return 0;
    }
    return len;
}

/* ---- lifecycle ---- */

static void unlink_transfer(struct http_client_transfer *t)
{
    struct http_client *hc = t->hc;
    if (t->prev)
        t->prev->next = t->next;
    else
        hc->transfers = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void release_easy(struct http_client *hc, CURL *e)
{
    if (hc->destroying || hc->easy_pooled == EASY_POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    hc->easy_pool[hc->easy_pooled++] = e;
}

static CURL *acquire_easy(struct http_client *hc)
{
    return hc->easy_pooled ? hc->easy_pool[--hc->easy_pooled] : curl_easy_init();
}

static void finish(struct http_client_transfer *t, int status, const char *detail)
{
    curl_multi_remove_handle(t->hc->multi, t->easy);
    release_easy(t->hc, t->easy);
    curl_slist_free_all(t->headers);
    pl_free(t->body);
    unlink_transfer(t);
    t->cbs.on_done(t->ud, status, detail);
    pl_buf_cleanup(&t->resp_headers);
    /* The transfer memory goes with the idle timer's close callback. */
    t->idle_timer.data = t;
    uv_close((uv_handle_t *)&t->idle_timer, on_handle_free);
}

static void check_done(struct http_client *hc)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(hc->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_client_transfer *t;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode res = msg->data.result;
        int status = PL_OK;
        char detail[CURL_ERROR_SIZE + 64];
        detail[0] = '\0';
        if (res != CURLE_OK) {
            if (t->callback_failed)
                status = PL_ECANCELED;
            else if (res == CURLE_OPERATION_TIMEDOUT)
                status = PL_ETIMEDOUT;
            else
                status = PL_EIO;
            snprintf(detail, sizeof(detail), "%s%s%s", curl_easy_strerror(res),
                     t->errbuf[0] ? ": " : "", t->errbuf);
        }
        finish(t, status, detail);
    }
}

/* Idle deadline: curl's low-speed options have one-second granularity and count bytes per
 * second; a per-transfer timer is exact. Moving a timer on every body chunk would cost two heap
 * operations per token, so the chunk only notes its time and the timer, when it fires early,
 * waits out the rest. */
static void idle_check(uv_timer_t *timer)
{
    struct http_client_transfer *t = timer->data;
    uint64_t idle = uv_now(t->hc->loop) - t->last_data_ms;
    if (idle < t->idle_timeout_ms) {
        uv_timer_start(&t->idle_timer, idle_check, t->idle_timeout_ms - idle, 0);
        return;
    }
    PL_LOG(PL_LOG_WARN, "http", "no data for %u ms; aborting the transfer", t->idle_timeout_ms);
    t->errbuf[0] = '\0';
    finish(t, PL_ETIMEDOUT, "no data from upstream within the idle timeout");
}

int http_client_create(uv_loop_t *loop, struct http_client **out)
{
    struct http_client *hc = pl_calloc(1, sizeof(*hc));
    hc->loop = loop;
    hc->multi = curl_multi_init();
    if (!hc->multi) {
        pl_free(hc);
        return PL_ENOMEM;
    }
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    uv_timer_init(loop, &hc->timer);
    hc->timer.data = hc;
    *out = hc;
    return PL_OK;
}

static void on_client_timer_closed(uv_handle_t *h)
{
    pl_free(h->data);
}

void http_client_destroy(struct http_client *hc)
{
    if (!hc)
        return;
    hc->destroying = true;
    while (hc->transfers)
        finish(hc->transfers, PL_ECANCELED, "client shutting down");
    while (hc->easy_pooled)
        curl_easy_cleanup(hc->easy_pool[--hc->easy_pooled]);
    curl_multi_cleanup(hc->multi);
    uv_timer_stop(&hc->timer);
    uv_close((uv_handle_t *)&hc->timer, on_client_timer_closed);
}

struct http_client_transfer *http_client_start(struct http_client *hc,
                                               const struct http_client_request *req,
                                               const struct http_client_callbacks *cbs, void *ud)
{
    if (!req->url || !cbs->on_done || hc->destroying)
        return NULL;
    struct http_client_transfer *t = pl_calloc(1, sizeof(*t));
    t->hc = hc;
    t->cbs = *cbs;
    t->ud = ud;
    t->idle_timeout_ms = req->idle_timeout_ms;
    pl_buf_init(&t->resp_headers, HEADER_BYTES_MAX);
    uv_timer_init(hc->loop, &t->idle_timer);
    t->idle_timer.data = t;
    t->easy = acquire_easy(hc);
    if (!t->easy) {
        uv_close((uv_handle_t *)&t->idle_timer, on_handle_free);
        pl_buf_cleanup(&t->resp_headers);
        return NULL;
    }
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(req->connect_timeout_ms ? req->connect_timeout_ms : 10000));
    if (req->total_timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    /* Streams come as small events; curl's default 16 KiB receive buffer per transfer was an
     * eighth of parleyd's memory with 1000 answers streaming (bench/RESULTS.md). Set on every
     * transfer: curl_easy_reset puts the size back to the default. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECEIVE_BUFFER_BYTES);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* "Expect: 100-continue" would cost a round trip on every request body over 1 KiB. */
    t->headers = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = req->headers; h && *h; h++)
        t->headers = curl_slist_append(t->headers, *h);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (req->body) {
        t->body = pl_malloc(req->body_len + 1);
        memcpy(t->body, req->body, req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->method && strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    /* curl refuses a handle when it runs out of memory, or when called from inside one of its
     * own callbacks (a start from on_headers or on_data: CURLM_RECURSIVE_API_CALL). A refused
     * transfer would never finish, so it would never call on_done: undo it whole (it is not yet
     * linked nor timed) and report a failed start instead. */
    CURLMcode mc = curl_multi_add_handle(hc->multi, e);
    if (mc != CURLM_OK) {
        PL_LOG(PL_LOG_ERR, "http", "curl refused a transfer: %s", curl_multi_strerror(mc));
        curl_easy_cleanup(e);
        curl_slist_free_all(t->headers);
        pl_free(t->body);
        pl_buf_cleanup(&t->resp_headers);
        uv_close((uv_handle_t *)&t->idle_timer, on_handle_free);
        return NULL;
    }
    t->next = hc->transfers;
    if (hc->transfers)
        hc->transfers->prev = t;
    hc->transfers = t;
    t->last_data_ms = uv_now(hc->loop);
    if (t->idle_timeout_ms)
        uv_timer_start(&t->idle_timer, idle_check, t->idle_timeout_ms, 0);
    return t;
}

void http_client_abort(struct http_client_transfer *t)
{
    finish(t, PL_ECANCELED, "aborted");
}

bool http_client_response_header(const struct http_client_transfer *t, const char *name, char *out,
                                 size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = t->resp_headers.data;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = (size_t)(p + llen - v);
            if (vlen >= outlen)
                vlen = outlen - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        p = eol ? eol + 1 : p + llen;
    }
    return false;
}
