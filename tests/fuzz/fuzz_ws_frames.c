/* libFuzzer target for the server's WebSocket frame decoder (common/ws_rx.h): every byte a
 * caller sends after the handshake goes through it. The input is decoded three ways (whole, in
 * pieces whose size the first byte picks, one byte at a time), which must agree event for event;
 * and every event must keep the decoder's contract: control payloads of at most 125 bytes, close
 * codes an endpoint may send, messages that start before they continue and end once, nothing
 * after a failure, and failures with 1002 or 1007 only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "common/ws_rx.h"
#include "tests/fuzz/fuzz_check.h"

static void run(const uint8_t *data, size_t size, size_t step, struct pl_buf *out)
{
    char *copy = pl_malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct ws_rx d;
    ws_rx_init(&d);
    bool in_msg = false, failed = false;
    size_t off = 0;
    while (off < size && !failed) {
        size_t end = step && step < size - off ? off + step : size;
        while (off < end && !failed) {
            struct ws_rx_event ev;
            size_t used = ws_rx_next(&d, copy + off, end - off, &ev);
            CHECK(used <= end - off);
            off += used;
            switch (ev.kind) {
            case WS_RX_NONE:
                CHECK(off == end);
                goto next_piece;
            case WS_RX_FAIL:
                CHECK(ev.close_code == 1002 || ev.close_code == 1007);
                CHECK(ev.reason && ev.reason[0]);
                pl_buf_printf(out, "F%u;", ev.close_code);
                failed = true;
                break;
            case WS_RX_CONTROL:
                CHECK(ev.len <= 125);
                CHECK(ev.opcode == WS_PING || ev.opcode == WS_PONG || ev.opcode == WS_CLOSE);
                if (ev.opcode == WS_CLOSE) {
                    CHECK(ev.close_code == 1005 || ws_close_code_valid(ev.close_code));
                    CHECK(ev.close_code != 1005 || ev.len == 0);
                    CHECK(pl_utf8_valid(ev.reason ? ev.reason : "", ev.reason_len));
                }
                pl_buf_printf(out, "C%d:%zu;", ev.opcode, ev.len);
                pl_buf_append(out, ev.data ? ev.data : "", ev.len);
                break;
            case WS_RX_DATA:
                CHECK(ev.opcode == WS_TEXT || ev.opcode == WS_BINARY);
                CHECK(ev.first == !in_msg);
                in_msg = !ev.final;
                /* Pieces differ with the split; their bytes and the message ends do not. */
                if (ev.first)
                    pl_buf_printf(out, "D%d:", ev.opcode);
                pl_buf_append(out, ev.data, ev.len);
                if (ev.final)
                    pl_buf_append_str(out, ";");
                break;
            }
        }
    next_piece:;
    }
    if (failed) {
        struct ws_rx_event ev;
        CHECK(ws_rx_next(&d, copy, size, &ev) == 0 && ev.kind == WS_RX_FAIL);
    }
    pl_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_split_agrees(run, data, size, size ? 1 + data[0] % 32 : 0, 1 << 22);
    return 0;
}
