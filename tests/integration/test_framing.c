/* HTTP and WebSocket framing as an attacker sends it, over raw TCP to a real parleyd: request
 * smuggling with duplicate or conflicting lengths is refused (400) and the smuggled request never
 * served; chunked bodies get 411 at once; heads over the limit get 431; long tokens reach the
 * token check whole; keep-alive and pipelining work. WebSockets: unmasked frames, invalid close
 * codes and reasons, ping floods close with 1002, 1007, 1008; a silent peer is pinged and then
 * closed. Origin: a foreign page gets 403 (no WebSocket is opened), an allowed one works, CORS
 * headers and preflights. Exact status lines, headers and close codes are asserted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/ws_frame.h"
#include "tests/support/fixtures.h"

#define ALLOWED_ORIGIN "https://shop.example"

static struct ts_stack st;
static const char *const parleyd_args[] = {"--allowed-origins",
                                           ALLOWED_ORIGIN ", http://localhost:3000",
                                           "--ping-interval", "5", "--request-timeout-ms", "2000",
                                           /* longer than a ping and its wait (10 s): the
                                            * silent peer is closed by the keepalive, not by
                                            * the hello deadline */
                                           "--hello-timeout-ms", "30000", NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "framing", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st);
}

/* ---- a raw TCP client ---- */

struct raw {
    int fd;
    struct pl_buf in; /* received, not yet taken */
    bool eof;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raw_connect(struct raw *r)
{
    memset(r, 0, sizeof(*r));
    pl_buf_init(&r->in, 64 * 1024 * 1024);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)st.parleyd.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void raw_close(struct raw *r)
{
    close(r->fd);
    pl_buf_cleanup(&r->in);
}

static void raw_send(struct raw *r, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void raw_sends(struct raw *r, const char *s)
{
    raw_send(r, s, strlen(s));
}

/* Read what arrives within `timeout_ms` (stops early at EOF). Returns false on timeout. */
static bool raw_fill(struct raw *r, int timeout_ms)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (r->eof || poll(&p, 1, timeout_ms) <= 0)
        return false;
    char buf[65536];
    ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        r->eof = true;
        return false;
    }
    pl_buf_append(&r->in, buf, (size_t)n);
    return true;
}

/* Read until the peer closes (true) or `timeout_ms` passes (false). */
static bool raw_until_eof(struct raw *r, int timeout_ms)
{
    long long end = mono_ms() + timeout_ms;
    while (!r->eof) {
        long long left = end - mono_ms();
        if (left <= 0)
            return false;
        raw_fill(r, (int)left);
    }
    return true;
}

/* One HTTP response. */
struct resp {
    char status_line[128];
    char *head; /* header lines (names in lower case), "\r\n" separated */
    char *body;
    size_t body_len;
};

static void resp_free(struct resp *p)
{
    pl_free(p->head);
    pl_free(p->body);
    memset(p, 0, sizeof(*p));
}

/* The value of header `name` (lower case) in a response, or NULL (static buffer). */
static const char *resp_header(const struct resp *p, const char *name)
{
    static char v[512];
    size_t n = strlen(name);
    for (const char *l = p->head; l && *l;) {
        const char *e = strstr(l, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - l) > n + 1 && strncmp(l, name, n) == 0 && l[n] == ':') {
            const char *s = l + n + 1;
            while (*s == ' ')
                s++;
            snprintf(v, sizeof(v), "%.*s", (int)(e - s), s);
            return v;
        }
        l = e + 2;
    }
    return NULL;
}

/* Read the next response (head and Content-Length body; no body for 1xx, 204 and 101, nor when
 * `to_head` says it answers a HEAD) within `timeout_ms`. False if none came. */
