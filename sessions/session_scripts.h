/* Lua scripts run by session_store.c. Each is atomic in Redis, so a multi-key update (append and
 * number a message, take a lock and read the history) is one round trip and never half-done.
 * KEYS are always the session's own keys (same hash tag), as Redis Cluster requires. */
#ifndef PARLEY_SESSIONS_SESSION_SCRIPTS_H
#define PARLEY_SESSIONS_SESSION_SCRIPTS_H

/* KEYS: session. ARGV: id, now_ms, ttl_s, channel, caller_id, caller_name, policy_number.
 * Returns 1, or 0 if the id exists. */
#define SESS_LUA_CREATE                                                                            \
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"                                    \
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'created', ARGV[2], 'updated', ARGV[2],\n"         \
    "  'channel', ARGV[4], 'caller_id', ARGV[5], 'caller_name', ARGV[6],\n"                        \
    "  'policy_number', ARGV[7], 'state', 'bot', 'turns', 0, 'answered', 0)\n"                     \
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"                                                     \
    "return 1\n"

/* The fields of a packed transcript entry, in order: X(C name, stream field). The Lua below and
 * session_store.c's unpacking both expand this one list. */
#define SESS_ENTRY_FIELDS(X)                                                                       \
    X(ROLE, "role")                                                                                \
    X(TURN, "turn")                                                                                \
    X(TEXT, "text")                                                                                \
    X(TS, "ts")                                                                                    \
    X(CLIENT_ID, "client_id")                                                                      \
    X(STOP_REASON, "stop_reason")                                                                  \
    X(ERROR, "error")                                                                              \
    X(INPUT_TOKENS, "input_tokens")                                                                \
    X(OUTPUT_TOKENS, "output_tokens")                                                              \
    X(MODEL, "model")
#define SESS_LUA_FIELD_NAME(id, name) "'" name "', "
#define SESS_LUA_FIELDS               "local FIELDS = {" SESS_ENTRY_FIELDS(SESS_LUA_FIELD_NAME) "}\n"

/* A Lua function shared by the scripts that read history: the newest `max` transcript entries,
 * newest first, each packed into one string of its fields in SESS_ENTRY_FIELDS order, each as
 * "<byte length>:<bytes>" (absent fields empty). One reply object per entry instead of two
 * dozen: parsing and freeing hiredis's objects was a quarter of parleyd's CPU per turn. */
#define SESS_LUA_FN_HISTORY                                                                        \
    SESS_LUA_FIELDS                                                                                \
    "local function history(transcript, max)\n"                                                    \
    "  local out = {}\n"                                                                           \
    "  for i, e in ipairs(redis.call('XREVRANGE', transcript, '+', '-', 'COUNT', max)) do\n"       \
    "    local f, byname, parts = e[2], {}, {}\n"                                                  \
    "    for j = 1, #f, 2 do byname[f[j]] = f[j + 1] end\n"                                        \
    "    for k, name in ipairs(FIELDS) do\n"                                                       \
    "      local v = byname[name] or ''\n"                                                         \
    "      parts[k] = #v .. ':' .. v\n"                                                            \
    "    end\n"                                                                                    \
    "    out[i] = table.concat(parts)\n"                                                           \
    "  end\n"                                                                                      \
    "  return out\n"                                                                               \
    "end\n"

/* KEYS: session, transcript, client_ids. ARGV: max_entries, ttl_s.
 * Returns nil (no session) or {record as flat hash, newest-first packed entries}. */
#define SESS_LUA_OPEN                                                                              \
    SESS_LUA_FN_HISTORY                                                                            \
    "local rec = redis.call('HGETALL', KEYS[1])\n"                                                 \
    "if #rec == 0 then return false end\n"                                                         \
    "local entries = history(KEYS[2], ARGV[1])\n"                                                  \
    "for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end\n"                                 \
    "return {rec, entries}\n"

/* A Lua function shared by the scripts that begin a turn: take the session's turn lock for
 * `owner` (re-entrant for the same owner, whose lease it extends) and read the record and the
 * newest `max` transcript entries. Returns 0 if another owner holds the lock, else
 * {record as flat hash, newest-first packed entries}. */
#define SESS_LUA_FN_BEGIN                                                                          \
    SESS_LUA_FN_HISTORY                                                                            \
    "local function begin_turn(session, transcript, lock, owner, ttl, max)\n"                      \
    "  if not redis.call('SET', lock, owner, 'NX', 'PX', ttl) then\n"                              \
    "    if redis.call('GET', lock) ~= owner then return 0 end\n"                                  \
    "    redis.call('PEXPIRE', lock, ttl)\n"                                                       \
    "  end\n"                                                                                      \
    "  return {redis.call('HGETALL', session), history(transcript, max)}\n"                        \
    "end\n"

