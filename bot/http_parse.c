/* HTTP/1.1 request heads, strictly; see http_parse.h. Bytes are taken one at a time until the
 * empty line that ends the head (checking line ends as they come, so a bare LF or CR is refused
 * at once instead of waiting for an end that never comes); the complete head is then split and
 * checked in place. */
#include "bot/http_parse.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/token_list.h"

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 section 5.6.2 */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP and HTAB (RFC 9110 section 5.5); obs-text (0x80-0xFF) is allowed. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Characters of an origin-form request target: visible ASCII but '#' (a fragment is never sent). */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/* uri-host [":" port] (RFC 3986 reg-name, IPv4, bracketed IPv6): no spaces, controls, '/',
 * '@', '?', '#' or quotes. */
static bool is_host_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("-._~!$&'()*+,;=:[]%", c) != NULL;
}

static enum http_parse_status fail(struct http_parser *p, enum api_error error, const char *message)
{
    p->state = HTTP_PARSE_ERROR;
    p->error = error;
    p->message = message;
    return HTTP_PARSE_ERROR;
}

void http_parser_init(struct http_parser *p, size_t limit)
{
    memset(p, 0, sizeof(*p));
    p->limit = limit;
    pl_buf_init(&p->store, limit);
}

void http_parser_cleanup(struct http_parser *p)
{
    if (p)
        pl_buf_cleanup(&p->store);
}

void http_parser_reset(struct http_parser *p)
{
    pl_buf_reset(&p->store);
    p->started = false;
    p->prev = 0;
    p->crlf_run = 0;
    p->state = HTTP_PARSE_MORE;
    p->error = API_ERR_NONE;
    p->message = NULL;
}

const char *http_head_field(const struct http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, name) == 0)
            return h->fields[i].value;
    }
    return NULL;
}

bool http_head_lists(const struct http_head *h, const char *name, const char *token)
{
    for (size_t i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, name) == 0 && token_list_has(h->fields[i].value, token))
            return true;
    }
    return false;
}

/* "METHOD SP target SP HTTP/1.x" at `line` (NUL-terminated, split in place). */
static enum http_parse_status parse_request_line(struct http_parser *p, char *line)
{
    struct http_head *h = &p->head;
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return fail(p, API_ERR_BAD_REQUEST, "malformed request line");
    for (char *c = line; c < sp1; c++) {
        if (!is_tchar((unsigned char)*c))
            return fail(p, API_ERR_BAD_REQUEST, "malformed request line (method)");
    }
    if (sp1 - line > HTTP_METHOD_MAX)
        return fail(p, API_ERR_BAD_REQUEST, "unknown method");
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return fail(p, API_ERR_BAD_REQUEST, "malformed request line");
    for (char *c = target; c < sp2; c++) {
        if (!is_target_char((unsigned char)*c))
            return fail(p, API_ERR_BAD_REQUEST, "malformed request target");
    }
    if (target[0] != '/')
        return fail(p, API_ERR_BAD_REQUEST,
                    "the request target must be a path (origin-form, starting with /)");
    const char *version = sp2 + 1;
    if (strlen(version) != 8 || strncmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return fail(p, API_ERR_BAD_REQUEST, "malformed HTTP version");
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return fail(p, API_ERR_HTTP_VERSION, NULL);
    h->version_minor = version[7] - '0';
    *sp1 = '\0';
    *sp2 = '\0';
    h->method = line;
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        h->query = q + 1;
    }
    h->path = target;
    return HTTP_PARSE_MORE;
}

static enum http_parse_status content_length(struct http_parser *p, const char *v)
{
    struct http_head *h = &p->head;
    if (h->has_content_length)
        return fail(p, API_ERR_BAD_REQUEST, "more than one Content-Length");
    size_t n = strlen(v);
    if (n == 0 || n > HTTP_CONTENT_LENGTH_DIGITS || strspn(v, "0123456789") != n)
        return fail(p, API_ERR_BAD_REQUEST, "Content-Length must be one decimal number");
    uint64_t len = 0;
    for (size_t i = 0; i < n; i++)
        len = len * 10 + (uint64_t)(v[i] - '0');
    h->has_content_length = true;
    h->content_length = len;
    return HTTP_PARSE_MORE;
}

