/* Lua scripts run by session_store.c. Each is atomic in Redis, so a multi-key update (append and
 * number a message, take a lock and read the history) is one round trip and never half-done.
 * KEYS are always the session's own keys (same hash tag), as Redis Cluster requires.
 *
 * Each script's keys and arguments are named once, in a list SESS_<SCRIPT>_ARGS(K, A, s) of
 * K(s, name) for each key, the session's key parley:{SID}:<name> (docs/redis-keys.md), and
 * A(s, name) for each argument; keys and arguments each in call order. `s` is handed to K and A
 * untouched. The list gives both the script's Lua prologue (SESS_LUA_PROLOGUE: one named local
 * per key and argument, so the script's body uses names only) and, through script_args.h, the C
 * indices by which session_store.c sets each argument, so the two sides cannot disagree. */
#ifndef PARLEY_SESSIONS_SESSION_SCRIPTS_H
#define PARLEY_SESSIONS_SESSION_SCRIPTS_H

#define SESS_LUA_NAME(s, name) #name ", "
#define SESS_LUA_SKIP(s, name)
#define SESS_LUA_LOCALS(ARGS, K, A, table) "local " ARGS(K, A, lua) "_ = unpack(" table ")\n"
/* `local session, transcript, _ = unpack(KEYS)`, then the same for ARGV (`_` ends each list). */
#define SESS_LUA_PROLOGUE(ARGS)                                                                    \
    SESS_LUA_LOCALS(ARGS, SESS_LUA_NAME, SESS_LUA_SKIP, "KEYS")                                    \
    SESS_LUA_LOCALS(ARGS, SESS_LUA_SKIP, SESS_LUA_NAME, "ARGV")

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
    X(MODEL, "model")                                                                              \
    X(CITATIONS, "citations")                                                                      \
    X(CACHE_READ, "cache_read_input_tokens")                                                       \
    X(CACHE_CREATION, "cache_creation_input_tokens")                                               \
    X(COST, "cost_usd_micros")                                                                     \
    X(AGENT, "agent")
#define SESS_LUA_FIELD_NAME(id, name) "'" name "', "
#define SESS_LUA_FIELDS               "local FIELDS = {" SESS_ENTRY_FIELDS(SESS_LUA_FIELD_NAME) "}\n"

/* Lua functions shared by the scripts that read the transcript. by_name: a stream entry's
 * fields by name. pack: an entry as one string, its fields in SESS_ENTRY_FIELDS order, each as
 * "<byte length>:<bytes>" (absent fields empty): one reply object per entry instead of two dozen
 * (parsing and freeing hiredis's objects was a quarter of parleyd's CPU per turn). */
#define SESS_LUA_FN_PACK                                                                           \
    SESS_LUA_FIELDS                                                                                \
    "local function by_name(f)\n"                                                                  \
    "  local x = {}\n"                                                                             \
    "  for j = 1, #f, 2 do x[f[j]] = f[j + 1] end\n"                                               \
    "  return x\n"                                                                                 \
    "end\n"                                                                                        \
    "local function pack(x)\n"                                                                     \
    "  local parts = {}\n"                                                                         \
    "  for k, name in ipairs(FIELDS) do\n"                                                         \
    "    local v = x[name] or ''\n"                                                                \
    "    parts[k] = #v .. ':' .. v\n"                                                              \
    "  end\n"                                                                                      \
    "  return table.concat(parts)\n"                                                               \
    "end\n"

/* The newest `max` transcript entries, newest first, packed. Needs SESS_LUA_FN_PACK. */
#define SESS_LUA_FN_HISTORY                                                                        \
    "local function history(transcript, max)\n"                                                    \
    "  local out = {}\n"                                                                           \
    "  for i, e in ipairs(redis.call('XREVRANGE', transcript, '+', '-', 'COUNT', max)) do\n"       \
    "    out[i] = pack(by_name(e[2]))\n"                                                           \
    "  end\n"                                                                                      \
    "  return out\n"                                                                               \
    "end\n"

/* The answer that covers caller turn `turn` (docs/redis-keys.md): among the entries stored after
 * that turn's caller entry, the assistant entry with the smallest turn >= `turn` (an answer
 * covers every caller message its prompt included). Read newest first, 64 entries a page, until
 * the caller entry. Returns the answer packed, or false. Needs SESS_LUA_FN_PACK. */
