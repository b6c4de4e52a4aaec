/* A fake libuv for the turn engine: a clock the test moves, timers fired in due order, check
 * handles run once per loop pass, close callbacks run at the end of a pass. Only the calls the
 * engine makes are defined; the test links no other libuv user. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "tests/unit/turn/seams/seams.h"

#define HANDLES_MAX 256

uv_loop_t fake_loop;

struct fake_handle {
    uv_handle_t *h;
    bool is_check;
    bool active;
    uint64_t due;
    uint64_t repeat;
    uint64_t order; /* start order, for timers due at the same time */
    uv_timer_cb timer_cb;
    uv_check_cb check_cb;
    bool closing;
    uv_close_cb close_cb;
};

static struct fake_handle handles[HANDLES_MAX];
static size_t n_handles;
static uint64_t now = 1000;
static uint64_t starts;

void fake_uv_reset(void)
{
    memset(handles, 0, sizeof(handles));
    n_handles = 0;
    now = 1000;
}

static struct fake_handle *find(const void *h)
{
    for (size_t i = 0; i < n_handles; i++) {
        if (handles[i].h == h)
            return &handles[i];
    }
    return NULL;
}

static struct fake_handle *add(void *h, bool is_check)
{
    struct fake_handle *f = find(h);
    if (!f) {
        if (n_handles == HANDLES_MAX)
            abort();
        f = &handles[n_handles++];
    }
    memset(f, 0, sizeof(*f));
    f->h = h;
    f->is_check = is_check;
    return f;
}

uint64_t uv_now(const uv_loop_t *loop)
{
    (void)loop;
    return now;
}

int uv_timer_init(uv_loop_t *loop, uv_timer_t *t)
{
    (void)loop;
    add(t, false);
    return 0;
}

int uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    struct fake_handle *f = find(t);
    if (!f || f->closing)
        abort();
    f->active = true;
    f->timer_cb = cb;
    f->due = now + timeout;
    f->repeat = repeat;
    f->order = ++starts;
    return 0;
}

int uv_timer_stop(uv_timer_t *t)
{
    struct fake_handle *f = find(t);
    if (f)
        f->active = false;
    return 0;
}

int uv_check_init(uv_loop_t *loop, uv_check_t *c)
{
    (void)loop;
    add(c, true);
    return 0;
}

int uv_check_start(uv_check_t *c, uv_check_cb cb)
{
    struct fake_handle *f = find(c);
    if (!f || f->closing)
        abort();
    f->active = true;
    f->check_cb = cb;
    return 0;
}

int uv_check_stop(uv_check_t *c)
{
    struct fake_handle *f = find(c);
    if (f)
        f->active = false;
    return 0;
}

void uv_close(uv_handle_t *h, uv_close_cb cb)
{
    struct fake_handle *f = find(h);
    if (!f || f->closing)
        abort(); /* closing twice is a bug in the engine */
    f->active = false;
    f->closing = true;
    f->close_cb = cb;
}

int uv_is_closing(const uv_handle_t *h)
{
    struct fake_handle *f = find(h);
    return f && f->closing;
}

static void remove_at(size_t i)
{
    handles[i] = handles[--n_handles];
}

void fake_uv_pass(void)
{
    for (size_t i = 0; i < n_handles; i++) {
        if (handles[i].is_check && handles[i].active)
            handles[i].check_cb((uv_check_t *)handles[i].h);
    }
    bool closed;
    do {
        closed = false;
        for (size_t i = 0; i < n_handles; i++) {
            if (!handles[i].closing)
                continue;
            uv_handle_t *h = handles[i].h;
            uv_close_cb cb = handles[i].close_cb;
            remove_at(i);
            if (cb)
                cb(h);
            closed = true;
            break;
        }
    } while (closed);
}

void fake_uv_advance(uint64_t ms)
{
    uint64_t target = now + ms;
    for (;;) {
        struct fake_handle *next = NULL;
        for (size_t i = 0; i < n_handles; i++) {
            struct fake_handle *f = &handles[i];
            if (f->is_check || !f->active || f->due > target)
                continue;
            if (!next || f->due < next->due || (f->due == next->due && f->order < next->order))
                next = f;
        }
        if (!next)
            break;
        now = next->due;
        uv_timer_t *t = (uv_timer_t *)next->h;
        uv_timer_cb cb = next->timer_cb;
        if (next->repeat) {
            next->due = now + next->repeat;
            next->order = ++starts;
        } else {
            next->active = false;
        }
        cb(t);
        fake_uv_pass();
    }
    now = target;
    fake_uv_pass();
}

size_t fake_uv_open_handles(void)
{
    return n_handles;
}
