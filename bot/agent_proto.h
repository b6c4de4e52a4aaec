/* Wire format of the agent protocol (docs/protocol.md "Agent WebSocket", subprotocol
 * parley.agent.v1): the validating parser of agent frames and the encoders of what only agents
 * get. Session events (history, turn_start, delta, turn_end, error) are the caller protocol's
 * frames (bot/chat_proto.h) with "session_id" added first: agent_out_for_session. Pure functions
 * with no I/O; bot/agent.c does the sending. */
#ifndef PARLEY_BOT_AGENT_PROTO_H
#define PARLEY_BOT_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "bot/chat_proto.h"
#include "common/buf.h"
#include "sessions/session_list.h"
#include "sessions/session_store.h"

/* ---- server to agent ---- */

/** {"type":"ready","agent":SUB,"role":ROLE,"max_watches":N} */
void agent_out_ready(struct pl_buf *b, const char *agent, const char *role, unsigned max_watches);
/** {"type":"sessions","sessions":[{"session_id":SID,"channel":C,"state":S,"caller":{"id":I,
 *  "name":N},"updated":MS,"last_text":T[,"reason":R,"waiting_since":MS]}...]}: the desk's list, in
 * the order given; caller fields "" are null; "reason" (when known) and "waiting_since" only for a
 *  waiting_agent session. */
void agent_out_sessions(struct pl_buf *b, const struct sess_list_row *rows, size_t n);
/** {"type":"session_update", then the row's fields as `sessions` gives them}: a session of the
 *  list changed (bot/desk_list.h). */
void agent_out_session_row(struct pl_buf *b, const struct sess_list_row *r);
/** {"type":"handoff","session_id":SID,"packet":PACKET}: told to the agent who took the session
 *  over (bot/handoff.h); `packet` (a new reference, taken) NULL: {}. */
void agent_out_handoff(struct pl_buf *b, const char *sid, json_t *packet);
/** {"type":"message","role":ROLE,"turn":N,"text":S}: a line of the conversation as it is
 *  stored (a caller's message; later agents' lines), before "session_id" is added. */
void agent_event_message(struct pl_buf *b, const char *role, long turn, const char *text,
                         size_t len);
/** {"type":"message","role":"agent","turn":N,"text":S,"agent":A}: an agent's line (say). */
void agent_event_agent_message(struct pl_buf *b, const char *agent, long turn, const char *text,
                               size_t len);
/** {"type":"audit","agent":A,"action":X,"turn":N,"ts":MS}: an agent's action on the session
 *  (watch, takeover, release), as its audit entry records it. */
void agent_event_audit(struct pl_buf *b, const char *agent, const char *action, long turn,
                       long long ts_ms);
/** {"type":"session_update","session_id":SID,"state":S[,"agent":A]}: the session's state after
 *  this agent's takeover or release; `agent` NULL or "": none. */
void agent_out_session_state(struct pl_buf *b, const char *sid, const char *state,
                             const char *agent);
/** {"type":"unwatched","session_id":SID}: the watch is over (answer to unwatch). */
void agent_out_unwatched(struct pl_buf *b, const char *sid);
/** The caller-protocol frame `frame` (`len` bytes, a JSON object beginning with '{') as an
 *  agent event: {"session_id":SID, ...the frame's fields...}. `b` left as it was if `frame`
 *  is not an object or the buffer's maximum would be passed. */
void agent_out_for_session(struct pl_buf *b, const char *sid, const char *frame, size_t len);

/* ---- agent to server ---- */

enum agent_in_type {
    AGENT_IN_HELLO,
    AGENT_IN_LIST,
    AGENT_IN_WATCH,
    AGENT_IN_UNWATCH,
    AGENT_IN_TAKEOVER,
    AGENT_IN_SAY,
    AGENT_IN_RELEASE,
};

struct agent_in {
    enum agent_in_type type;
    char *token;                      /* hello: new, never NULL */
    char session_id[SESS_ID_LEN + 1]; /* watch, unwatch, takeover, say, release */
    char *text;                       /* say: new, NUL-terminated */
    size_t text_len;
};

/** Parse and validate one text frame under `lim` (the caller protocol's limits: frame bytes,
 *  and the text of `say` in code points). PL_OK: `*out` filled (free with agent_in_cleanup).
 *  PL_EINVAL: `err` says why (API_ERR_TOO_LARGE or API_ERR_BAD_REQUEST) and `*out` holds
 *  nothing to free. A session_id must be 32 lower-case hex characters. Unknown fields are
 *  ignored. */
int agent_in_parse(const char *data, size_t len, const struct chat_limits *lim,
                   struct agent_in *out, struct chat_error *err);

/** Free the strings of `in` and clear it. Accepts NULL. */
void agent_in_cleanup(struct agent_in *in);

#endif
