/* One frame of a session's live channel as a receiving instance reads it (docs/redis-keys.md
 * parley:{SID}:live; bot/desk_fanout.h writes them): a caller's message or a caller-protocol
 * turn_start, delta, error (with its "turn") or turn_end (a streamed one with its "deltas"), as a
 * turn event for the turn engine (turn_tell_remote); or an agent's action
 * ({"type":"agent","kind":K,"agent":A,"turn":N,"ts":MS,"text":S?}) for turn_tell_agent.
 * Anything else, or a frame missing what its type needs, is nothing. I/O-free. */
#ifndef PARLEY_BOT_DESK_FRAME_H
#define PARLEY_BOT_DESK_FRAME_H

#include <stddef.h>

#include "bot/turn/turn_engine.h"

enum desk_frame_kind {
    DESK_FRAME_NONE,  /* not a frame of ours, or not one this version knows */
    DESK_FRAME_TURN,  /* `turn` */
    DESK_FRAME_AGENT, /* `agent` */
};

struct desk_frame {
    enum desk_frame_kind kind;
    struct turn_remote_event turn; /* its pointers into the fields below */
    struct turn_agent_event agent;
    struct turn_end end;
    struct turn_error error;
    /* owned: the parsed JSON the texts point into, and the citations */
    void *_json;
    struct prompt_citation *_cites;
};

/** Read `len` bytes of `data` into `out` (always set; free with desk_frame_cleanup). The texts
 *  point into `out` and live until then. */
void desk_frame_parse(const char *data, size_t len, struct desk_frame *out);
void desk_frame_cleanup(struct desk_frame *f);

#endif
