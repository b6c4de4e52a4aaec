/* Reloading the prompt templates on SIGHUP without stopping: the files are read and parsed on a
 * worker thread (uv_queue_work), and a complete, valid set replaces the builder's on the loop
 * thread. An invalid set is logged (file and line) and the current one kept. Turns build their
 * prompt whole when they start (prompt_build copies what it uses), so a swap never changes a
 * turn in flight. Loop thread only. */
#ifndef PARLEY_BOT_PROMPT_RELOAD_H
#define PARLEY_BOT_PROMPT_RELOAD_H

#include <uv.h>

struct prompt_builder;
struct prompt_reload;

/**
 * Handle SIGHUP on `loop` from now on: each one reloads the templates of `dir` (copied; NULL:
 * the built-in ones) into `builder`, which must outlive the loop's last run. A SIGHUP during a
 * reload runs one more reload after it. Logs "prompts reloaded from DIR: web, voice" on success.
 * Returns PL_OK, or PL_EIO when the signal handler cannot be installed.
 */
int prompt_reload_start(uv_loop_t *loop, struct prompt_builder *builder, const char *dir,
                        struct prompt_reload **out);

/** Stop handling SIGHUP (shutdown). A read in progress finishes and its result is dropped; the
 *  object frees itself once the loop has closed its handle. Accepts NULL; call once. */
void prompt_reload_stop(struct prompt_reload *r);

#endif
