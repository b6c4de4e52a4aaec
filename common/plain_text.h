/* An answer as plain text for a channel that shows or speaks text as it is (Connect prompts and
 * attributes, Lex messages): Markdown marks (** __ ` and heading #s, list bullets at a line's
 * start) left out, citation marks ("[kb:NAME#N]", "[policy:N]": the documents an answer names
 * for the transcript and the agent, not words to say) left out, control characters and line
 * breaks made spaces, runs of spaces made one, none at either end, bytes that are not UTF-8
 * left out. I/O-free; fuzzed through tests/fuzz/fuzz_connect_event.c. */
#ifndef PARLEY_COMMON_PLAIN_TEXT_H
#define PARLEY_COMMON_PLAIN_TEXT_H

#include <stddef.h>

/** The plain text of `len` bytes at `s` (new string). */
char *pl_plain_text(const char *s, size_t len);

#endif