#define SESS_LUA_FN_COVERING                                                                       \
    "local function covering_answer(transcript, turn)\n"                                           \
    "  turn = tonumber(turn)\n"                                                                    \
    "  local best, best_turn, from = false, nil, '+'\n"                                            \
    "  repeat\n"                                                                                   \
    "    local page = redis.call('XREVRANGE', transcript, from, '-', 'COUNT', 64)\n"               \
    "    for _, e in ipairs(page) do\n"                                                            \
    "      local x = by_name(e[2])\n"                                                              \
    "      local t = tonumber(x.turn)\n"                                                           \
    "      if x.role == 'caller' and t == turn then return best and pack(best) end\n"              \
    "      if x.role == 'assistant' and t and t >= turn and (not best_turn or t <= best_turn) "    \
    "then\n"                                                                                       \
    "        best, best_turn = x, t\n"                                                             \
    "      end\n"                                                                                  \
    "    end\n"                                                                                    \
    "    if #page > 0 then from = '(' .. page[#page][1] end\n"                                     \
    "  until #page < 64\n"                                                                         \
    "  return best and pack(best)\n"                                                               \
    "end\n"

/* Begin caller turn `turn` for `owner`. When the session's `answered` already covers the turn:
 * {'answered', record as flat hash, the covering answer or false}, and no lock is taken (even if
 * another owner holds it). Otherwise take the session's turn lock (re-entrant for the same
 * owner, whose lease it extends): {'locked', record, the newest `max` entries newest first}, or
 * {'held'} when another owner holds it. Needs the three functions above. */
#define SESS_LUA_FN_BEGIN                                                                          \
    "local function begin_turn(session, transcript, lock, owner, lock_ttl, max, turn)\n"           \
    "  if tonumber(redis.call('HGET', session, 'answered') or '0') >= tonumber(turn) then\n"       \
    "    return {'answered', redis.call('HGETALL', session), covering_answer(transcript, turn)}\n" \
    "  end\n"                                                                                      \
    "  if redis.call('HGET', session, 'state') == 'agent' then return {'agent'} end\n"             \
    "  if not redis.call('SET', lock, owner, 'NX', 'PX', lock_ttl) then\n"                         \
    "    if redis.call('GET', lock) ~= owner then return {'held'} end\n"                           \
    "    redis.call('PEXPIRE', lock, lock_ttl)\n"                                                  \
    "  end\n"                                                                                      \
    "  return {'locked', redis.call('HGETALL', session), history(transcript, max)}\n"              \
    "end\n"
#define SESS_LUA_FNS_BEGIN                                                                         \
    SESS_LUA_FN_PACK SESS_LUA_FN_HISTORY SESS_LUA_FN_COVERING SESS_LUA_FN_BEGIN

/* A tenant's usage per day (docs/cost.md, docs/redis-keys.md). add_usage: add a turn's counts
 * (a table of field -> decimal string) to the day's hash, and one to its `turns` when the turn
 * used anything (a refused or failed turn uses nothing); the hash is kept `ttl` seconds.
 * amounts: the tokens and micro-dollars a reservation member "SID:TURN:TOKENS:MICROS"
 * holds. settle: remove a reservation if it is still held and take its amounts off the day's
 * reserved_tokens and reserved_micros. Amounts are taken off as 0 - n: Lua writes -n of a zero as
 * "-0", which HINCRBY refuses. */
#define SESS_LUA_FN_SETTLE                                                                         \
    "local function add_usage(day, usage, ttl)\n"                                                  \
    "  local used = false\n"                                                                       \
    "  for name, n in pairs(usage) do\n"                                                           \
    "    if n ~= '0' then redis.call('HINCRBY', day, name, n); used = true end\n"                  \
    "  end\n"                                                                                      \
    "  if not used then return end\n"                                                              \
    "  redis.call('HINCRBY', day, 'turns', 1)\n"                                                   \
    "  redis.call('EXPIRE', day, ttl)\n"                                                           \
    "end\n"                                                                                        \
    "local function amounts(member)\n"                                                             \
    "  local t, m = string.match(member, ':(%d+):(%d+)$')\n"                                       \
    "  return tonumber(t) or 0, tonumber(m) or 0\n"                                                \
    "end\n"                                                                                        \
    "local function settle(day, reservations, member)\n"                                           \
    "  if redis.call('ZREM', reservations, member) == 1 then\n"                                    \
    "    local t, m = amounts(member)\n"                                                           \
    "    redis.call('HINCRBY', day, 'reserved_tokens', 0 - t)\n"                                   \
    "    redis.call('HINCRBY', day, 'reserved_micros', 0 - m)\n"                                   \
    "  end\n"                                                                                      \
    "end\n"

/* Rate limits (docs/configuration.md "Rate limits", docs/redis-keys.md): a bucket holds `burst`
 * and refills `per_minute` a minute; a request of cost n takes n, or is refused with the time
 * until n are back. Kept as GCRA, in one number: the time (Unix ms, whole) at which the bucket
 * will be full again (absent or past: full). bucket: for the stored time `full_at`, the ms
 * `cost` must wait (0: it may go now) and, when 0, the bucket's next full time. A cost above the
 * burst is charged as the burst, so that it can ever pass. A bucket of its own key (an
 * address's) is set to expire at its full time (store_bucket), so an idle one costs nothing.
 * Every tonumber of a string is a strtod: these run per message, so they parse what they use
 * and no more. */
