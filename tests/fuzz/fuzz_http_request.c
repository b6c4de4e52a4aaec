/* libFuzzer target for the HTTP request-head parser (bot/http_parse.h): every byte a stranger
 * sends on the HTTP port goes through it. The input is parsed as a stream of pipelined
 * requests, three ways (whole, split where the first byte says, one byte at a time), and the
 * three must agree on every head and every error; whatever is accepted must satisfy the parser's
 * contract (a token method, an origin-form path, no control characters in any header, a
 * Content-Length that stands alone). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot/http_parse.h"
#include "common/alloc.h"
#include "tests/fuzz/fuzz_check.h"

#define LIMIT 1024 /* small, so that 431 is reached */

static void check_string(const char *s, bool value)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        CHECK(c != '\r' && c != '\n' && c != 0x7f);
        CHECK(c >= 0x20 || (value && c == '\t'));
    }
}

static void check_head(const struct http_head *h)
{
    CHECK(h->method[0] && strlen(h->method) <= HTTP_METHOD_MAX);
    check_string(h->method, false);
    CHECK(!strchr(h->method, ' '));
    CHECK(h->path[0] == '/');
    check_string(h->path, false);
    check_string(h->query, false);
    CHECK(h->version_minor == 0 || h->version_minor == 1);
    CHECK(h->version_minor == 0 || h->has_host);
    CHECK(h->nfields <= HTTP_HEAD_MAX_FIELDS);
    size_t cl = 0, te = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        CHECK(h->fields[i].name[0]);
        check_string(h->fields[i].name, false);
        CHECK(!strchr(h->fields[i].name, ':') && !strchr(h->fields[i].name, ' '));
        check_string(h->fields[i].value, true);
        cl += strcasecmp(h->fields[i].name, "Content-Length") == 0;
        te += strcasecmp(h->fields[i].name, "Transfer-Encoding") == 0;
    }
    CHECK(te == 0);
    CHECK(cl == (h->has_content_length ? 1u : 0u));
    check_string(h->authorization, true);
    check_string(h->origin, true);
}

/* Parse the whole input as pipelined requests fed in pieces of `step` bytes (0: all at once),
 * writing a summary of every head and error into `out`. */
static void run(const uint8_t *data, size_t size, size_t step, struct pl_buf *out)
{
    struct http_parser p;
    http_parser_init(&p, LIMIT);
    size_t off = 0;
    while (off < size) {
        size_t n = step ? step : size - off;
        if (n > size - off)
            n = size - off;
        size_t used;
        int st = http_parser_feed(&p, (const char *)data + off, n, &used);
        CHECK(used <= n);
        if (st == HTTP_PARSE_MORE) {
            CHECK(used == n);
            off += n;
            continue;
        }
        if (st == HTTP_PARSE_ERROR) {
            CHECK(p.error != API_ERR_NONE);
            pl_buf_printf(out, "E%d;", (int)p.error);
            break; /* nothing after an error is read */
        }
        off += used;
        struct http_head head;
        char *store = http_parser_take(&p, &head);
        check_head(&head);
        pl_buf_printf(out, "%s %s?%s 1.%d %zu cl=%llu ka=%d;", head.method, head.path, head.query,
                      head.version_minor, head.nfields, (unsigned long long)head.content_length,
                      head.keep_alive);
        pl_free(store);
        /* Skip the body, as the connection would. */
        if (head.content_length > size - off)
            break;
        off += (size_t)head.content_length;
    }
    http_parser_cleanup(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_split_agrees(run, data, size, size ? 1 + data[0] % 64 : 0, 1 << 20);
    return 0;
}
