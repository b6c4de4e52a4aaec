/* Lookup in embedded file tables; see embed.h. */
#include "common/embed.h"

#include <string.h>

const struct pl_embedded_file *pl_embedded_find(const struct pl_embedded_file *table,
                                                const char *name)
{
    for (; table && table->name; table++) {
        if (strcmp(table->name, name) == 0)
            return table;
    }
    return NULL;
}
