/* The set of system prompt templates, one per kind of channel, and which channel uses which.
 * web: the chat widget (Markdown allowed); voice: speech (Amazon Lex, Amazon Connect), where
 * the answer is read aloud. A set is immutable once loaded; loading reads files (blocking), so
 * parleyd loads at start-up and, on SIGHUP, on a worker thread (bot/prompt_reload.h). */
#ifndef PARLEY_PROMPTS_PROMPT_TEMPLATES_H
#define PARLEY_PROMPTS_PROMPT_TEMPLATES_H

#include <stddef.h>

#include "prompts/template.h"

enum prompt_template_kind { PROMPT_TEMPLATE_WEB, PROMPT_TEMPLATE_VOICE, PROMPT_TEMPLATE_KINDS };

/* The placeholders a template may use; any other name makes the set invalid. */
#define PROMPT_PLACEHOLDERS                                                                        \
    "assistant_name", "company_name", "caller_name", "policy_number", "channel", "today",          \
        "documents_note"

/** The template's name, which is also its file name without ".txt": "web" or "voice". */
const char *prompt_template_kind_name(enum prompt_template_kind kind);

/**
 * The template of a session's channel (compared without case): "voice", "lex", "connect" and
 * "phone" speak, so they get the voice template; "web", "chat", anything else and no channel
 * (NULL or "") get the web template.
 */
enum prompt_template_kind prompt_channel_template(const char *channel);

struct prompt_templates;

/**
 * Load every template kind: from DIR/NAME.txt when `dir` is not NULL, else the built-in copy.
 * In a folder, web.txt may also be named system.txt (its former name); a kind with no file in
 * the folder uses the built-in template, and `notes` (may be NULL when noteslen is 0) then says
 * so, one "...; " clause per kind (empty when nothing fell back). Every template is parsed and
 * its placeholders checked against PROMPT_PLACEHOLDERS. Returns PL_OK with a new set in *out,
 * or, with *out = NULL and a message naming the file and line in `err`: PL_EINVAL (a template
 * that does not parse, an unknown placeholder, a file too large) or PL_EIO (unreadable).
 * Blocking; thread-safe (touches no shared state).
 */
int prompt_templates_load(const char *dir, struct prompt_templates **out, char *notes,
                          size_t noteslen, char *err, size_t errlen);

/** The template of one kind; never NULL for a loaded set. */
const struct prompt_template *prompt_templates_get(const struct prompt_templates *set,
                                                   enum prompt_template_kind kind);

/** Accepts NULL. */
void prompt_templates_free(struct prompt_templates *set);

#endif
