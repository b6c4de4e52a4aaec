/* Cutting a long answer into the messages a channel takes (Lex V2: 1 to 1024 characters a
 * message; PROTOCOLS.md section 4.2): pieces of at most `max_chars` code points, cut after the
 * last sentence end (. ! ? or an ellipsis, followed by a space, or a line break) that falls in
 * the second half of the window, else at its last space, else (one word longer than the window,
 * such as a long link) at a code point boundary. Never inside a UTF-8 sequence, never inside a word
 * when a space allows otherwise. Spaces and line breaks at a cut are left out, so no piece starts
 * or ends with one, and no piece is empty. I/O-free. */
#ifndef PARLEY_COMMON_TEXT_SPLIT_H
#define PARLEY_COMMON_TEXT_SPLIT_H

#include <stddef.h>

struct text_span {
    size_t off; /* bytes from the start of the text */
    size_t len; /* bytes */
};

/** Split the `len` bytes at `s` into pieces of at most `max_chars` (>= 1) code points (a byte
 *  that is not UTF-8 counts as one). The first `cap` pieces go into `out`; returns how many
 *  there are in all (0 for a text of nothing but spaces), which may be more than `cap`. */
size_t text_split(const char *s, size_t len, size_t max_chars, struct text_span *out, size_t cap);

#endif
