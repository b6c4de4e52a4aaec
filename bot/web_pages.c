/* The web pages; see web_pages.h. */
#include "bot/web_pages.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/embed.h"
#include "common/err.h"

extern const struct pl_embedded_file embed_web[];

static const char *const page_names[] = {"index.html", "widget.js", "agent.html", "agent.js"};
#define N_PAGES (sizeof(page_names) / sizeof(page_names[0]))

struct web_pages {
    struct web_page pages[N_PAGES];
    unsigned char *owned[N_PAGES]; /* the copies read from the folder */
};

/* Read DIR/NAME into p when it exists. */
static int read_page(const char *dir, struct web_page *p, unsigned char **owned, char *err,
                     size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, p->name) >= sizeof(path)) {
        snprintf(err, errlen, "--web %s: the folder's path is too long", dir);
        return PL_EINVAL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return PL_OK; /* not there: the built-in page */
        snprintf(err, errlen, "--web: cannot read %s: %s", path, strerror(errno));
        return PL_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "--web: %s is not a regular file", path);
        return PL_EINVAL;
    }
    if (st.st_size == 0 || (unsigned long long)st.st_size > WEB_PAGE_MAX_BYTES) {
        snprintf(err, errlen, "--web: %s is %lld bytes; a page is 1 byte to %u MiB", path,
                 (long long)st.st_size, WEB_PAGE_MAX_BYTES / (1024 * 1024));
        return PL_EINVAL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--web: cannot read %s: %s", path, strerror(errno));
        return PL_EINVAL;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *data = pl_malloc(size + 1);
    size_t got = fread(data, 1, size, f);
    int bad = ferror(f) || got != size || fgetc(f) != EOF; /* it changed while read */
    fclose(f);
    if (bad) {
        pl_free(data);
        snprintf(err, errlen, "--web: %s could not be read whole (did it change meanwhile?)", path);
        return PL_EINVAL;
    }
    data[size] = '\0';
    *owned = data;
    p->data = data;
    p->len = size;
    p->from_dir = true;
    return PL_OK;
}

int web_pages_load(const char *dir, struct web_pages **out, char *err, size_t errlen)
{
    struct web_pages *w = pl_calloc(1, sizeof(*w));
    for (size_t i = 0; i < N_PAGES; i++) {
        const struct pl_embedded_file *e = pl_embedded_find(embed_web, page_names[i]);
        w->pages[i] = (struct web_page){.name = page_names[i],
                                        .data = e ? e->data : (const unsigned char *)"",
                                        .len = e ? e->len : 0};
    }
    if (dir && *dir) {
        struct stat st;
        int rc = stat(dir, &st);
        if (rc != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "--web %s: %s", dir,
                     rc != 0 ? strerror(errno) : "not a folder (the pages' folder is expected)");
            web_pages_free(w);
            return PL_EINVAL;
        }
        for (size_t i = 0; i < N_PAGES; i++) {
            if (read_page(dir, &w->pages[i], &w->owned[i], err, errlen) != PL_OK) {
                web_pages_free(w);
                return PL_EINVAL;
            }
        }
    }
    *out = w;
    return PL_OK;
}

void web_pages_free(struct web_pages *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < N_PAGES; i++)
        pl_free(w->owned[i]);
    pl_free(w);
}

const struct web_page *web_pages_find(const struct web_pages *w, const char *name)
{
    for (size_t i = 0; w && i < N_PAGES; i++)
        if (strcmp(w->pages[i].name, name) == 0)
            return &w->pages[i];
    return NULL;
}

size_t web_pages_from_dir(const struct web_pages *w)
{
    size_t n = 0;
    for (size_t i = 0; w && i < N_PAGES; i++)
        n += w->pages[i].from_dir;
    return n;
}