/* KEYS: session, transcript, client_ids, lock. ARGV: client_id, text, now_ms, ttl_s, preview,
 * owner, lock_ttl_ms, max_entries. Returns -1 (no session), {turn, 1} (a duplicate: nothing
 * stored), {turn, 0} (stored) or, when owner is not empty, {turn, 0, begin_turn's result}: the
 * new message's turn begun in the same round trip. */
#define SESS_LUA_APPEND_CALLER                                                                     \
    SESS_LUA_FN_BEGIN                                                                              \
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"                                   \
    "if ARGV[1] ~= '' then\n"                                                                      \
    "  local t = redis.call('HGET', KEYS[3], ARGV[1])\n"                                           \
    "  if t then return {tonumber(t), 1} end\n"                                                    \
    "end\n"                                                                                        \
    "local turn = redis.call('HINCRBY', KEYS[1], 'turns', 1)\n"                                    \
    "redis.call('XADD', KEYS[2], '*', 'role', 'caller', 'turn', turn, 'text', ARGV[2],\n"          \
    "  'ts', ARGV[3], 'client_id', ARGV[1])\n"                                                     \
    "if ARGV[1] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], turn) end\n"                       \
    "redis.call('HSET', KEYS[1], 'updated', ARGV[3], 'last_text', ARGV[5])\n"                      \
    "for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end\n"                                 \
    "if ARGV[6] == '' then return {turn, 0} end\n"                                                 \
    "return {turn, 0, begin_turn(KEYS[1], KEYS[2], KEYS[4], ARGV[6], ARGV[7], ARGV[8])}\n"

/* KEYS: session, transcript. ARGV: agent, text, now_ms, ttl_s, preview.
 * Returns -1 (no session) or 1. */
#define SESS_LUA_APPEND_AGENT                                                                      \
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"                                   \
    "local turn = redis.call('HGET', KEYS[1], 'turns')\n"                                          \
    "redis.call('XADD', KEYS[2], '*', 'role', 'agent', 'turn', turn, 'text', ARGV[2],\n"           \
    "  'ts', ARGV[3], 'agent', ARGV[1])\n"                                                         \
    "redis.call('HSET', KEYS[1], 'updated', ARGV[3], 'last_text', ARGV[5])\n"                      \
    "for i = 1, 2 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end\n"                                 \
    "return 1\n"

/* KEYS: session, transcript, lock. ARGV: owner, lock_ttl_ms, max_entries.
 * Returns -1 (no session), 0 (lock held by another owner) or {record, newest-first entries}. */
#define SESS_LUA_TURN_BEGIN                                                                        \
    SESS_LUA_FN_BEGIN                                                                              \
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"                                   \
    "return begin_turn(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])\n"

/* KEYS: session, transcript, lock. ARGV: owner, turn, text, stop_reason, input_tokens,
 * output_tokens, model, provider, now_ms, ttl_s, preview, error.
 * Stores the answer unless the turn is already answered; releases the owner's lock.
 * Returns 1 (stored), 0 (already answered) or -1 (no session). */
#define SESS_LUA_TURN_END                                                                          \
    "local stored = -1\n"                                                                          \
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"                                                 \
    "  stored = 0\n"                                                                               \
    "  local answered = tonumber(redis.call('HGET', KEYS[1], 'answered') or '0')\n"                \
    "  if answered < tonumber(ARGV[2]) then\n"                                                     \
    "    redis.call('XADD', KEYS[2], '*', 'role', 'assistant', 'turn', ARGV[2], 'text', "          \
    "ARGV[3],\n"                                                                                   \
    "      'ts', ARGV[9], 'stop_reason', ARGV[4], 'input_tokens', ARGV[5],\n"                      \
    "      'output_tokens', ARGV[6], 'model', ARGV[7], 'provider', ARGV[8], 'error', ARGV[12])\n"  \
    "    redis.call('HSET', KEYS[1], 'answered', ARGV[2], 'updated', ARGV[9])\n"                   \
    "    if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'last_text', ARGV[11]) end\n"          \
    "    for i = 1, 2 do redis.call('EXPIRE', KEYS[i], ARGV[10]) end\n"                            \
    "    stored = 1\n"                                                                             \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end\n"               \
    "return stored\n"

/* KEYS: lock. ARGV: owner, lock_ttl_ms. Extends the owner's lease; 0 if it holds no lock. */
#define SESS_LUA_RENEW                                                                             \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"                                              \
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                                           \
    "end\n"                                                                                        \
    "return 0\n"

/* KEYS: lock. ARGV: owner. Deletes the lock if the owner holds it. */
#define SESS_LUA_RELEASE                                                                           \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"        \
    "return 0\n"

#endif
