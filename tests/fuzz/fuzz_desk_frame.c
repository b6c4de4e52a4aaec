/* libFuzzer target for the frames of a session's live channel as a receiving instance reads
 * them (bot/desk_frame.h): other instances publish them through Redis. What the reader accepts
 * must satisfy its contract (a delta with a seq and its text, an error with a known code and a
 * message, a turn_end with a stop reason, an agent's say with its text), the same input must
 * read the same twice, and a turn event written again by the encoders that publish it
 * (bot/chat_proto.h, bot/agent_proto.h) must read back to the same event. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/agent_proto.h"
#include "bot/chat_proto.h"
#include "bot/desk_frame.h"
#include "common/buf.h"
#include "tests/fuzz/fuzz_check.h"

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Write `f`'s turn event as the publisher does, read it back, and compare. */
static void round_trip(const struct desk_frame *f)
{
    const struct turn_remote_event *ev = &f->turn;
    struct pl_buf b;
    pl_buf_init(&b, 64 * 1024 * 1024);
    switch (ev->kind) {
    case TURN_REMOTE_MESSAGE:
        agent_event_message(&b, "caller", ev->turn, ev->text, ev->len);
        break;
    case TURN_REMOTE_START:
        chat_out_turn_start(&b, ev->turn);
        break;
    case TURN_REMOTE_DELTA:
        chat_out_delta(&b, ev->turn, ev->seq, ev->text, ev->len);
        break;
    case TURN_REMOTE_END:
        chat_out_turn_end(&b, ev->end);
        break;
    case TURN_REMOTE_ERROR:
        pl_buf_cleanup(&b);
        return; /* published with its turn spliced in: checked field by field instead */
    }
    struct desk_frame g;
    desk_frame_parse(b.data ? b.data : "", b.len, &g);
    if (ev->kind == TURN_REMOTE_MESSAGE && ev->len && !b.len) {
        desk_frame_cleanup(&g); /* jansson refused the text (a NUL): nothing was written */
        pl_buf_cleanup(&b);
        return;
    }
    CHECK(g.kind == DESK_FRAME_TURN);
    CHECK(g.turn.kind == ev->kind);
    CHECK(g.turn.turn == ev->turn);
    if (ev->kind == TURN_REMOTE_DELTA || ev->kind == TURN_REMOTE_MESSAGE)
        CHECK(same_bytes(g.turn.text, g.turn.len, ev->text, ev->len));
    if (ev->kind == TURN_REMOTE_DELTA)
        CHECK(g.turn.seq == ev->seq);
    if (ev->kind == TURN_REMOTE_END) {
        const struct turn_end *a = ev->end, *c = g.turn.end;
        CHECK(c->answered_in == a->answered_in);
        CHECK(same_str(c->stop_reason, a->stop_reason));
        CHECK(c->streamed == a->streamed);
        CHECK(c->input_tokens == a->input_tokens && c->output_tokens == a->output_tokens);
        CHECK(c->cost_micros == a->cost_micros);
        if (!a->streamed)
            CHECK(same_bytes(c->text, c->text_len, a->text, a->text_len));
        CHECK(c->n_citations == a->n_citations);
        for (size_t i = 0; i < a->n_citations; i++) {
            CHECK(same_str(c->citations[i].source, a->citations[i].source));
            CHECK(same_str(c->citations[i].title, a->citations[i].title));
        }
    }
    desk_frame_cleanup(&g);
    pl_buf_cleanup(&b);
}

static void check(const struct desk_frame *f)
{
    const struct turn_remote_event *ev = &f->turn;
    if (f->kind == DESK_FRAME_AGENT) {
        CHECK(f->agent.agent != NULL);
        CHECK(f->agent.kind != TURN_AGENT_SAY || f->agent.text != NULL);
        return;
    }
    if (f->kind != DESK_FRAME_TURN)
        return;
    switch (ev->kind) {
    case TURN_REMOTE_MESSAGE:
        CHECK(ev->text != NULL);
        break;
    case TURN_REMOTE_START:
        break;
    case TURN_REMOTE_DELTA:
        CHECK(ev->text != NULL && ev->seq >= 0);
        break;
    case TURN_REMOTE_ERROR:
        CHECK(ev->error && ev->error->code != API_ERR_NONE && ev->error->message);
        break;
    case TURN_REMOTE_END:
        CHECK(ev->end && ev->end->stop_reason && ev->end->text);
        CHECK(ev->end->n_citations == 0 || ev->end->citations);
        for (size_t i = 0; i < ev->end->n_citations; i++)
            CHECK(ev->end->citations[i].source && ev->end->citations[i].title);
        break;
    }
    round_trip(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct desk_frame f, again;
    desk_frame_parse((const char *)data, size, &f);
    desk_frame_parse((const char *)data, size, &again);
    CHECK(f.kind == again.kind);
    CHECK(f.kind != DESK_FRAME_TURN ||
          (f.turn.kind == again.turn.kind && f.turn.turn == again.turn.turn &&
           f.turn.seq == again.turn.seq));
    check(&f);
    desk_frame_cleanup(&again);
    desk_frame_cleanup(&f);
    return 0;
}