#define SESS_LUA_FN_RATE                                                                           \
    "local function bucket(full_at, per_minute, burst, cost, now)\n"                               \
    "  local interval = 60000 / per_minute\n"                                                      \
    "  if cost > burst then cost = burst end\n"                                                    \
    "  local t = full_at and tonumber(full_at) or now\n"                                           \
    "  if t < now then t = now end\n"                                                              \
    "  local wait = t + (cost - burst) * interval - now\n"                                         \
    "  if wait > 0 then return math.ceil(wait), nil end\n"                                         \
    "  return 0, math.ceil(t + cost * interval)\n"                                                 \
    "end\n"                                                                                        \
    "local function store_bucket(key, full_at, now)\n"                                             \
    "  redis.call('SET', key, full_at, 'PX', math.max(1, full_at - now))\n"                        \
    "end\n"

/* An anonymous session (empty_ttl not 0) is charged to its creator's address's bucket when the
 * key `address_rate` is given (burst: one minute's worth), and kept only `empty_ttl` seconds
 * until its first caller message (the record says so in `empty_ttl`; the append gives it
 * `ttl`). Returns 1, 0 if the id exists, or {'limited', ms to wait} (nothing created). */
#define SESS_CREATE_ARGS(K, A, s)                                                                  \
    K(s, session)                                                                                  \
    K(s, address_rate) /* parley:addr:{ADDRESS}:sessions, or left out */                           \
    A(s, id)                                                                                       \
    A(s, now)                                                                                      \
    A(s, ttl)                                                                                      \
    A(s, channel)                                                                                  \
    A(s, caller_id)                                                                                \
    A(s, caller_name)                                                                              \
    A(s, policy_number)                                                                            \
    A(s, empty_ttl)                                                                                \
    A(s, address_per_minute)                                                                       \
    A(s, tenant)
#define SESS_LUA_CREATE                                                                            \
    SESS_LUA_FN_RATE                                                                               \
    SESS_LUA_PROLOGUE(SESS_CREATE_ARGS)                                                            \
    "if redis.call('EXISTS', session) == 1 then return 0 end\n"                                    \
    "if address_rate then -- given only when that limit is on\n"                                   \
    "  local n, t = tonumber(address_per_minute), tonumber(now)\n"                                 \
    "  local wait, full_at = bucket(redis.call('GET', address_rate), n, n, 1, t)\n"                \
    "  if wait > 0 then return {'limited', wait} end\n"                                            \
    "  store_bucket(address_rate, full_at, t)\n"                                                   \
    "end\n"                                                                                        \
    "redis.call('HSET', session, 'id', id, 'created', now, 'updated', now,\n"                      \
    "  'channel', channel, 'caller_id', caller_id, 'caller_name', caller_name,\n"                  \
    "  'policy_number', policy_number, 'state', 'bot', 'turns', 0, 'answered', 0,\n"               \
    "  'tenant', tenant)\n"                                                                        \
    "if tonumber(empty_ttl) > 0 then\n"                                                            \
    "  redis.call('HSET', session, 'empty_ttl', empty_ttl)\n"                                      \
    "  ttl = empty_ttl\n"                                                                          \
    "end\n"                                                                                        \
    "redis.call('EXPIRE', session, ttl)\n"                                                         \
    "return 1\n"

/* Returns nil (no session) or {record as flat hash, newest-first packed entries}. Refreshes the
 * session's expiry: `ttl`, or its `empty_ttl` while it has no caller message. */
#define SESS_OPEN_ARGS(K, A, s)                                                                    \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    K(s, client_ids)                                                                               \
    A(s, max_entries)                                                                              \
    A(s, ttl)
#define SESS_LUA_OPEN                                                                              \
    SESS_LUA_FN_PACK                                                                               \
    SESS_LUA_FN_HISTORY                                                                            \
    SESS_LUA_PROLOGUE(SESS_OPEN_ARGS)                                                              \
    "local rec = redis.call('HGETALL', session)\n"                                                 \
    "if #rec == 0 then return false end\n"                                                         \
    "if redis.call('HGET', session, 'turns') == '0' then\n"                                        \
    "  ttl = redis.call('HGET', session, 'empty_ttl') or ttl\n"                                    \
    "end\n"                                                                                        \
    "local entries = history(transcript, max_entries)\n"                                           \
    "for _, k in ipairs({session, transcript, client_ids}) do redis.call('EXPIRE', k, ttl) end\n"  \
    "return {rec, entries}\n"

