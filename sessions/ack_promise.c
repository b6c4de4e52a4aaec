/* The ack promise sentence; see ack_promise.h. The wording is part of docs/protocol.md ("What an
 * ack promises") and docs/security.md: change them together. */
#include "sessions/ack_promise.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"

#define RECOMMENDED "appendonly yes with appendfsync always is recommended"

enum pl_log_level sess_ack_promise(const struct sess_persistence *p, unsigned ack_replicas,
                                   char *out, size_t cap)
{
    struct pl_buf b;
    pl_buf_init(&b, (size_t)-1);
    enum pl_log_level level = PL_LOG_WARN;
    if (!p->known) {
        pl_buf_printf(&b,
                      "what an ack promises could not be checked (CONFIG GET: %s): it depends on "
                      "Redis's appendonly and appendfsync settings; " RECOMMENDED,
                      p->refusal);
    } else if (p->appendonly && strcmp(p->fsync, "always") == 0) {
        level = PL_LOG_NOTICE;
        pl_buf_append_str(&b, "acks survive a Redis crash and a power loss: Redis writes each "
                              "message to its append-only file and fsyncs it before it answers "
                              "(appendonly yes, appendfsync always)");
    } else if (p->appendonly && strcmp(p->fsync, "everysec") == 0) {
        pl_buf_append_str(&b, "acks survive a Redis process crash but not a power loss or an OS "
                              "crash, which can lose up to about 1 s of acknowledged messages "
                              "(appendonly yes, appendfsync everysec); appendfsync always is "
                              "recommended");
    } else if (p->appendonly) {
        pl_buf_printf(&b,
                      "acks survive a Redis process crash but not a power loss or an OS crash, "
                      "which can lose what the OS had not yet written, often 30 s of "
                      "acknowledged messages (appendonly yes, appendfsync %s); appendfsync "
                      "always is recommended",
                      p->fsync);
    } else if (p->save[0]) {
        pl_buf_printf(
            &b,
            "acks survive only until the next snapshot: a Redis crash or restart loses "
            "every message since the last RDB save (appendonly no, save \"%s\"); " RECOMMENDED,
            p->save);
    } else {
        pl_buf_append_str(&b, "none: acks are in Redis's memory only, and a Redis restart loses "
                              "every conversation (appendonly no, no save rules); " RECOMMENDED);
    }
    if (ack_replicas > 0)
        pl_buf_printf(&b,
                      ". Each ack also waits until %u replica%s confirmed the message (WAIT, "
                      "--ack-replicas), so it survives losing this Redis when such a replica "
                      "takes over",
                      ack_replicas, ack_replicas == 1 ? "" : "s");
    snprintf(out, cap, "%s", b.data ? b.data : "");
    pl_buf_cleanup(&b);
    return level;
}
