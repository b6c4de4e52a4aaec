/* From a session's record and transcript to the model request of one turn: maps transcript
 * entries to prompt history, renders the system template (prompts/) and trims to the budget. */
#ifndef PARLEY_BOT_TURN_PROMPT_H
#define PARLEY_BOT_TURN_PROMPT_H

#include <stddef.h>

#include "bot/server.h"
#include "prompts/prompt.h"
#include "sessions/session_store.h"

struct turn_prompt {
    struct prompt request; /* valid until turn_prompt_cleanup */
    void *_storage;
};

/** Load the system template (built-in, or --prompts DIR/system.txt). PL_EINVAL with `err`. */
int turn_prompt_setup(struct bot_server *srv, char *err, size_t errlen);
void turn_prompt_teardown(struct bot_server *srv);

/** Build the request answering caller turn `turn` from the transcript `entries` (oldest first;
 *  entries after that turn are ignored). PL_ENOTFOUND if the turn's caller message is not
 *  among them. */
int turn_prompt_build(struct bot_server *srv, const struct sess_record *rec,
                      const struct sess_entry *entries, size_t n, long turn,
                      struct turn_prompt *out);
void turn_prompt_cleanup(struct turn_prompt *p);

#endif
