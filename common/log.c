/* Line logger for stderr; see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/redact.h"
#include "common/utf8.h"

#define MSG_MAX 2048

enum pl_log_level pl_log_threshold = PL_LOG_INFO;
static enum pl_log_format log_format = PL_LOG_TEXT;

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void pl_log_setup(enum pl_log_level level, enum pl_log_format format)
{
    pl_log_threshold = level;
    log_format = format;
}

bool pl_log_level_parse(const char *s, enum pl_log_level *out)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum pl_log_level)i;
            return true;
        }
    }
    return false;
}

/* The code point of the well-formed `k`-byte sequence at `p`. */
static uint32_t decode(const unsigned char *p, size_t k)
{
    if (k == 1)
        return p[0];
    uint32_t cp = p[0] & (0xFF >> (k + 1));
    for (size_t i = 1; i < k; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    return cp;
}

/* Characters that are not control characters but can still rewrite what a terminal shows: C1
 * controls (U+009B is CSI), line separators, and bidirectional overrides. */
static bool is_hidden_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Append the `n` bytes at `s`, escaped for `format` (see pl_log_format_line). */
static void put_escaped(struct pl_buf *b, enum pl_log_format format, const char *s, size_t n)
{
    const bool json = format == PL_LOG_JSON;
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && !(json && c == '"')) {
            i++; /* nearly every byte: settle it first */
            continue;
        }
        size_t k = c < 0x80 ? 1 : pl_utf8_seq_len(s + i, n - i);
        uint32_t cp = k ? decode((const unsigned char *)s + i, k) : 0;
        if (k > 1 && !is_hidden_control(cp)) {
            i += k;
            continue;
        }
        pl_buf_append(b, s + start, i - start);
        if (k > 1) {
            pl_buf_printf(b, "\\u%04x", (unsigned)cp);
        } else if (k == 0) {
            if (json)
                pl_buf_append_str(b, "\\ufffd");
            else
                pl_buf_printf(b, "\\x%02x", c);
        } else {
            switch (c) {
            case '\\':
            case '"':
                pl_buf_printf(b, "\\%c", c);
                break;
            case '\n':
                pl_buf_append_str(b, "\\n");
                break;
            case '\r':
                pl_buf_append_str(b, "\\r");
                break;
            case '\t':
                pl_buf_append_str(b, "\\t");
                break;
            default:
                pl_buf_printf(b, json ? "\\u%04x" : "\\x%02x", c);
            }
        }
        i += k ? k : 1;
        start = i;
    }
    pl_buf_append(b, s + start, n - start);
}

void pl_log_format_line(struct pl_buf *out, enum pl_log_format format, const char *ts,
                        enum pl_log_level level, const char *comp, const char *msg)
{
    struct pl_buf clean;
    pl_buf_init(&clean, MSG_MAX * 4);
    pl_redact_secrets(&clean, msg, strlen(msg));
    const char *text = clean.data ? clean.data : "";
    const char *name =
        (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level] : "?";
    if (format == PL_LOG_JSON) {
        pl_buf_printf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":\"", ts, name);
        put_escaped(out, format, comp, strlen(comp));
        pl_buf_append_str(out, "\",\"msg\":\"");
        put_escaped(out, format, text, clean.len);
        pl_buf_append_str(out, "\"}\n");
    } else {
        pl_buf_printf(out, "%s %-6s ", ts, name);
        size_t before = out->len;
        put_escaped(out, format, comp, strlen(comp));
        for (size_t w = out->len - before; w < 8; w++)
            pl_buf_append_str(out, " ");
        pl_buf_append_str(out, " ");
        put_escaped(out, format, text, clean.len);
        pl_buf_append_str(out, "\n");
    }
    pl_buf_cleanup(&clean);
}

void pl_log_emit(enum pl_log_level level, const char *comp, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    struct pl_buf line;
    pl_buf_init(&line, MSG_MAX * 32);
    pl_log_format_line(&line, log_format, ts, level, comp, msg);
    if (line.data)
        fwrite(line.data, 1, line.len, stderr);
    pl_buf_cleanup(&line);
}
