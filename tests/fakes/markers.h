/* The marker grammar every mode of the upstream double reads from the last user message
 * (README.md, "Markers"): [[name]], [[name:N]], and the answer split into tokens. */
#ifndef PARLEY_TESTS_FAKES_MARKERS_H
#define PARLEY_TESTS_FAKES_MARKERS_H

#include <stdbool.h>

#include <jansson.h>

/** True when `text` holds "[[name]]". */
bool fake_has_marker(const char *text, const char *name);
/** The N of "[[name:N]]" in `text` (N >= 0), or `def`. */
long fake_marker_num(const char *text, const char *name, long def);
/** `text` split into tokens, each word with the spaces after it (new array of strings). */
json_t *fake_tokens_of(const char *text);

#endif
