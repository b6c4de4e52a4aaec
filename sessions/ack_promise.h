/* What an ack promises (docs/protocol.md, "What an ack promises"). An ack means the message is
 * in Redis; how long it stays there through failures depends on Redis's persistence settings,
 * which parleyd reads with CONFIG GET each time it connects, and on --ack-replicas. This turns
 * those settings into the sentence parleyd logs. Pure: no I/O. */
#ifndef PARLEY_SESSIONS_ACK_PROMISE_H
#define PARLEY_SESSIONS_ACK_PROMISE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

/* Redis's persistence settings as CONFIG GET reported them. */
struct sess_persistence {
    bool known;        /* CONFIG GET answered all three; otherwise `refusal` says why not */
    bool appendonly;   /* appendonly yes */
    char fsync[16];    /* appendfsync: always, everysec or no */
    char save[128];    /* save rules ("" when RDB snapshots are off) */
    char refusal[200]; /* when !known: Redis's error (CONFIG renamed, disabled or denied) */
};

/** Write into out[cap] what an ack promises under `p` with `ack_replicas` (--ack-replicas), as
 *  one or two sentences for the log, and return how loudly to log it: PL_LOG_NOTICE when acks
 *  survive a power loss (appendfsync always), PL_LOG_WARN otherwise or when it could not be
 *  checked. */
enum pl_log_level sess_ack_promise(const struct sess_persistence *p, unsigned ack_replicas,
                                   char *out, size_t cap);

#endif
