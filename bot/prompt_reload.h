/* Reloading the prompt templates on SIGHUP without stopping: the files are read and parsed on a
 * worker thread (uv_queue_work), and a complete, valid set replaces the builder's on the loop
 * thread, together with the other parts read from the same folder (prompt_reload_add: the
 * summary request's template). An invalid file is logged (file and line) and every current part
 * kept: a reload takes all or nothing. Turns build their
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

/* Another part read from the prompts folder and reloaded with the templates. */
struct prompt_reload_part {
    const char *name; /* for the log: "summary" */
    /** Worker thread: read the part from "dir" (NULL: the built-in copy). PL_OK with a new
     *  object, or an error with a message naming the file in "err". */
    int (*load)(const char *dir, void **out, char *err, size_t errlen);
    /** Loop thread: take the new object over. */
    void (*swap)(void *ud, void *obj);
    /** Free an object that was not taken (the reload failed, or shutdown came first). */
    void (*discard)(void *obj);
    void *ud;
};
#define PROMPT_RELOAD_PARTS_MAX 4

/** Reload "part" (copied) with the templates from now on. PL_OK, or PL_ETOOBIG past
 *  PROMPT_RELOAD_PARTS_MAX. Call at start-up, before any SIGHUP. */
int prompt_reload_add(struct prompt_reload *r, const struct prompt_reload_part *part);

/** Stop handling SIGHUP (shutdown). A read in progress finishes and its result is dropped; the
 *  object frees itself once the loop has closed its handle. Accepts NULL; call once. */
void prompt_reload_stop(struct prompt_reload *r);

#endif
