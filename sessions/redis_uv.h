/* hiredis on the libuv loop, in place of hiredis's stock libuv adapter: the poll handle is only
 * changed when the wanted events change (the stock adapter restarts it, an epoll_ctl, on every
 * read and write hook), and commands issued during one loop pass are written together just
 * before the loop waits again (uv_prepare): one write for many commands, no WRITABLE arming
 * unless the socket is full. Loop thread only. */
#ifndef PARLEY_SESSIONS_REDIS_UV_H
#define PARLEY_SESSIONS_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/** Attach `ac` to `loop`. REDIS_OK, or REDIS_ERR (already attached, or the fd cannot be
 *  polled). The glue frees itself when hiredis frees the context. */
int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
