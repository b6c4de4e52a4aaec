/* redis-server set-ups that the usual fixture (fixtures.h) does not make: a password, a replica,
 * a renamed command; and queries that authenticate. Test code only. */
#ifndef PARLEY_TESTS_SUPPORT_REDIS_ADMIN_H
#define PARLEY_TESTS_SUPPORT_REDIS_ADMIN_H

#include "tests/support/fixtures.h"

/** Start redis-server in `workdir`/`name` on a free port, with no persistence unless `extra`
 *  (NULL-terminated arguments, may be NULL) says otherwise. 0 or -1. */
int ts_redis_start_with(struct ts_redis *r, const char *workdir, const char *name,
                        const char *const *extra);
/** Start it again (after ts_redis_stop) on the same port and folder with `extra`. */
int ts_redis_restart_with(struct ts_redis *r, const char *const *extra);

/** As ts_redis_query (fixtures.h), authenticating with `password` first when not NULL. */
char *ts_redis_query_auth(const struct ts_redis *r, const char *password, const char *fmt, ...);

/** A field of INFO (for example "total_connections_received"), or -1. */
long ts_redis_info_long(const struct ts_redis *r, const char *password, const char *field);

#endif
