/* Line logger for stderr; see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/buf.h"

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

void pl_log_emit(enum pl_log_level level, const char *comp, const char *fmt, ...)
{
    char msg[2048];
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

    if (log_format == PL_LOG_JSON) {
        struct pl_buf b;
        pl_buf_init(&b, sizeof(msg) * 8);
        pl_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":\"", ts, level_names[level]);
        pl_buf_append_json_escaped(&b, comp, strlen(comp));
        pl_buf_append_str(&b, "\",\"msg\":\"");
        pl_buf_append_json_escaped(&b, msg, strlen(msg));
        pl_buf_append_str(&b, "\"}\n");
        fputs(b.data, stderr);
        pl_buf_cleanup(&b);
    } else {
        fprintf(stderr, "%s %-6s %-8s %s\n", ts, level_names[level], comp, msg);
    }
}
