/* The web pages parleyd serves (docs/widget.md): the demo page (/ and /index.html), the widget
 * (/widget.js) and the agent console (/agent, /agent.js). Built into the binary; with --web DIR,
 * each of those files present in DIR replaces the built-in one (a site's own branding or
 * wording), read once at start (before the loop runs: no file I/O on the loop). */
#ifndef PARLEY_BOT_WEB_PAGES_H
#define PARLEY_BOT_WEB_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#define WEB_PAGE_MAX_BYTES (4u * 1024 * 1024)

struct web_pages;

/* One page. Borrowed from the set. */
struct web_page {
    const char *name; /* "widget.js" */
    const unsigned char *data;
    size_t len;
    bool from_dir; /* read from --web DIR, not built in */
};

/** The pages: the built-in ones, each replaced by DIR/NAME when `dir` (may be NULL) holds it.
 *  PL_OK, or PL_EINVAL with a message in `err` naming the folder or file: DIR is not a folder,
 *  a page there is not a regular file, cannot be read, is empty or is larger than
 *  WEB_PAGE_MAX_BYTES. */
int web_pages_load(const char *dir, struct web_pages **out, char *err, size_t errlen);
/** Accepts NULL. */
void web_pages_free(struct web_pages *w);

/** The page called `name`, or NULL. */
const struct web_page *web_pages_find(const struct web_pages *w, const char *name);
/** How many pages came from the folder. */
size_t web_pages_from_dir(const struct web_pages *w);

#endif
