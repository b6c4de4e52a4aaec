/* Keeping an instance's knowledge base (srv->kb) equal to the documents stored in Redis
 * (sessions/kb_store.h; docs/knowledge.md "Storage and sync"). A loop timer reads the store's
 * version counter every --kb-sync-ms; when it moved, the list of names and versions is read, the
 * documents whose version differs are read, chunked and replace theirs in the index, and those
 * gone from the list leave it. The first run happens at start. Documents of --kb DIR are not
 * stored: the sync never removes one it did not load, but a stored document of the same name
 * replaces it until it is deleted, when the folder's file is read again (off the loop) and
 * served. Loop thread only. */
#ifndef PARLEY_BOT_KB_SYNC_H
#define PARLEY_BOT_KB_SYNC_H

#include <stdint.h>

#include "knowledge/kb_chunk.h"

struct bot_server;
struct kb_sync;

/** Start following the store into `srv->kb` (created when NULL), every `interval_ms` (0: read
 *  once at start only). */
struct kb_sync *kb_sync_start(struct bot_server *srv, uint32_t interval_ms);

/** A document this instance stored itself (POST): put in the index at once, and recorded at
 *  `version` so the next sync does not read it again. Takes `doc`'s contents (cleaned up). */
int kb_sync_apply_put(struct kb_sync *s, struct kb_doc *doc, uint64_t version);
/** A document this instance deleted: out of the index at once. */
void kb_sync_apply_delete(struct kb_sync *s, const char *name);

/** Stop the timer and free (the loop closes the handle). Accepts NULL. */
void kb_sync_stop(struct kb_sync *s);

#endif