/* `preview` is the start of `text` for the session list. The message is charged `cost` (itself
 * and the cancels charged with it) in the session's bucket (per_minute 0: no limit), kept in the
 * record's field `rate_full_at`, and, when the key `address_rate` is given, in its sender's
 * address's bucket (burst: one minute's worth), before anything else: a resent message counts
 * too, since it costs a turn's replay. Both buckets must admit it before either is charged. A
 * session holds at most `max_messages` caller messages (so its client_ids too, and its
 * transcript at most twice as many entries): past that a new message is refused, nothing is
 * trimmed. The record is read once (HMGET) and written once (HSET), so the session's own limit
 * and bound cost no Redis command of their own. Returns -1 (no session), {'limited', ms to
 * wait} (refused by a rate limit: nothing stored or charged), -2 (the session is full: nothing
 * stored), {turn, 1} (a duplicate client_id: nothing stored), {turn, 0} (stored) or, when owner
 * is not empty, {turn, 0, begin_turn's result}: the new message's turn begun in the same round
 * trip. */
#define SESS_APPEND_CALLER_ARGS(K, A, s)                                                           \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    K(s, client_ids)                                                                               \
    K(s, lock)                                                                                     \
    K(s, address_rate) /* parley:addr:{ADDRESS}:messages, or left out */                           \
    A(s, client_id)                                                                                \
    A(s, text)                                                                                     \
    A(s, now)                                                                                      \
    A(s, ttl)                                                                                      \
    A(s, preview)                                                                                  \
    A(s, owner)                                                                                    \
    A(s, lock_ttl)                                                                                 \
    A(s, max_entries)                                                                              \
    A(s, cost)
/* The instance's limits, as Lua numbers ahead of the append script (session_store.c prints
 * this line and the script after it): constant for a process, they cost no argument and no
 * parsing per message. per_minute, burst, address_per_minute, max_messages. */
#define SESS_LUA_APPEND_LIMITS                                                                     \
    "local per_minute, burst, address_per_minute, max_messages = %u, %u, %u, %u\n"
#define SESS_LUA_APPEND_CALLER                                                                     \
    SESS_LUA_FNS_BEGIN                                                                             \
    SESS_LUA_FN_RATE                                                                               \
    SESS_LUA_PROLOGUE(SESS_APPEND_CALLER_ARGS)                                                     \
    "local turns, full_at = unpack(redis.call('HMGET', session, 'turns', 'rate_full_at'))\n"       \
    "if not turns then return -1 end\n"                                                            \
    "local t, wait, address_full_at = nil, 0, nil\n"                                               \
    "if per_minute > 0 or address_rate then t, cost = tonumber(now), tonumber(cost) end\n"         \
    "if per_minute > 0 then\n"                                                                     \
    "  wait, full_at = bucket(full_at, per_minute, burst, cost, t)\n"                              \
    "else\n"                                                                                       \
    "  full_at = nil\n"                                                                            \
    "end\n"                                                                                        \
    "if address_rate then -- given only when that limit is on\n"                                   \
    "  local w\n"                                                                                  \
    "  w, address_full_at = bucket(redis.call('GET', address_rate), address_per_minute,\n"         \
    "    address_per_minute, cost, t)\n"                                                           \
    "  if w > wait then wait = w end\n"                                                            \
    "end\n"                                                                                        \
    "if wait > 0 then return {'limited', wait} end\n"                                              \
    "if address_full_at then store_bucket(address_rate, address_full_at, t) end\n"                 \
    "local dup = client_id ~= '' and redis.call('HGET', client_ids, client_id)\n"                  \
    "turns = tonumber(turns)\n"                                                                    \
    "if dup or turns >= max_messages then\n"                                                       \
    "  if full_at then redis.call('HSET', session, 'rate_full_at', full_at) end\n"                 \
    "  if dup then return {tonumber(dup), 1} end\n"                                                \
    "  return -2\n"                                                                                \
    "end\n"                                                                                        \
    "local turn = turns + 1\n"                                                                     \
    "redis.call('XADD', transcript, '*', 'role', 'caller', 'turn', turn, 'text', text,\n"          \
    "  'ts', now, 'client_id', client_id)\n"                                                       \
    "if client_id ~= '' then redis.call('HSET', client_ids, client_id, turn) end\n"                \
    "local record = {'turns', turn, 'updated', now, 'last_text', preview}\n"                       \
    "if full_at then record[7], record[8] = 'rate_full_at', full_at end\n"                         \
    "redis.call('HSET', session, unpack(record))\n"                                                \
    "for _, k in ipairs({session, transcript, client_ids}) do redis.call('EXPIRE', k, ttl) end\n"  \
    "if owner == '' then return {turn, 0} end\n"                                                   \
    "return {turn, 0,\n"                                                                           \
    "  begin_turn(session, transcript, lock, owner, lock_ttl, max_entries, turn)}\n"

