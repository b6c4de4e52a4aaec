/* Extra redis-server set-ups for integration tests; see redis_admin.h. */
#include "tests/support/redis_admin.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"

int ts_redis_start_with(struct ts_redis *r, const char *workdir, const char *name,
                        const char *const *extra)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s/%s", workdir, name);
    mkdir(r->dir, 0755);
    r->port = ts_free_port();
    return ts_redis_restart_with(r, extra);
}

int ts_redis_restart_with(struct ts_redis *r, const char *const *extra)
{
    char port[16], log[700];
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    const char *argv[40] = {"/usr/bin/redis-server",
                            "--port",
                            port,
                            "--bind",
                            "127.0.0.1",
                            "--dir",
                            r->dir,
                            "--save",
                            ""};
    size_t n = 9;
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (ts_proc_spawn(&r->proc, "redis-server", (char *const *)argv, NULL, log))
        return -1;
    return ts_wait_port(&r->proc, r->port, 15000);
}

char *ts_redis_query_auth(const struct ts_redis *r, const char *password, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = ts_redis_vquery(r, password, fmt, ap);
    va_end(ap);
    return out;
}

long ts_redis_info_long(const struct ts_redis *r, const char *password, const char *field)
{
    char *info = ts_redis_query_auth(r, password, "INFO");
    if (!info)
        return -1;
    char key[128];
    snprintf(key, sizeof(key), "\n%s:", field);
    const char *p = strstr(info, key);
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    pl_free(info);
    return v;
}