static bool raw_response_to(struct raw *r, int timeout_ms, struct resp *out, bool to_head)
{
    memset(out, 0, sizeof(*out));
    long long end = mono_ms() + timeout_ms;
    for (;;) {
        char *eoh = r->in.data ? memmem(r->in.data, r->in.len, "\r\n\r\n", 4) : NULL;
        if (eoh) {
            size_t hlen = (size_t)(eoh - r->in.data) + 4;
            char *line_end = memmem(r->in.data, hlen, "\r\n", 2);
            snprintf(out->status_line, sizeof(out->status_line), "%.*s",
                     (int)(line_end - r->in.data), r->in.data);
            out->head = pl_strndup(line_end + 2, hlen - (size_t)(line_end + 2 - r->in.data));
            bool in_name = true; /* header names to lower case, values as they are */
            for (char *c = out->head; *c; c++) {
                if (*c == '\n')
                    in_name = true;
                else if (*c == ':')
                    in_name = false;
                else if (in_name && *c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            }
            int code = (int)strtol(out->status_line + 9, NULL, 10);
            const char *cl = resp_header(out, "content-length");
            size_t blen = cl && !to_head && code >= 200 && code != 204 ? strtoul(cl, NULL, 10) : 0;
            while (r->in.len < hlen + blen) {
                long long left = end - mono_ms();
                if (left <= 0 || (!raw_fill(r, (int)left) && r->eof))
                    break;
            }
            if (r->in.len < hlen + blen)
                return false;
            out->body = pl_strndup(r->in.data + hlen, blen);
            out->body_len = blen;
            pl_buf_consume(&r->in, hlen + blen);
            return true;
        }
        long long left = end - mono_ms();
        if (left <= 0 || (!raw_fill(r, (int)left) && r->eof))
            return false;
    }
}

static bool raw_response(struct raw *r, int timeout_ms, struct resp *out)
{
    return raw_response_to(r, timeout_ms, out, false);
}

/* Send `request` on a new connection and read one response; `closed` tells whether the server
 * then closed the connection (within 2 s). */
static void exchange(const char *request, size_t len, struct resp *out, bool *closed)
{
    struct raw r;
    raw_connect(&r);
    raw_send(&r, request, len);
    assert_true(raw_response(&r, 5000, out));
    if (closed)
        *closed = raw_until_eof(&r, 2000);
    raw_close(&r);
}

static const char *error_code(const struct resp *p)
{
    static char code[64];
    json_t *j = p->body ? json_loadb(p->body, p->body_len, 0, NULL) : NULL;
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, sizeof(code), "%s", c ? c : "(none)");
    json_decref(j);
    return code;
}

/* ---- HTTP framing ---- */

