/* The checks every client JSON frame goes through, whichever protocol reads it (the caller's,
 * bot/chat_proto.h, and the agent's, bot/agent_proto.h): the frame's size, UTF-8, one JSON
 * object without duplicate members; a message text's shape and length; and error messages that
 * quote the client's input only as whole UTF-8 characters. I/O-free. */
#ifndef PARLEY_BOT_JSON_IN_H
#define PARLEY_BOT_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "bot/chat_proto.h"

#define JSON_IN_QUOTED_BYTES 40 /* longest piece of a client's input quoted back in an error */

/** Fill `err`; the message is cut back to whole UTF-8 characters if it had to be truncated or
 *  quotes something that is not UTF-8. */
void json_in_error(struct chat_error *err, enum api_error code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** How many bytes of `s` to quote: its first JSON_IN_QUOTED_BYTES or fewer, ending on a
 *  character boundary (for "%.*s"). */
int json_in_quoted_len(const char *s);

/** The frame as one JSON object (a new reference), or NULL with `err` filled: too large (over
 *  `max_bytes`), not UTF-8, not JSON (a NUL in a string said as such), or not an object
 *  (`example` names a frame to send instead, such as {"type":"hello"}). */
json_t *json_in_object(const char *data, size_t len, size_t max_bytes, const char *example,
                       struct chat_error *err);

/** The required string member "text" of `root` for a `frame` frame: no NUL, not only white
 *  space, at most `max_chars` code points (`too_long_hint`, may be "", is added to that error).
 *  On PL_OK `*text` and `*len` point into `root`; otherwise PL_EINVAL with `err` filled. */
int json_in_text(json_t *root, const char *frame, size_t max_chars, const char *too_long_hint,
                 const char **text, size_t *len, struct chat_error *err);

/** Optional string member: absent or null leaves *dst NULL. false if of another type. */
bool json_in_opt_string(json_t *obj, const char *key, json_t **dst);

#endif