/* Returns -1 (no session) or 1. */
#define SESS_APPEND_AGENT_ARGS(K, A, s)                                                            \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    A(s, agent)                                                                                    \
    A(s, text)                                                                                     \
    A(s, now)                                                                                      \
    A(s, ttl)                                                                                      \
    A(s, preview)
#define SESS_LUA_APPEND_AGENT                                                                      \
    SESS_LUA_PROLOGUE(SESS_APPEND_AGENT_ARGS)                                                      \
    "if redis.call('EXISTS', session) == 0 then return -1 end\n"                                   \
    "local turn = redis.call('HGET', session, 'turns')\n"                                          \
    "redis.call('XADD', transcript, '*', 'role', 'agent', 'turn', turn, 'text', text,\n"           \
    "  'ts', now, 'agent', agent)\n"                                                               \
    "redis.call('HSET', session, 'updated', now, 'last_text', preview)\n"                          \
    "for _, k in ipairs({session, transcript}) do redis.call('EXPIRE', k, ttl) end\n"              \
    "return 1\n"

/* Returns -1 (no session) or begin_turn's result. */
#define SESS_TURN_BEGIN_ARGS(K, A, s)                                                              \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    K(s, lock)                                                                                     \
    A(s, owner)                                                                                    \
    A(s, lock_ttl)                                                                                 \
    A(s, max_entries)                                                                              \
    A(s, turn)
#define SESS_LUA_TURN_BEGIN                                                                        \
    SESS_LUA_FNS_BEGIN                                                                             \
    SESS_LUA_PROLOGUE(SESS_TURN_BEGIN_ARGS)                                                        \
    "if redis.call('EXISTS', session) == 0 then return -1 end\n"                                   \
    "return begin_turn(session, transcript, lock, owner, lock_ttl, max_entries, turn)\n"

/* Refreshes no expiry. With `per_minute` not 0, the poll is charged to the session's poll bucket
 * (the record's field `poll_full_at`, burst `burst`): a poll reads up to the whole transcript, so
 * polls that reach Redis are limited like messages. Returns nil (no session), {'limited', ms to
 * wait}, or {record as flat hash, the covering answer packed, or false when `answered` does not
 * cover the turn or the transcript no longer holds its answer}. */
#define SESS_TURN_ANSWER_ARGS(K, A, s)                                                             \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    A(s, turn)                                                                                     \
    A(s, now)                                                                                      \
    A(s, per_minute)                                                                               \
    A(s, burst)
#define SESS_LUA_TURN_ANSWER                                                                       \
    SESS_LUA_FN_PACK                                                                               \
    SESS_LUA_FN_COVERING                                                                           \
    SESS_LUA_FN_RATE                                                                               \
    SESS_LUA_PROLOGUE(SESS_TURN_ANSWER_ARGS)                                                       \
    "local rec = redis.call('HGETALL', session)\n"                                                 \
    "if #rec == 0 then return false end\n"                                                         \
    "if tonumber(per_minute) > 0 then\n"                                                           \
    "  local full_at\n"                                                                            \
    "  for i = 1, #rec, 2 do if rec[i] == 'poll_full_at' then full_at = rec[i + 1] end end\n"      \
    "  local wait, next_full = bucket(full_at, tonumber(per_minute), tonumber(burst), 1,\n"        \
    "                                 tonumber(now))\n"                                            \
    "  if wait > 0 then return {'limited', wait} end\n"                                            \
    "  redis.call('HSET', session, 'poll_full_at', next_full)\n"                                   \
    "end\n"                                                                                        \
    "if tonumber(redis.call('HGET', session, 'answered') or '0') < tonumber(turn) then\n"          \
    "  return {rec, false}\n"                                                                      \
    "end\n"                                                                                        \
    "return {rec, covering_answer(transcript, turn)}\n"

/* Stores the answer unless the turn is already answered; releases the owner's lock. `error_code`
 * is the error code of a turn that failed before any text, else empty; `citations` (a JSON array)
 * is stored only when not empty. A stored answer's usage (four token counts and its cost) is
 * added to the session's totals (record fields usage_*) and, when the keys `tenant_usage` and
 * `tenant_reservations` are given, to its tenant's day (docs/cost.md): the answered check makes
 * both exactly once, however often the store is retried. The turn's budget `reservation` (a
 * member of tenant_reservations, "SID:TURN:TOKENS:MICROS", or empty) is settled whether or not
 * the answer is stored: removed, and its amounts taken off the day's reserved totals, only if
 * it is still there (an expired one was already reclaimed).
 * Returns 1 (stored), 0 (already answered) or -1 (no session). */
