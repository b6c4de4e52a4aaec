/* A session store on the test's own libuv loop against a real redis-server: the set-up and
 * tear-down the store suites share (start redis-server, create the store, run the loop until it
 * is connected; destroy it, run the loop until every handle is closed, stop redis-server).
 * Test code only. */
#ifndef PARLEY_TESTS_SUPPORT_STORE_FIXTURE_H
#define PARLEY_TESTS_SUPPORT_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sessions/session_store.h"
#include "tests/support/fixtures.h"

#define TS_STORE_CONNECT_MS 10000

struct ts_store {
    struct ts_redis redis;
    uv_loop_t loop;
    struct sess_store *store;
    bool up; /* the store's last reported state */
};

/** Start redis-server in ts_workdir(`name`) and open a store on it (ts_store_open with a TTL of
 *  an hour). 0, or -1 with nothing left running. */
int ts_store_start(struct ts_store *f, const char *name);
/** ts_store_close, then stop redis-server; 0, or -1 when the loop would not close. */
int ts_store_stop(struct ts_store *f);

/** On `f->redis`, already started: initialise the loop, create a store with `opts` (its
 *  redis_url is filled in; NULL: a TTL of an hour) and run the loop until the store is up, at
 *  most TS_STORE_CONNECT_MS. 0, or -1 with the loop closed again. */
int ts_store_open(struct ts_store *f, const struct sess_store_opts *opts);
/** Destroy the store, run the loop until every handle is closed and close it; 0, or -1 when
 *  the loop would not close (a handle left open). */
int ts_store_close(struct ts_store *f);

/** "redis://127.0.0.1:PORT/0" of `f->redis`, for more clients of the same Redis. */
void ts_store_url(const struct ts_store *f, char *out, size_t outlen);

/** Create a session ("web" channel) and run the loop until it is made: PL_OK with its id in
 *  `sid`, the store's error, or PL_ETIMEDOUT after TS_STORE_CONNECT_MS. */
int ts_store_new_session(struct ts_store *f, char sid[SESS_ID_LEN + 1]);

/** Run `loop` until *done, at most `ms`; the final *done. */
bool ts_run_until(uv_loop_t *loop, const bool *done, uint64_t ms);

#endif