/* One header line (NUL-terminated, split in place). */
static enum http_parse_status parse_field(struct http_parser *p, char *line, unsigned *seen,
                                          bool *transfer_enc, bool *chunked)
{
    struct http_head *h = &p->head;
    if (line[0] == ' ' || line[0] == '\t')
        return fail(p, API_ERR_BAD_REQUEST, "obsolete line folding in headers");
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return fail(p, API_ERR_BAD_REQUEST, "malformed header line");
    for (char *c = line; c < colon; c++) {
        if (!is_tchar((unsigned char)*c))
            return fail(p, API_ERR_BAD_REQUEST,
                        "malformed header name (no whitespace before the colon)");
    }
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *e = v + strlen(v);
    for (char *c = v; c < e; c++) {
        if (!is_value_char((unsigned char)*c))
            return fail(p, API_ERR_BAD_REQUEST, "control character in a header value");
    }
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    if (h->nfields == HTTP_HEAD_MAX_FIELDS)
        return fail(p, API_ERR_HEADERS_TOO_LARGE, "too many header lines");
    h->fields[h->nfields].name = line;
    h->fields[h->nfields].value = v;
    h->nfields++;

    const char *name = line;
    if (!strcasecmp(name, "Content-Length"))
        return content_length(p, v);
    if (!strcasecmp(name, "Transfer-Encoding")) {
        /* Any transfer coding leaves the body's length to it; only chunked is defined for
         * requests, and it is refused (411) after every header was checked. */
        *chunked = !*transfer_enc && strcasecmp(v, "chunked") == 0;
        *transfer_enc = true;
        return HTTP_PARSE_MORE;
    }
    /* Headers that may appear once: a second one is refused. */
    static const struct {
        const char *name;
        size_t offset;
    } once[] = {
        {"Host", offsetof(struct http_head, host)},
        {"Origin", offsetof(struct http_head, origin)},
        {"Authorization", offsetof(struct http_head, authorization)},
        {"Content-Type", offsetof(struct http_head, content_type)},
        {"Sec-WebSocket-Key", offsetof(struct http_head, sec_websocket_key)},
        {"Sec-WebSocket-Version", offsetof(struct http_head, sec_websocket_version)},
    };
    for (unsigned i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
        if (strcasecmp(name, once[i].name) != 0)
            continue;
        if (*seen & (1u << i))
            return fail(p, API_ERR_BAD_REQUEST, "a header that may appear once is repeated");
        *seen |= 1u << i;
        *(const char **)((char *)h + once[i].offset) = v;
        if (i == 0)
            h->has_host = true;
        else if (i == 1)
            h->has_origin = true;
        break;
    }
    return HTTP_PARSE_MORE;
}

/* The head is complete in p->store (ending with CR LF CR LF): split and check it. */
static enum http_parse_status parse_head(struct http_parser *p)
{
    struct http_head *h = &p->head;
    memset(h, 0, sizeof(*h));
    h->method = h->path = h->query = "";
    h->host = h->authorization = h->content_type = h->origin = "";
    h->sec_websocket_key = h->sec_websocket_version = "";
    char *s = p->store.data;
    char *end = s + p->store.len - 2; /* the last CR LF ends the head, not a line */
    bool transfer_enc = false, chunked = false;
    unsigned seen = 0;
    bool first = true;
    while (s < end) {
        char *cr = memchr(s, '\r', (size_t)(end - s));
        /* Line ends were checked as the bytes came: every CR is followed by LF. */
        *cr = '\0';
        if (memchr(s, '\0', (size_t)(cr - s)))
            return fail(p, API_ERR_BAD_REQUEST, "NUL byte in the request head");
        enum http_parse_status st =
            first ? parse_request_line(p, s) : parse_field(p, s, &seen, &transfer_enc, &chunked);
        if (st == HTTP_PARSE_ERROR)
            return st;
        first = false;
        s = cr + 2;
    }
    if (transfer_enc && h->has_content_length)
        return fail(p, API_ERR_BAD_REQUEST, "Content-Length together with Transfer-Encoding");
    if (transfer_enc && !chunked)
        return fail(p, API_ERR_BAD_REQUEST, "unsupported Transfer-Encoding");
    if (chunked)
        return fail(p, API_ERR_LENGTH_REQUIRED, NULL);
    if (h->version_minor == 1 && !h->has_host)
        return fail(p, API_ERR_BAD_REQUEST, "HTTP/1.1 requests need a Host header");
    for (const char *c = h->host; *c; c++) {
        if (!is_host_char((unsigned char)*c))
            return fail(p, API_ERR_BAD_REQUEST, "malformed Host");
    }
    bool close = http_head_lists(h, "Connection", "close");
    h->keep_alive =
        h->version_minor == 1 ? !close : !close && http_head_lists(h, "Connection", "keep-alive");
    h->connection_upgrade = http_head_lists(h, "Connection", "upgrade");
    h->upgrade_websocket = http_head_lists(h, "Upgrade", "websocket");
    h->expect_continue = http_head_lists(h, "Expect", "100-continue");
    p->state = HTTP_PARSE_DONE;
    return HTTP_PARSE_DONE;
}

enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *used)
{
    *used = 0;
    if (p->state != HTTP_PARSE_MORE)
        return (enum http_parse_status)p->state;
    size_t i = 0;
    for (; i < len; i++) {
        char c = data[i];
        /* RFC 9112 section 2.2: CR only as part of CR LF; a bare LF is not accepted either. */
        if (p->prev == '\r' && c != '\n') {
            *used = i + 1;
            return fail(p, API_ERR_BAD_REQUEST, "CR without LF in the request head");
        }
        if (c == '\n' && p->prev != '\r') {
            *used = i + 1;
            return fail(p, API_ERR_BAD_REQUEST, "LF without CR in the request head");
        }
        p->prev = c;
        if (!p->started) {
            if (c == '\r' || c == '\n')
                continue; /* an empty line before the request line */
            p->started = true;
        }
        if (pl_buf_append(&p->store, &c, 1) != PL_OK) {
            *used = i + 1;
            return fail(p, API_ERR_HEADERS_TOO_LARGE, NULL);
        }
        if (c == '\n') {
            if (++p->crlf_run == 2) {
                *used = i + 1;
                return parse_head(p);
            }
        } else if (c != '\r') {
            p->crlf_run = 0;
        }
    }
    *used = len;
    return HTTP_PARSE_MORE;
}

char *http_parser_take(struct http_parser *p, struct http_head *head)
{
    *head = p->head;
    char *store = pl_buf_take(&p->store);
    http_parser_reset(p);
    return store;
}
