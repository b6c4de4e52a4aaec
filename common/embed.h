/* Files compiled into the binary (cmake/embed_gen.cmake writes the tables), so parleyd needs no
 * data folder at run time: the demo pages, for instance. */
#ifndef PARLEY_COMMON_EMBED_H
#define PARLEY_COMMON_EMBED_H

#include <stddef.h>

struct pl_embedded_file {
    const char *name;          /* file name, no folder */
    const unsigned char *data; /* NUL-terminated for convenience; len excludes the NUL */
    size_t len;
};

/** The entry called `name` in a table ending with a NULL name, or NULL. */
const struct pl_embedded_file *pl_embedded_find(const struct pl_embedded_file *table,
                                                const char *name);

#endif
