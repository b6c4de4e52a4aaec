/* Prompt templates: a small mustache-like language. {{name}} inserts a value, {{#name}}..{{/name}}
 * keeps its inside when the value is present and non-empty, {{^name}}..{{/name}} when it is not,
 * {{! text }} is a comment. A line holding only one section or comment tag (and blanks) is removed
 * whole, so such tags can sit on their own lines without leaving empty lines behind. Internal to
 * prompts/: the rest of Parley uses prompts/prompt.h. */
#ifndef PARLEY_PROMPTS_TEMPLATE_H
#define PARLEY_PROMPTS_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* A parsed template; immutable once parsed, so one may be rendered any number of times. */
struct prompt_template;

/* One named value for rendering. Both strings borrowed for the call. */
struct prompt_var {
    const char *name;
    const char *value; /* NULL = absent */
};

/**
 * Parse `len` bytes of template text (copied; `text` is borrowed).
 * Names are [a-z0-9_]+; blanks around a name inside the braces are allowed ("{{ name }}").
 * Returns PL_OK with a new template in *out (free with prompt_template_free), or PL_EINVAL with
 * *out = NULL and a message "line N: ..." in `err` (may be NULL when errlen is 0) for: an
 * unclosed "{{", an unknown tag ("{{{x}}}", "{{&x}}", "{{>x}}", "{{=x}}", empty tag), a name
 * outside [a-z0-9_]+, a section closed that is not open (or closed under another name), or a
 * section left open at the end (reported at its opening line).
 */
int prompt_template_parse(const char *text, size_t len, struct prompt_template **out, char *err,
                          size_t errlen);

/** Free a template. Accepts NULL. */
void prompt_template_free(struct prompt_template *t);

/**
 * Append the template rendered with `vars` (n_vars entries; the first entry with a name wins)
 * to `out`. {{name}} inserts the value verbatim: no escaping, and a value is never interpreted
 * as template text. An absent or unknown name inserts nothing. Returns PL_OK, or PL_ETOOBIG when
 * `out` would pass its maximum; `out` is then left as it was before the call.
 */
int prompt_template_render(const struct prompt_template *t, const struct prompt_var *vars,
                           size_t n_vars, struct pl_buf *out);

/** Whether `name` appears in a tag of `t` ({{name}}, {{#name}} or {{^name}}). */
bool prompt_template_uses(const struct prompt_template *t, const char *name);

/**
 * Check that every {{name}}, {{#name}} and {{^name}} of `t` is one of the n_known names of
 * `known`. PL_OK, or PL_EINVAL with "line N: unknown placeholder \"name\"" in `err` for the
 * first one that is not.
 */
int prompt_template_check_names(const struct prompt_template *t, const char *const *known,
                                size_t n_known, char *err, size_t errlen);

/**
 * Load template `name` ([a-z0-9_]+, e.g. "system"): from the file DIR/NAME.txt when `dir` is
 * not NULL (a blocking read: call at start-up only), else from the copy built into the program
 * (prompts/templates/NAME.txt at build time). Returns PL_OK with a new template in *out, or,
 * with *out = NULL and a message naming the file in `err`: PL_ENOTFOUND (no such file or
 * built-in template), PL_EINVAL (bad name, parse error, file too large), PL_EIO (unreadable).
 */
int prompt_template_load(const char *dir, const char *name, struct prompt_template **out, char *err,
                         size_t errlen);

#endif
