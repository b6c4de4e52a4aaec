/* The agent desk's list of sessions (docs/protocol.md "Agent WebSocket", `list`): every
 * session record in Redis, found with SCAN (MATCH parley:{*}:session, so no write path pays for
 * an index), read with HMGET, and ordered for the desk: sessions waiting for an agent first,
 * oldest first, then the others, most recently updated first. Bounded: at most
 * SESS_LIST_SCAN_MAX keys looked at and `max` rows returned. SCAN walks one Redis server: on a
 * cluster it lists the sessions of the node the store is connected to. Loop thread only. */
#ifndef PARLEY_SESSIONS_SESSION_LIST_H
#define PARLEY_SESSIONS_SESSION_LIST_H

#include <stddef.h>

#include "sessions/session_store.h"

#define SESS_LIST_SCAN_MAX 100000

struct sess_list_row {
    char session_id[SESS_ID_LEN + 1];
    char channel[16];
    char state[16]; /* bot, agent, waiting_agent, closed */
    char caller_id[129];
    char caller_name[129];
    long long updated_ms;
    long long waiting_since_ms; /* when it began to wait (updated_ms if not recorded) */
    char last_text[161];
    char reason[129]; /* escalation_reason of a waiting session; "" otherwise */
};

/** `rows` (ordered as above, `n` of them) borrowed for the call; `status` PL_OK or a storage
 *  error (then `n` is 0). */
typedef void (*sess_list_cb)(void *ud, int status, const struct sess_list_row *rows, size_t n);

/** List at most `max` sessions. `cb` runs exactly once, later, when PL_OK is returned; PL_EIO
 *  (cb never runs) when Redis is not reachable. */
int sess_list(struct sess_store *s, size_t max, sess_list_cb cb, void *ud);

/** Read the rows of the `n` sessions `sids` (those that exist; ordered as above): the desk's
 *  live updates (bot/desk_list.h). `cb` runs exactly once, later, when PL_OK is returned; PL_EIO
 *  when Redis is not reachable, PL_EINVAL when no sid is valid. */
int sess_list_read(struct sess_store *s, const char (*sids)[SESS_ID_LEN + 1], size_t n,
                   sess_list_cb cb, void *ud);

/** Order `rows` as the desk shows them (waiting first, oldest first; then newest first). */
void sess_list_sort(struct sess_list_row *rows, size_t n);

#endif
