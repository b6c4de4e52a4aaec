/* Buffers with lws headroom; see outbuf.h. */
#include "bot/outbuf.h"

void outbuf_begin(struct pl_buf *b, size_t max, size_t usual)
{
    pl_buf_init(b, LWS_PRE + max);
    pl_buf_reserve(b, LWS_PRE + usual);
    outbuf_restart(b);
}

void outbuf_restart(struct pl_buf *b)
{
    static const char headroom[LWS_PRE];
    pl_buf_reset(b);
    pl_buf_append(b, headroom, LWS_PRE);
}
