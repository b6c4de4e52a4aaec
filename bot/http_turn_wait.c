/* A wait held by an HTTP request; see http_turn_wait.h. */
#include "bot/http_turn_wait.h"

#include "bot/server.h"
#include "common/alloc.h"

struct http_wait {
    struct http_server_req *r; /* a reference */
    struct turn_wait *wait;
    turn_wait_cb done;
    void (*gone)(void *ud);
    void *ud;
};

static void on_client_gone(struct http_server_req *r)
{
    struct http_wait *hw = r->route_data;
    turn_wait_cancel(hw->wait); /* the turn goes on and is stored */
    if (hw->gone)
        hw->gone(hw->ud);
    http_server_unref(r);
    pl_free(hw);
}

static void on_waited(void *ud, const struct turn_wait_result *res)
{
    struct http_wait *hw = ud;
    struct http_server_req *r = hw->r;
    http_server_release_hooks(r);
    if (res->err)
        r->srv->metrics.rate_limited += res->err == API_ERR_TOO_MANY_MESSAGES;
    else
        r->srv->metrics.messages_total++;
    hw->done(hw->ud, res);
    http_server_unref(r);
    pl_free(hw);
}

enum api_error http_turn_wait(struct http_server_req *r, const struct turn_wait_request *req,
                              turn_wait_cb done, void (*gone)(void *ud), void *ud)
{
    struct http_wait *hw = pl_calloc(1, sizeof(*hw));
    hw->r = r;
    hw->done = done;
    hw->gone = gone;
    hw->ud = ud;
    enum api_error err =
        turn_wait_submit(r->srv->engine, r->srv->loop, req, on_waited, hw, &hw->wait);
    if (err) {
        pl_free(hw);
        return err;
    }
    http_server_ref(r);
    r->route_data = hw;
    r->on_close = on_client_gone;
    return API_ERR_NONE;
}