#define SESS_TURN_END_ARGS(K, A, s)                                                                \
    K(s, session)                                                                                  \
    K(s, transcript)                                                                               \
    K(s, lock)                                                                                     \
    K(s, tenant_usage)        /* parley:tenant:{TENANT}:usage:DAY, or left out */                  \
    K(s, tenant_reservations) /* parley:tenant:{TENANT}:reservations:DAY */                        \
    A(s, owner)                                                                                    \
    A(s, turn)                                                                                     \
    A(s, text)                                                                                     \
    A(s, stop_reason)                                                                              \
    A(s, input_tokens)                                                                             \
    A(s, output_tokens)                                                                            \
    A(s, cache_read)                                                                               \
    A(s, cache_creation)                                                                           \
    A(s, cost)                                                                                     \
    A(s, model)                                                                                    \
    A(s, provider)                                                                                 \
    A(s, citations)                                                                                \
    A(s, now)                                                                                      \
    A(s, ttl)                                                                                      \
    A(s, preview)                                                                                  \
    A(s, error_code)                                                                               \
    A(s, reservation)                                                                              \
    A(s, usage_ttl)
#define SESS_LUA_TURN_END                                                                          \
    SESS_LUA_FN_SETTLE                                                                             \
    SESS_LUA_PROLOGUE(SESS_TURN_END_ARGS)                                                          \
    "local stored = -1\n"                                                                          \
    "local usage = {input_tokens = input_tokens, output_tokens = output_tokens,\n"                 \
    "  cache_read_input_tokens = cache_read, cache_creation_input_tokens = cache_creation,\n"      \
    "  cost_micros = cost}\n"                                                                      \
    "if redis.call('EXISTS', session) == 1 then\n"                                                 \
    "  stored = 0\n"                                                                               \
    "  local answered = tonumber(redis.call('HGET', session, 'answered') or '0')\n"                \
    "  if answered < tonumber(turn) then\n"                                                        \
    "    local entry = {'role', 'assistant', 'turn', turn, 'text', text, 'ts', now,\n"             \
    "      'stop_reason', stop_reason, 'input_tokens', input_tokens,\n"                            \
    "      'output_tokens', output_tokens, 'cache_read_input_tokens', cache_read,\n"               \
    "      'cache_creation_input_tokens', cache_creation, 'cost_usd_micros', cost,\n"              \
    "      'model', model, 'provider', provider, 'error', error_code}\n"                           \
    "    if citations ~= '' then\n"                                                                \
    "      entry[#entry + 1] = 'citations'\n"                                                      \
    "      entry[#entry + 1] = citations\n"                                                        \
    "    end\n"                                                                                    \
    "    redis.call('XADD', transcript, '*', unpack(entry))\n"                                     \
    "    redis.call('HSET', session, 'answered', turn, 'updated', now)\n"                          \
    "    if preview ~= '' then redis.call('HSET', session, 'last_text', preview) end\n"            \
    "    for name, n in pairs(usage) do\n"                                                         \
    "      if n ~= '0' then redis.call('HINCRBY', session, 'usage_' .. name, n) end\n"             \
    "    end\n"                                                                                    \
    "    for _, k in ipairs({session, transcript}) do redis.call('EXPIRE', k, ttl) end\n"          \
    "    if tenant_usage then add_usage(tenant_usage, usage, usage_ttl) end\n"                     \
    "    stored = 1\n"                                                                             \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "if tenant_reservations and reservation ~= '' then\n"                                          \
    "  settle(tenant_usage, tenant_reservations, reservation)\n"                                   \
    "end\n"                                                                                        \
    "if redis.call('GET', lock) == owner then redis.call('DEL', lock) end\n"                       \
    "return stored\n"

/* Extends the owner's lease; 0 if it holds no lock. */
#define SESS_RENEW_ARGS(K, A, s)                                                                   \
    K(s, lock)                                                                                     \
    A(s, owner)                                                                                    \
    A(s, lock_ttl)
#define SESS_LUA_RENEW                                                                             \
    SESS_LUA_PROLOGUE(SESS_RENEW_ARGS)                                                             \
    "if redis.call('GET', lock) == owner then\n"                                                   \
    "  return redis.call('PEXPIRE', lock, lock_ttl)\n"                                             \
    "end\n"                                                                                        \
    "return 0\n"

/* Deletes the lock if the owner holds it. */
#define SESS_RELEASE_ARGS(K, A, s)                                                                 \
    K(s, lock)                                                                                     \
    A(s, owner)
