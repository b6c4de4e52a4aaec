/* Exact readers for the few JSON shapes an upstream stream repeats for every token, so a delta
 * is read without building a JSON tree. Each reader accepts only a strict subset of JSON (the
 * layout the service writes) and says "not mine" for anything else: the caller then parses with
 * jansson, which accepts or rejects exactly as JSON says. Whatever a reader accepts, jansson
 * reads the same way. */
#ifndef PARLEY_CONNECTORS_JSON_FAST_H
#define PARLEY_CONNECTORS_JSON_FAST_H

#include <stdbool.h>
#include <stddef.h>

/** The body of a JSON string from `p` (just past its opening quote) up to its closing quote,
 *  unescaped into `out` (at most `max` bytes). Returns the length and sets *end past the
 *  closing quote; -1 for anything outside the subset (\u escapes, raw control bytes, invalid
 *  UTF-8, more than `max` bytes, no closing quote before `limit`). */
long json_fast_string(const char *p, const char *limit, char *out, size_t max, const char **end);

/** True if the `n` bytes at `p` are digits of an index as jansson reads it: a JSON integer
 *  without a leading zero that fits its integer type. */
bool json_fast_index(const char *p, size_t n);

/** From `p`, the digits of an index (json_fast_index) then `after`; returns the position past
 *  `after`, or NULL. */
const char *json_fast_index_then(const char *p, const char *limit, const char *after);

/** True if `p` .. `limit` is exactly `"` + `key` + `":"` + a run of ASCII letters and digits +
 *  `"}`: a padding member ending its object, as Bedrock adds `"p":"abc..."`. */
bool json_fast_padding_end(const char *p, const char *limit, const char *key);

#endif