static void test_duplicate_content_length_is_400_and_smuggled_request_not_served(void **state)
{
    (void)state;
    /* A proxy reading the second length forwards all of it as one request; read by the first,
     * "GET /metrics" would be a second request. */
    const char req[] = "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                       "Content-Length: 41\r\n\r\n"
                       "abcdGET /metrics HTTP/1.1\r\nHost: h\r\n\r\n";
    struct raw r;
    raw_connect(&r);
    raw_send(&r, req, sizeof(req) - 1);
    assert_true(raw_until_eof(&r, 5000));
    /* Exactly one answer, a 400 that closes the connection. */
    assert_non_null(r.in.data);
    assert_int_equal(strncmp(r.in.data, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
    assert_non_null(strstr(r.in.data, "\r\nconnection: close\r\n"));
    assert_non_null(strstr(r.in.data, "\"code\":\"bad_request\""));
    assert_non_null(strstr(r.in.data, "more than one Content-Length"));
    assert_null(strstr(r.in.data + 1, "HTTP/1.1"));
    assert_null(strstr(r.in.data, "parley_connections_total"));
    raw_close(&r);
}

static void test_content_length_with_transfer_encoding_is_400(void **state)
{
    (void)state;
    const char req[] = "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\n"
                       "Host: h\r\n\r\n";
    struct raw r;
    raw_connect(&r);
    raw_send(&r, req, sizeof(req) - 1);
    assert_true(raw_until_eof(&r, 5000));
    assert_int_equal(strncmp(r.in.data, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
    assert_non_null(strstr(r.in.data, "Content-Length together with Transfer-Encoding"));
    assert_null(strstr(r.in.data + 1, "HTTP/1.1"));
    raw_close(&r);
}

static void test_chunked_body_is_411_at_once(void **state)
{
    (void)state;
    const char req[] = "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Type: application/json\r\n\r\n";
    long long t0 = mono_ms();
    struct resp p;
    bool closed;
    exchange(req, sizeof(req) - 1, &p, &closed); /* the chunks are never sent */
    assert_true(mono_ms() - t0 < 1000);
    assert_string_equal(p.status_line, "HTTP/1.1 411 Length Required");
    assert_string_equal(resp_header(&p, "connection"), "close");
    assert_string_equal(error_code(&p), "bad_request");
    assert_true(closed);
    resp_free(&p);
}

static void test_head_over_the_limit_is_431(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append_str(&b, "GET /healthz HTTP/1.1\r\nHost: h\r\nX-Big: ");
    for (int i = 0; i < 20000; i++)
        pl_buf_append(&b, "x", 1);
    pl_buf_append_str(&b, "\r\n\r\n");
    struct resp p;
    bool closed;
    exchange(b.data, b.len, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
    assert_string_equal(error_code(&p), "too_large");
    assert_string_equal(resp_header(&p, "connection"), "close");
    assert_true(closed);
    resp_free(&p);
    pl_buf_cleanup(&b);
}

static void test_bad_version_and_obs_fold(void **state)
{
    (void)state;
    struct resp p;
    bool closed;
    const char v2[] = "GET /healthz HTTP/2.0\r\nHost: h\r\n\r\n";
    exchange(v2, sizeof(v2) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 505 HTTP Version Not Supported");
    assert_true(closed);
    resp_free(&p);
    const char fold[] = "GET /healthz HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n";
    exchange(fold, sizeof(fold) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 400 Bad Request");
    assert_true(closed);
    resp_free(&p);
    const char lf[] = "GET /healthz HTTP/1.1\nHost: h\n\n";
    exchange(lf, sizeof(lf) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 400 Bad Request");
    assert_true(closed);
    resp_free(&p);
}

static void test_body_over_the_limit_is_413_before_it_is_sent(void **state)
{
    (void)state;
    const char req[] = "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n";
    struct resp p;
    bool closed;
    exchange(req, sizeof(req) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 413 Content Too Large");
    assert_string_equal(error_code(&p), "too_large");
    assert_true(closed);
    resp_free(&p);
}

static void test_slow_request_is_408(void **state)
{
    (void)state;
    struct raw r;
    raw_connect(&r);
    raw_sends(&r, "GET /healthz HTTP/1.1\r\nHo"); /* and nothing more */
    struct resp p;
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 408 Request Timeout");
    assert_true(raw_until_eof(&r, 2000));
    resp_free(&p);
    raw_close(&r);
    /* An idle connection is closed without a word. */
    raw_connect(&r);
    assert_true(raw_until_eof(&r, 5000));
    assert_int_equal(r.in.len, 0);
    raw_close(&r);
}

static void test_keep_alive_and_pipelining(void **state)
{
    (void)state;
    struct raw r;
    raw_connect(&r);
    raw_sends(&r, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"
                  "GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n"
                  "POST /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}");
    struct resp p;
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(p.body, "{\"status\":\"ok\"}");
    assert_null(resp_header(&p, "connection"));
    resp_free(&p);
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_non_null(strstr(p.body, "\"ready\""));
    resp_free(&p);
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 405 Method Not Allowed");
    assert_string_equal(resp_header(&p, "allow"), "GET");
    resp_free(&p);
    /* Still open: one more, with HEAD. */
    raw_sends(&r, "HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(raw_response_to(&r, 5000, &p, true));
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(resp_header(&p, "content-length"), "15");
    resp_free(&p);
    /* HEAD has no body: the next bytes are the next answer. */
    raw_sends(&r, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(resp_header(&p, "connection"), "close");
    assert_true(raw_until_eof(&r, 2000));
    resp_free(&p);
    raw_close(&r);
}

static void test_http10_closes_and_expect_continue(void **state)
{
    (void)state;
    struct resp p;
    bool closed;
    const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
    exchange(req, sizeof(req) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_true(closed);
    resp_free(&p);

    struct raw r;
    raw_connect(&r);
    raw_sends(&r, "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                  "Expect: 100-continue\r\n\r\n");
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 100 Continue");
    resp_free(&p);
    raw_sends(&r, "{}");
    assert_true(raw_response(&r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 401 Unauthorized");
    resp_free(&p);
    raw_close(&r);
}

/* A caller token of session `sid` padded (with an extra claim) to `size` bytes, signed with the
 * tests' secret. */
static char *padded_token(const char *sid, size_t size)
{
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h64 = pl_base64url_encode(header, strlen(header));
    char claims[16384];
    long long now = (long long)time(NULL);
    int n = snprintf(claims, sizeof(claims),
                     "{\"sub\":\"long\",\"role\":\"caller\",\"sid\":\"%s\",\"iat\":%lld,"
                     "\"exp\":%lld,\"pad\":\"",
                     sid, now, now + 600);
    /* base64url grows 4/3; 43 bytes of signature and two dots. */
    size_t want_claims = (size - strlen(h64) - 45) * 3 / 4;
    while ((size_t)n < want_claims - 2 && (size_t)n < sizeof(claims) - 3)
        claims[n++] = 'p';
    claims[n++] = '"';
    claims[n++] = '}';
    char *c64 = pl_base64url_encode(claims, (size_t)n);
    struct pl_buf t;
    pl_buf_init(&t, 1 << 20);
    pl_buf_printf(&t, "%s.%s", h64, c64);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), TS_JWT_SECRET, (int)strlen(TS_JWT_SECRET), (unsigned char *)t.data, t.len,
         mac, &mac_len);
    char *s64 = pl_base64url_encode(mac, mac_len);
    pl_buf_printf(&t, ".%s", s64);
    pl_free(h64);
    pl_free(c64);
    pl_free(s64);
    return pl_buf_take(&t);
}

static void post_message_with(const char *sid, const char *token, struct resp *out)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    const char body[] = "{\"text\":\"hello [[tokens:1]]\"}";
    pl_buf_printf(&b,
                  "POST /v1/sessions/%s/messages?wait_ms=10000 HTTP/1.1\r\nHost: h\r\n"
                  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n%s",
                  sid, token, sizeof(body) - 1, body);
    exchange(b.data, b.len, out, NULL);
    pl_buf_cleanup(&b);
}

static void test_long_authorization_reaches_the_token_check(void **state)
{
    (void)state;
    char sid[33];
    char *tok = ts_session_create(st.parleyd.url, sid);
    assert_non_null(tok);
    pl_free(tok);
    /* A token of 4 KiB (the token limit, docs/protocol.md "Tokens") is accepted. */
    char *four = padded_token(sid, 4090);
    assert_true(strlen(four) > 4000 && strlen(four) <= 4096);
    struct resp p;
    post_message_with(sid, four, &p);
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_non_null(strstr(p.body, "\"stop_reason\":\"end_turn\""));
    resp_free(&p);
    pl_free(four);
    /* A 6 KiB Authorization header arrives whole: the token check refuses the token as too
     * long, not for a missing header. */
    char *six = padded_token(sid, 6144);
    post_message_with(sid, six, &p);
    assert_string_equal(p.status_line, "HTTP/1.1 401 Unauthorized");
    assert_null(strstr(p.body, "send Authorization"));
    assert_non_null(strstr(p.body, "the token is longer than 4096 bytes"));
    resp_free(&p);
    pl_free(six);
}

/* ---- WebSocket ---- */

/* Open a WebSocket on /v1/chat with `origin` (NULL: none) and read the 101. */
static void ws_open(struct raw *r, const char *origin)
{
    raw_connect(r);
    char req[1024];
    snprintf(req, sizeof(req),
             "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n%s%s%s\r\n",
             st.parleyd.port, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    raw_sends(r, req);
    struct resp p;
    assert_true(raw_response(r, 5000, &p));
    assert_string_equal(p.status_line, "HTTP/1.1 101 Switching Protocols");
    assert_string_equal(resp_header(&p, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_string_equal(resp_header(&p, "sec-websocket-protocol"), "parley.chat.v1");
    resp_free(&p);
}

static const unsigned char mask[4] = {1, 2, 3, 4};

static void ws_send(struct raw *r, int opcode, bool masked, const void *data, size_t len)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(ws_frame_encode(&b, opcode, true, data, len, masked ? mask : NULL), 0);
    raw_send(r, b.data, b.len);
    pl_buf_cleanup(&b);
}

/* The next frame from the server within `timeout_ms`: its opcode, payload in `out` (may be
 * NULL). -1 on timeout or EOF. */
static int ws_next(struct raw *r, int timeout_ms, struct pl_buf *out)
{
    long long end = mono_ms() + timeout_ms;
    for (;;) {
        struct ws_frame f;
        int rc = r->in.len ? ws_frame_decode(r->in.data, r->in.len, 1 << 24, &f) : 0;
        if (rc == 1) {
            int op = f.opcode;
            if (out) {
                pl_buf_reset(out);
                pl_buf_append(out, f.payload, f.len);
            }
            pl_buf_consume(&r->in, f.total);
            return op;
        }
        long long left = end - mono_ms();
        if (left <= 0 || (!raw_fill(r, (int)left) && r->eof))
            return -1;
    }
}

/* Read frames until a close; returns its code (-1 if none came) and checks the socket closes. */
static int ws_expect_close(struct raw *r, int timeout_ms, char *reason, size_t reason_len)
{
    struct pl_buf f;
    pl_buf_init(&f, 1 << 24);
    int op, code = -1;
    while ((op = ws_next(r, timeout_ms, &f)) >= 0) {
        if (op == WS_CLOSE) {
            code = f.len >= 2 ? ((unsigned char)f.data[0] << 8 | (unsigned char)f.data[1]) : 1005;
            if (reason)
                snprintf(reason, reason_len, "%.*s", f.len >= 2 ? (int)f.len - 2 : 0,
                         f.len >= 2 ? f.data + 2 : "");
            break;
        }
    }
    pl_buf_cleanup(&f);
    if (code >= 0)
        assert_true(raw_until_eof(r, 3000));
    return code;
}

static void test_unmasked_frame_closes_1002(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, NULL);
    const char hello[] = "{\"type\":\"hello\"}";
    ws_send(&r, WS_TEXT, false, hello, sizeof(hello) - 1);
    char why[128];
    assert_int_equal(ws_expect_close(&r, 5000, why, sizeof(why)), 1002);
    assert_string_equal(why, "client frames must be masked");
    raw_close(&r);
}

static void test_close_code_5000_closes_1002(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, NULL);
    ws_send(&r, WS_CLOSE, true, "\x13\x88", 2);
    assert_int_equal(ws_expect_close(&r, 5000, NULL, 0), 1002);
    raw_close(&r);
    /* A valid close is answered with its code. */
    ws_open(&r, NULL);
    ws_send(&r, WS_CLOSE, true,
            "\x0f\xa0"
            "bye",
            5);
    assert_int_equal(ws_expect_close(&r, 5000, NULL, 0), 4000);
    raw_close(&r);
}

static void test_invalid_utf8_close_reason_closes_1007(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, NULL);
    ws_send(&r, WS_CLOSE, true,
            "\x03\xe8"
            "caf\xc3\x28",
            7);
    assert_int_equal(ws_expect_close(&r, 5000, NULL, 0), 1007);
    raw_close(&r);
}

static void test_ping_flood_closes_1008(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, NULL);
    for (int i = 0; i < 21; i++)
        ws_send(&r, WS_PING, true, "p", 1);
    struct pl_buf f;
    pl_buf_init(&f, 1 << 20);
    int pongs = 0, op, code = -1;
    while ((op = ws_next(&r, 5000, &f)) >= 0) {
        if (op == WS_PONG) {
            assert_int_equal(f.len, 1);
            pongs++;
        } else if (op == WS_CLOSE) {
            code = (unsigned char)f.data[0] << 8 | (unsigned char)f.data[1];
            break;
        }
    }
    assert_int_equal(pongs, 20);
    assert_int_equal(code, 1008);
    assert_true(raw_until_eof(&r, 3000));
    pl_buf_cleanup(&f);
    raw_close(&r);
}

static void test_silent_peer_is_pinged_then_closed(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, NULL);
    long long t0 = mono_ms();
    /* --ping-interval 5: a ping after 5 s of silence ... */
    assert_int_equal(ws_next(&r, 8000, NULL), WS_PING);
    long long t_ping = mono_ms() - t0;
    assert_true(t_ping >= 4500 && t_ping < 7000);
    /* ... and, unanswered, a close 5 s later. */
    char why[128];
    assert_int_equal(ws_expect_close(&r, 8000, why, sizeof(why)), 1001);
    assert_string_equal(why, "no answer to ping");
    long long t_close = mono_ms() - t0;
    assert_true(t_close >= 9500 && t_close < 13000);
    raw_close(&r);
}

static void test_bad_upgrades(void **state)
{
    (void)state;
    struct resp p;
    bool closed;
    const char plain[] = "GET /v1/chat HTTP/1.1\r\nHost: h\r\n\r\n";
    exchange(plain, sizeof(plain) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 426 Upgrade Required");
    assert_string_equal(resp_header(&p, "upgrade"), "websocket");
    resp_free(&p);
    const char version[] =
        "GET /v1/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n\r\n";
    exchange(version, sizeof(version) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 426 Upgrade Required");
    assert_string_equal(resp_header(&p, "sec-websocket-version"), "13");
    resp_free(&p);
    const char noproto[] = "GET /v1/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n";
    exchange(noproto, sizeof(noproto) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 400 Bad Request");
    assert_non_null(strstr(p.body, "parley.chat.v1"));
    resp_free(&p);
    const char badkey[] =
        "GET /v1/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n\r\n";
    exchange(badkey, sizeof(badkey) - 1, &p, &closed);
    assert_string_equal(p.status_line, "HTTP/1.1 400 Bad Request");
    resp_free(&p);
}

/* ---- Origin ---- */

static void upgrade_with_origin(const char *origin, struct resp *p)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.chat.v1\r\n"
                     "Origin: %s\r\n\r\n",
                     st.parleyd.port, origin);
    exchange(req, (size_t)n, p, NULL);
}

static void test_websocket_from_foreign_origin_is_403(void **state)
{
    (void)state;
    struct resp p;
    upgrade_with_origin("https://evil.example", &p);
    assert_string_equal(p.status_line, "HTTP/1.1 403 Forbidden");
    assert_string_equal(error_code(&p), "forbidden");
    assert_null(resp_header(&p, "access-control-allow-origin"));
    resp_free(&p);
    upgrade_with_origin("null", &p);
    assert_string_equal(p.status_line, "HTTP/1.1 403 Forbidden");
    resp_free(&p);
    /* A page served by another port of the same host is another origin. */
    char other[64];
    snprintf(other, sizeof(other), "http://127.0.0.1:%d", st.parleyd.port + 1);
    upgrade_with_origin(other, &p);
    assert_string_equal(p.status_line, "HTTP/1.1 403 Forbidden");
    resp_free(&p);
}

static void say_hello(struct raw *r)
{
    const char hello[] = "{\"type\":\"hello\"}";
    ws_send(r, WS_TEXT, true, hello, sizeof(hello) - 1);
    struct pl_buf f;
    pl_buf_init(&f, 1 << 20);
    assert_int_equal(ws_next(r, 5000, &f), WS_TEXT);
    assert_non_null(strstr(f.data, "\"type\":\"ready\""));
    pl_buf_cleanup(&f);
}

static void test_websocket_from_allowed_and_own_origin_works(void **state)
{
    (void)state;
    struct raw r;
    ws_open(&r, ALLOWED_ORIGIN);
    say_hello(&r);
    raw_close(&r);
    ws_open(&r, "http://localhost:3000");
    say_hello(&r);
    raw_close(&r);
    char own[64];
    snprintf(own, sizeof(own), "http://127.0.0.1:%d", st.parleyd.port);
    ws_open(&r, own);
    say_hello(&r);
    raw_close(&r);
    ws_open(&r, NULL); /* no Origin: not a browser page */
    say_hello(&r);
    raw_close(&r);
}

static void test_cors_headers_and_preflight(void **state)
{
    (void)state;
    struct resp p;
    const char allowed[] = "GET /healthz HTTP/1.1\r\nHost: h\r\nOrigin: " ALLOWED_ORIGIN "\r\n\r\n";
    exchange(allowed, sizeof(allowed) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(resp_header(&p, "access-control-allow-origin"), ALLOWED_ORIGIN);
    assert_string_equal(resp_header(&p, "vary"), "origin");
    resp_free(&p);

    const char foreign[] =
        "POST /v1/sessions HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n"
        "Content-Length: 2\r\n\r\n{}";
    exchange(foreign, sizeof(foreign) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 403 Forbidden");
    assert_string_equal(error_code(&p), "forbidden");
    assert_null(resp_header(&p, "access-control-allow-origin"));
    resp_free(&p);

    const char none[] = "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n";
    exchange(none, sizeof(none) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 200 OK");
    assert_null(resp_header(&p, "access-control-allow-origin"));
    resp_free(&p);

    const char pre[] = "OPTIONS /v1/sessions/0123456789abcdef0123456789abcdef/messages HTTP/1.1\r\n"
                       "Host: h\r\nOrigin: " ALLOWED_ORIGIN "\r\n"
                       "Access-Control-Request-Method: POST\r\n"
                       "Access-Control-Request-Headers: authorization, content-type\r\n\r\n";
    exchange(pre, sizeof(pre) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 204 No Content");
    assert_string_equal(resp_header(&p, "access-control-allow-origin"), ALLOWED_ORIGIN);
    assert_string_equal(resp_header(&p, "access-control-allow-methods"), "GET, POST, PUT, DELETE");
    assert_string_equal(resp_header(&p, "access-control-allow-headers"),
                        "authorization, content-type, accept");
    assert_null(resp_header(&p, "content-length"));
    resp_free(&p);

    const char pre_foreign[] = "OPTIONS /v1/sessions HTTP/1.1\r\nHost: h\r\n"
                               "Origin: https://evil.example\r\n"
                               "Access-Control-Request-Method: POST\r\n\r\n";
    exchange(pre_foreign, sizeof(pre_foreign) - 1, &p, NULL);
    assert_string_equal(p.status_line, "HTTP/1.1 403 Forbidden");
    resp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_content_length_is_400_and_smuggled_request_not_served),
        cmocka_unit_test(test_content_length_with_transfer_encoding_is_400),
        cmocka_unit_test(test_chunked_body_is_411_at_once),
        cmocka_unit_test(test_head_over_the_limit_is_431),
        cmocka_unit_test(test_bad_version_and_obs_fold),
        cmocka_unit_test(test_body_over_the_limit_is_413_before_it_is_sent),
        cmocka_unit_test(test_slow_request_is_408),
        cmocka_unit_test(test_keep_alive_and_pipelining),
        cmocka_unit_test(test_http10_closes_and_expect_continue),
        cmocka_unit_test(test_long_authorization_reaches_the_token_check),
        cmocka_unit_test(test_unmasked_frame_closes_1002),
        cmocka_unit_test(test_close_code_5000_closes_1002),
        cmocka_unit_test(test_invalid_utf8_close_reason_closes_1007),
        cmocka_unit_test(test_ping_flood_closes_1008),
        cmocka_unit_test(test_silent_peer_is_pinged_then_closed),
        cmocka_unit_test(test_bad_upgrades),
        cmocka_unit_test(test_websocket_from_foreign_origin_is_403),
        cmocka_unit_test(test_websocket_from_allowed_and_own_origin_works),
        cmocka_unit_test(test_cors_headers_and_preflight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
