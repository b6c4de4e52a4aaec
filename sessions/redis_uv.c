/* hiredis on libuv with batched writes; see redis_uv.h. */
#include "sessions/redis_uv.h"

#include <stdbool.h>

#include "common/alloc.h"

struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis let go of us */
    uv_poll_t poll;
    uv_prepare_t flush;
    int armed;         /* events the poll handle watches now */
    int wanted;        /* events hiredis wants */
    bool write_queued; /* commands wait for the flush before the loop blocks */
    bool flushing;     /* inside our own redisAsyncHandleWrite */
    int open_handles;
};

static void on_poll(uv_poll_t *h, int status, int events);

static void sync_poll(struct redis_uv *r)
{
    if (r->wanted == r->armed)
        return;
    r->armed = r->wanted;
    if (r->armed)
        uv_poll_start(&r->poll, r->armed, on_poll);
    else
        uv_poll_stop(&r->poll);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct redis_uv *r = h->data;
    if (status < 0)
        events = r->armed; /* let hiredis find the error on the socket */
    if (r->ac && (events & UV_READABLE))
        redisAsyncHandleRead(r->ac);
    if (r->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(r->ac);
}

static void on_flush(uv_prepare_t *p)
{
    struct redis_uv *r = p->data;
    uv_prepare_stop(&r->flush);
    if (!r->write_queued || !r->ac)
        return;
    r->write_queued = false;
    r->flushing = true;
    redisAsyncHandleWrite(r->ac); /* may free the context (write error) */
    if (r->ac)
        r->flushing = false;
}

static void add_read(void *privdata)
{
    struct redis_uv *r = privdata;
    r->wanted |= UV_READABLE;
    sync_poll(r);
}

static void del_read(void *privdata)
{
    struct redis_uv *r = privdata;
    r->wanted &= ~UV_READABLE;
    sync_poll(r);
}

static void add_write(void *privdata)
{
    struct redis_uv *r = privdata;
    /* Connected and not called back from our own flush (which means the socket took only part
     * of the buffer): write before the loop waits. Otherwise (connecting, or the socket is
     * full) wait until the socket is writable. */
    if ((r->ac->c.flags & REDIS_CONNECTED) && !r->flushing) {
        if (!r->write_queued) {
            r->write_queued = true;
            uv_prepare_start(&r->flush, on_flush);
        }
        return;
    }
    r->wanted |= UV_WRITABLE;
    sync_poll(r);
}

static void del_write(void *privdata)
{
    struct redis_uv *r = privdata;
    r->wanted &= ~UV_WRITABLE;
    sync_poll(r);
}

static void on_closed(uv_handle_t *h)
{
    struct redis_uv *r = h->data;
    if (--r->open_handles == 0)
        pl_free(r);
}

static void cleanup(void *privdata)
{
    struct redis_uv *r = privdata;
    r->ac = NULL;
    uv_prepare_stop(&r->flush);
    uv_close((uv_handle_t *)&r->poll, on_closed);
    uv_close((uv_handle_t *)&r->flush, on_closed);
}

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    struct redis_uv *r = pl_calloc(1, sizeof(*r));
    if (uv_poll_init(loop, &r->poll, ac->c.fd) != 0) {
        pl_free(r);
        return REDIS_ERR;
    }
    uv_prepare_init(loop, &r->flush);
    r->poll.data = r;
    r->flush.data = r;
    r->open_handles = 2;
    r->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = r;
    return REDIS_OK;
}
