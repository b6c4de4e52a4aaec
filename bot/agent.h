/* The agent WebSocket (docs/protocol.md "Agent WebSocket", GET /v1/agent, subprotocol
 * parley.agent.v1): one agent_conn per connection. hello with an agent or admin token, then
 * watch sessions: each watch reads the session's history and then is a listener of the
 * session in the turn engine (bot/turn/turn_engine.h), whose events reach the agent as the
 * caller protocol's frames with "session_id" added (bot/agent_proto.h). The connection and its
 * limits (hello deadline and attempts, frame size, bounded send queue) are the caller
 * WebSocket's, one module (bot/json_ws.h); plus --agent-max-watches. Loop thread only. */
#ifndef PARLEY_BOT_AGENT_H
#define PARLEY_BOT_AGENT_H

struct ws_endpoint;

/** The agent protocol on GET /v1/agent: an entry of the server's WebSocket table. */
extern const struct ws_endpoint agent_ws_endpoint;

#endif
