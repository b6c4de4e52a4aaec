/* The store suites' shared fixture; see store_fixture.h. */
#include "tests/support/store_fixture.h"

#include <stdio.h>

#include "common/err.h"

bool ts_run_until(uv_loop_t *loop, const bool *done, uint64_t ms)
{
    for (uint64_t end = uv_now(loop) + ms; !*done && uv_now(loop) < end;)
        uv_run(loop, UV_RUN_ONCE);
    return *done;
}

void ts_store_url(const struct ts_store *f, char *out, size_t outlen)
{
    snprintf(out, outlen, "redis://127.0.0.1:%d/0", f->redis.port);
}

static void on_store_state(void *ud, bool up)
{
    *(bool *)ud = up;
}

int ts_store_open(struct ts_store *f, const struct sess_store_opts *opts)
{
    struct sess_store_opts o = opts ? *opts : (struct sess_store_opts){.ttl_s = 3600};
    char url[64], err[256];
    ts_store_url(f, url, sizeof(url));
    o.redis_url = url;
    f->up = false;
    uv_loop_init(&f->loop);
    if (sess_store_create(&f->loop, &o, on_store_state, &f->up, &f->store, err, sizeof(err))) {
        fprintf(stderr, "store fixture: %s\n", err);
        f->store = NULL;
        uv_loop_close(&f->loop);
        return -1;
    }
    if (!ts_run_until(&f->loop, &f->up, TS_STORE_CONNECT_MS)) {
        fprintf(stderr, "store fixture: the store did not connect to redis on port %d\n",
                f->redis.port);
        ts_store_close(f);
        return -1;
    }
    return 0;
}

int ts_store_close(struct ts_store *f)
{
    sess_store_destroy(f->store);
    f->store = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return uv_loop_close(&f->loop) == 0 ? 0 : -1;
}

int ts_store_start(struct ts_store *f, const char *name)
{
    if (ts_redis_start(&f->redis, ts_workdir(name)))
        return -1;
    if (ts_store_open(f, NULL) != 0) {
        ts_redis_stop(&f->redis);
        return -1;
    }
    return 0;
}

int ts_store_stop(struct ts_store *f)
{
    int rc = ts_store_close(f);
    ts_redis_stop(&f->redis);
    return rc;
}

struct created {
    bool done;
    int status;
    char *sid;
};

static void on_created(void *ud, int status, const struct sess_record *rec)
{
    struct created *c = ud;
    c->done = true;
    c->status = status;
    if (rec)
        snprintf(c->sid, SESS_ID_LEN + 1, "%s", rec->id);
}

int ts_store_new_session(struct ts_store *f, char sid[SESS_ID_LEN + 1])
{
    struct created c = {.sid = sid};
    int rc = sess_create(f->store, "web", NULL, on_created, &c);
    if (rc != PL_OK)
        return rc;
    return ts_run_until(&f->loop, &c.done, TS_STORE_CONNECT_MS) ? c.status : PL_ETIMEDOUT;
}