#define SESS_LUA_RELEASE                                                                           \
    SESS_LUA_PROLOGUE(SESS_RELEASE_ARGS)                                                           \
    "if redis.call('GET', lock) == owner then return redis.call('DEL', lock) end\n"                \
    "return 0\n"

/* Reclaims the reservations of `reservations` whose expiry (their score, Unix ms) is past `now`:
 * turns whose instance stopped before settling them (docs/cost.md, "Budgets"). */
#define SESS_LUA_FN_RECLAIM                                                                        \
    "local function reclaim(day, reservations, now)\n"                                             \
    "  local gone = redis.call('ZRANGEBYSCORE', reservations, '-inf', now)\n"                      \
    "  if #gone == 0 then return end\n"                                                            \
    "  local rt, rm = 0, 0\n"                                                                      \
    "  for _, member in ipairs(gone) do\n"                                                         \
    "    local t, m = amounts(member)\n"                                                           \
    "    rt, rm = rt + t, rm + m\n"                                                                \
    "  end\n"                                                                                      \
    "  redis.call('ZREMRANGEBYSCORE', reservations, '-inf', now)\n"                                \
    "  redis.call('HINCRBY', day, 'reserved_tokens', 0 - rt)\n"                                    \
    "  redis.call('HINCRBY', day, 'reserved_micros', 0 - rm)\n"                                    \
    "end\n"

/* Reserves `tokens` and `micros` of the tenant's day for a turn (member "SID:TURN:TOKENS:MICROS",
 * expiring at `expires`, Unix ms), unless what the day has used plus what is reserved plus this
 * passes a budget (0: none): {'refused', 'tokens' or 'usd', warn}. Otherwise {'reserved', 'ok',
 * warn} (or 'again' for a member already held: a resent reservation is not counted twice).
 * `warn` is 1 when this call found the day's use at or past `warn_percent` of a budget for the
 * first time (the day's field `warned` makes it once per tenant and day, across instances). */
#define SESS_RESERVE_ARGS(K, A, s)                                                                 \
    K(s, usage)                                                                                    \
    K(s, reservations)                                                                             \
    A(s, member)                                                                                   \
    A(s, now)                                                                                      \
    A(s, expires)                                                                                  \
    A(s, tokens)                                                                                   \
    A(s, micros)                                                                                   \
    A(s, budget_tokens)                                                                            \
    A(s, budget_micros)                                                                            \
    A(s, warn_percent)                                                                             \
    A(s, ttl)
#define SESS_LUA_RESERVE                                                                           \
    SESS_LUA_FN_SETTLE                                                                             \
    SESS_LUA_FN_RECLAIM                                                                            \
    SESS_LUA_PROLOGUE(SESS_RESERVE_ARGS)                                                           \
    "local function num(x) return tonumber(x) or 0 end\n"                                          \
    "tokens, micros = tonumber(tokens), tonumber(micros)\n"                                        \
    "budget_tokens, budget_micros = tonumber(budget_tokens), tonumber(budget_micros)\n"            \
    "reclaim(usage, reservations, now)\n"                                                          \
    "local u = redis.call('HMGET', usage, 'input_tokens', 'output_tokens',\n"                      \
    "  'cache_read_input_tokens', 'cache_creation_input_tokens', 'cost_micros',\n"                 \
    "  'reserved_tokens', 'reserved_micros', 'warned')\n"                                          \
    "local used = num(u[1]) + num(u[2]) + num(u[3]) + num(u[4])\n"                                 \
    "local cost, held_tokens, held_micros = num(u[5]), num(u[6]), num(u[7])\n"                     \
    "local warn, p = 0, tonumber(warn_percent)\n"                                                  \
    "if not u[8] and ((budget_tokens > 0 and used * 100 >= budget_tokens * p) or\n"                \
    "    (budget_micros > 0 and cost * 100 >= budget_micros * p)) then\n"                          \
    "  redis.call('HSET', usage, 'warned', 1)\n"                                                   \
    "  redis.call('EXPIRE', usage, ttl)\n"                                                         \
    "  warn = 1\n"                                                                                 \
    "end\n"                                                                                        \
    "if redis.call('ZSCORE', reservations, member) then return {'reserved', 'again', warn} end\n"  \
    "if budget_tokens > 0 and used + held_tokens + tokens > budget_tokens then\n"                  \
    "  return {'refused', 'tokens', warn}\n"                                                       \
    "end\n"                                                                                        \
    "if budget_micros > 0 and cost + held_micros + micros > budget_micros then\n"                  \
    "  return {'refused', 'usd', warn}\n"                                                          \
    "end\n"                                                                                        \
    "redis.call('ZADD', reservations, expires, member)\n"                                          \
    "redis.call('HINCRBY', usage, 'reserved_tokens', tokens)\n"                                    \
    "redis.call('HINCRBY', usage, 'reserved_micros', micros)\n"                                    \
    "for _, k in ipairs({usage, reservations}) do redis.call('EXPIRE', k, ttl) end\n"              \
    "return {'reserved', 'ok', warn}\n"

