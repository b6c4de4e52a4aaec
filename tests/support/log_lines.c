/* Log file helpers for integration tests; see log_lines.h. */
#include "tests/support/log_lines.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"

char *ts_log_read(const struct ts_proc *p)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_str(&b, "");
    FILE *f = fopen(p->log_path, "rb");
    if (f) {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            pl_buf_append(&b, chunk, n);
        fclose(f);
    }
    return pl_buf_take(&b);
}

int ts_log_count(const struct ts_proc *p, const char *needle)
{
    char *log = ts_log_read(p);
    int n = 0;
    for (char *line = log; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(line, needle))
            n++;
        if (!nl)
            break;
        line = nl + 1;
    }
    pl_free(log);
    return n;
}

bool ts_log_wait(const struct ts_proc *p, const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        if (ts_log_count(p, needle) > 0)
            return true;
        if (waited >= timeout_ms)
            return false;
        poll(NULL, 0, 20);
    }
}