/* Settles a reservation that no answer will settle (a turn that ended before storing one). */
#define SESS_UNRESERVE_ARGS(K, A, s)                                                               \
    K(s, usage)                                                                                    \
    K(s, reservations)                                                                             \
    A(s, member)
#define SESS_LUA_UNRESERVE                                                                         \
    SESS_LUA_FN_SETTLE                                                                             \
    SESS_LUA_PROLOGUE(SESS_UNRESERVE_ARGS)                                                         \
    "settle(usage, reservations, member)\n"                                                        \
    "return 1\n"

/* A tenant's day as a flat hash (empty when it has no usage), after reclaiming expired
 * reservations so that the reserved totals are current. */
#define SESS_USAGE_ARGS(K, A, s)                                                                   \
    K(s, usage)                                                                                    \
    K(s, reservations)                                                                             \
    A(s, now)
#define SESS_LUA_USAGE                                                                             \
    SESS_LUA_FN_SETTLE                                                                             \
    SESS_LUA_FN_RECLAIM                                                                            \
    SESS_LUA_PROLOGUE(SESS_USAGE_ARGS)                                                             \
    "reclaim(usage, reservations, now)\n"                                                          \
    "return redis.call('HGETALL', usage)\n"

/* Stores a session's summary only if it covers more turns than the stored one (so two instances
 * writing at once never step it back), and adds the usage of the call that wrote it to the
 * session's totals and, when `tenant_usage` is given, its tenant's day (counted as a summary,
 * not a turn), whether or not it was stored: the tokens were spent. Returns 1 (stored), 0 (an
 * equal or newer summary is stored) or -1 (no session: nothing counted). */
#define SESS_SUMMARY_STORE_ARGS(K, A, s)                                                           \
    K(s, session)                                                                                  \
    K(s, tenant_usage) /* parley:tenant:{TENANT}:usage:DAY, or left out */                         \
    A(s, through)                                                                                  \
    A(s, text)                                                                                     \
    A(s, model)                                                                                    \
    A(s, input_tokens)                                                                             \
    A(s, output_tokens)                                                                            \
    A(s, cache_read)                                                                               \
    A(s, cache_creation)                                                                           \
    A(s, cost)                                                                                     \
    A(s, now)                                                                                      \
    A(s, usage_ttl)
#define SESS_LUA_SUMMARY_STORE                                                                     \
    SESS_LUA_PROLOGUE(SESS_SUMMARY_STORE_ARGS)                                                     \
    "if redis.call('EXISTS', session) == 0 then return -1 end\n"                                   \
    "local usage = {input_tokens = input_tokens, output_tokens = output_tokens,\n"                 \
    "  cache_read_input_tokens = cache_read, cache_creation_input_tokens = cache_creation,\n"      \
    "  cost_micros = cost}\n"                                                                      \
    "for name, n in pairs(usage) do\n"                                                             \
    "  if n ~= '0' then\n"                                                                         \
    "    redis.call('HINCRBY', session, 'usage_' .. name, n)\n"                                    \
    "    if tenant_usage then redis.call('HINCRBY', tenant_usage, name, n) end\n"                  \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "if tenant_usage then\n"                                                                       \
    "  redis.call('HINCRBY', tenant_usage, 'summaries', 1)\n"                                      \
    "  redis.call('EXPIRE', tenant_usage, usage_ttl)\n"                                            \
    "end\n"                                                                                        \
    "local stored = tonumber(redis.call('HGET', session, 'summary_through') or '0')\n"             \
    "if tonumber(through) <= stored then return 0 end\n"                                           \
    "redis.call('HSET', session, 'summary', text, 'summary_through', through,\n"                   \
    "  'summary_model', model, 'summary_updated', now)\n"                                          \
    "return 1\n"

/* Every script: X(NAME) for SESS_<NAME>_ARGS and SESS_LUA_<NAME>. */
#define SESS_SCRIPTS(X)                                                                            \
    X(CREATE)                                                                                      \
    X(OPEN)                                                                                        \
    X(APPEND_CALLER)                                                                               \
    X(APPEND_AGENT)                                                                                \
    X(TURN_BEGIN)                                                                                  \
    X(TURN_END)                                                                                    \
    X(TURN_ANSWER)                                                                                 \
    X(RENEW)                                                                                       \
    X(RELEASE)                                                                                     \
    X(RESERVE)                                                                                     \
    X(UNRESERVE)                                                                                   \
    X(USAGE)                                                                                       \
    X(SUMMARY_STORE)

#endif
